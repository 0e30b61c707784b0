using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Tests;

/// <summary>The group APIs through our own wire layer: which broker answers for which group.</summary>
public sealed class GroupWireTests : IClassFixture<EmbeddedClusterFixture>
{
    private readonly EmbeddedClusterFixture _fixture;

    public GroupWireTests(EmbeddedClusterFixture fixture) => _fixture = fixture;

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<KafkaProtocolClient> ConnectAsync() => KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
    {
        BootstrapServers = Cluster.BootstrapServers,
        RequestTimeout = TimeSpan.FromSeconds(15),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    }, Ct);

    private static JoinGroupRequest Join(string groupId, string memberId) => new()
    {
        GroupId = groupId,
        MemberId = memberId,
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 10_000,
        ProtocolType = "consumer",
        Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = new byte[] { 0, 0 } }],
    };

    [Fact]
    public async Task Only_the_coordinator_answers_for_a_group_and_each_broker_lists_its_own_groups()
    {
        string groupId = EmbeddedClusterFixture.UniqueName("wire-group");
        int coordinator = Cluster.State.CoordinatorFor(groupId);
        string otherGroup;
        do
        {
            otherGroup = EmbeddedClusterFixture.UniqueName("wire-other");
        }
        while (Cluster.State.CoordinatorFor(otherGroup) == coordinator);
        int elsewhere = Cluster.Brokers.Select(b => b.NodeId).First(id => id != coordinator);
        await using var client = await ConnectAsync();

        var find = await client.SendAsync(new FindCoordinatorRequest { CoordinatorKeys = [groupId] }, elsewhere, ConnectionPurpose.General, Ct);
        find.Coordinators.Single().NodeId.Should().Be(coordinator);

        var refused = await client.SendAsync(Join(groupId, ""), elsewhere, ConnectionPurpose.General, Ct);
        ((ErrorCode)refused.ErrorCode).Should().Be(ErrorCode.NotCoordinator);

        var needId = await client.SendAsync(Join(groupId, ""), coordinator, ConnectionPurpose.General, Ct);
        ((ErrorCode)needId.ErrorCode).Should().Be(ErrorCode.MemberIdRequired);
        var joined = await client.SendAsync(Join(groupId, needId.MemberId), coordinator, ConnectionPurpose.General, Ct);
        ((ErrorCode)joined.ErrorCode).Should().Be(ErrorCode.None);
        joined.GenerationId.Should().Be(1);
        joined.Leader.Should().Be(needId.MemberId);

        var heartbeat = await client.SendAsync(new HeartbeatRequest { GroupId = groupId, GenerationId = 1, MemberId = needId.MemberId }, elsewhere, ConnectionPurpose.General, Ct);
        ((ErrorCode)heartbeat.ErrorCode).Should().Be(ErrorCode.NotCoordinator);

        var fetched = await client.SendAsync(new OffsetFetchRequest
        {
            Groups =
            [
                new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = groupId, Topics = null },
                new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = otherGroup, Topics = null },
            ],
        }, coordinator, ConnectionPurpose.General, Ct);
        fetched.Groups.Select(g => (g.GroupId, (ErrorCode)g.ErrorCode)).Should().Equal((groupId, ErrorCode.None), (otherGroup, ErrorCode.NotCoordinator));

        foreach (var broker in Cluster.Brokers)
        {
            var listed = await client.SendAsync(new ListGroupsRequest(), broker.NodeId, ConnectionPurpose.General, Ct);
            listed.Groups.Any(g => g.GroupId == groupId).Should().Be(broker.NodeId == coordinator, $"broker {broker.NodeId} lists only the groups it coordinates");
        }

        var described = await client.SendAsync(new DescribeGroupsRequest { Groups = [groupId, otherGroup] }, coordinator, ConnectionPurpose.General, Ct);
        described.Groups.Select(g => (ErrorCode)g.ErrorCode).Should().Equal(ErrorCode.None, ErrorCode.NotCoordinator);
        described.Groups[0].GroupState.Should().Be("CompletingRebalance");
    }
}
