using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>The wire layer against librdkafka's mock cluster (a broker nobody here wrote).</summary>
public sealed class MockClusterWireTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private readonly LibrdkafkaMockClusterFixture _fixture;

    public MockClusterWireTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    private KafkaClientOptions Options => KafkaClientOptions.Default with
    {
        BootstrapServers = _fixture.BootstrapServers,
        RequestTimeout = TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Bootstrap_negotiates_versions_and_lists_every_broker()
    {
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, TestContext.Current.CancellationToken);
        client.Metadata.Brokers.Select(b => b.NodeId).Should().BeEquivalentTo(_fixture.Cluster.BrokerIds);
        client.Metadata.ControllerId.Should().Be(1);

        var versions = await client.GetApiVersionsAsync(1, TestContext.Current.CancellationToken);
        // The mock answers ApiVersions v3+ with UNSUPPORTED_VERSION and a body we cannot parse, so
        // getting here at all proves the v0 fallback; the table must list what the mock implements.
        versions.BrokerRange(ApiKey.Produce).Should().NotBeNull();
        versions.Select(new ProduceRequest()).Should().Be(10, "the mock implements Produce up to v10");
        versions.Select(new JoinGroupRequest()).Should().Be(5, "the fixture clamps JoinGroup to v5");
        versions.TrySelect(new CreateTopicsRequest(), out _).Should().BeFalse("the mock implements no admin API");
    }

    [Fact]
    public async Task Metadata_reports_topics_partitions_and_leaders()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("meta");
        _fixture.Cluster.CreateTopic(topic, partitions: 4, replicationFactor: 3);
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, TestContext.Current.CancellationToken);

        var metadata = await client.RefreshMetadataAsync([topic], TestContext.Current.CancellationToken);

        var t = metadata.Topics[topic];
        t.Error.Should().Be(ErrorCode.None);
        t.Partitions.Should().HaveCount(4);
        t.Partitions.Select(p => p.LeaderId).Should().Equal(Enumerable.Range(0, 4).Select(_fixture.Cluster.DefaultLeader));
        t.Partitions.Should().OnlyContain(p => p.Replicas.Count == 3);
    }

    [Fact]
    public async Task Unsupported_api_fails_with_a_typed_error_before_anything_is_sent()
    {
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, TestContext.Current.CancellationToken);
        var act = () => client.SendAsync(new DescribeAclsRequest(), 1, ConnectionPurpose.General, TestContext.Current.CancellationToken);
        await act.Should().ThrowAsync<UnsupportedVersionException>();
        // The connection is still usable afterwards.
        var metadata = await client.RefreshMetadataAsync([], TestContext.Current.CancellationToken);
        metadata.Brokers.Should().NotBeEmpty();
    }

    [Fact]
    public async Task Many_pipelined_requests_on_one_connection_all_complete_in_order()
    {
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, TestContext.Current.CancellationToken);
        var tasks = Enumerable.Range(0, 200)
            .Select(_ => client.SendAsync(new MetadataRequest { Topics = [] }, 2, ConnectionPurpose.General, TestContext.Current.CancellationToken))
            .ToList();
        var responses = await Task.WhenAll(tasks);
        responses.Should().OnlyContain(r => r.Brokers.Count == _fixture.Cluster.BrokerCount);
    }
}
