using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

public sealed class GroupAdminTests
{
    [Fact]
    public void Describe_shows_a_stable_group_with_members_metadata_and_assignments()
    {
        using var h = new GroupHarness();
        var (members, _) = h.StableGroup("g", 2, topics: ["orders"]);

        var response = h.Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = ["g"], IncludeAuthorizedOperations = true }, 5, Ct).Done();
        RoundTrip(response, 5);
        var group = response.Groups.Single();
        group.ErrorCode.Should().Be(0);
        group.GroupState.Should().Be("Stable");
        group.ProtocolType.Should().Be("consumer");
        group.ProtocolData.Should().Be("range");
        group.AuthorizedOperations.Should().BeGreaterThan(0);
        group.Members.Select(m => m.MemberId).Should().Equal(members);
        group.Members[0].ClientId.Should().Be("client-0");
        group.Members[0].ClientHost.Should().Be("/127.0.0.1");
        group.Members[0].MemberMetadata.ToArray().Should().Equal(Subscription("orders"));
        group.Members[1].MemberAssignment.ToArray().Should().Equal(Assignment("assignment-of-" + members[1]));

        // Outside Stable, no metadata nor assignment is shown.
        h.Leave("g", (members[1], null));
        var rebalancing = h.Describe("g");
        rebalancing.GroupState.Should().Be("PreparingRebalance");
        rebalancing.ProtocolData.Should().BeEmpty();
        rebalancing.Members.Single().MemberAssignment.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void Describe_reports_missing_groups_as_dead_or_not_found_from_v6()
    {
        using var h = new GroupHarness();
        var old = h.Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = ["missing"] }, 5, Ct).Done();
        old.Groups.Single().ErrorCode.Should().Be(0);
        old.Groups.Single().GroupState.Should().Be("Dead");

        var v6 = h.Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = ["missing"] }, 6, Ct).Done();
        RoundTrip(v6, 6);
        v6.Groups.Single().ErrorCode.Should().Be((short)ErrorCode.GroupIdNotFound);
        v6.Groups.Single().ErrorMessage.Should().Contain("missing");

        var v0 = h.Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = ["missing"] }, 0, Ct).Done();
        RoundTrip(v0, 0);
    }

    [Fact]
    public void List_groups_filters_by_state_and_type()
    {
        using var h = new GroupHarness();
        h.StableGroup("stable", 1);
        h.Coordinator.OffsetCommitAsync(new OffsetCommitRequest
        {
            GroupId = "offsets-only",
            Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 1 }] }],
        }, 9, Ct).Done();

        var all = h.Coordinator.ListGroupsAsync(new ListGroupsRequest(), 5, Ct).Done();
        RoundTrip(all, 5);
        all.ErrorCode.Should().Be(0);
        all.Groups.Select(g => (g.GroupId, g.ProtocolType, g.GroupState, g.GroupType)).Should().Equal(
            ("offsets-only", "", "Empty", "classic"),
            ("stable", "consumer", "Stable", "classic"));

        var stableOnly = h.Coordinator.ListGroupsAsync(new ListGroupsRequest { StatesFilter = ["stable"] }, 4, Ct).Done();
        stableOnly.Groups.Select(g => g.GroupId).Should().Equal("stable");
        var consumerType = h.Coordinator.ListGroupsAsync(new ListGroupsRequest { TypesFilter = ["consumer"] }, 5, Ct).Done();
        consumerType.Groups.Should().BeEmpty("only classic groups exist here");
        var v0 = h.Coordinator.ListGroupsAsync(new ListGroupsRequest(), 0, Ct).Done();
        RoundTrip(v0, 0).Groups.Should().HaveCount(2);
    }

    [Fact]
    public void Delete_groups_deletes_only_empty_groups_and_their_offsets()
    {
        using var h = new GroupHarness();
        var (members, _) = h.StableGroup("busy", 1);
        h.Coordinator.OffsetCommitAsync(new OffsetCommitRequest
        {
            GroupId = "idle",
            Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 9 }] }],
        }, 9, Ct).Done();

        var response = h.Coordinator.DeleteGroupsAsync(new DeleteGroupsRequest { GroupsNames = ["busy", "idle", "missing"] }, 2, Ct).Done();
        RoundTrip(response, 2);
        response.Results.Select(r => (r.GroupId, (ErrorCode)r.ErrorCode)).Should().Equal(
            ("busy", ErrorCode.NonEmptyGroup), ("idle", ErrorCode.None), ("missing", ErrorCode.GroupIdNotFound));

        h.Describe("idle").GroupState.Should().Be("Dead");
        var fetched = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest { GroupId = "idle", Topics = [new() { Name = "t", PartitionIndexes = [0] }] }, 7, Ct).Done();
        fetched.Topics.Single().Partitions.Single().CommittedOffset.Should().Be(-1);

        // Once its members leave, the busy group can be deleted, and a later join starts afresh.
        h.Leave("busy", (members[0], null));
        (h.Coordinator.DeleteGroupsAsync(new DeleteGroupsRequest { GroupsNames = ["busy"] }, 2, Ct).Done()).Results.Single().ErrorCode.Should().Be(0);
        var (_, join) = h.JoinNew("busy");
        (join.Done()).GenerationId.Should().Be(1);
    }
}
