using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

/// <summary>KIP-345 static membership: group.instance.id.</summary>
public sealed class StaticMembershipTests
{
    /// <summary>A Stable group of static members "i-a" (leader) and "i-b"; returns their member ids and the generation.</summary>
    private static (string A, string B, int Generation) StableStaticGroup(GroupHarness h)
    {
        var joinA = h.JoinAsync(JoinRequest("g", instanceId: "i-a", topics: ["orders"]), clientId: "a").Done();
        joinA.ErrorCode.Should().Be(0, "static members skip MEMBER_ID_REQUIRED");
        joinA.MemberId.Should().StartWith("i-a-");
        var joinB = h.JoinAsync(JoinRequest("g", instanceId: "i-b"), clientId: "b");
        var rejoinA = h.JoinAsync(JoinRequest("g", joinA.MemberId, instanceId: "i-a", topics: ["orders"]), clientId: "a").Done();
        var responseB = joinB.Done();
        int generation = rejoinA.GenerationId;
        rejoinA.Leader.Should().Be(joinA.MemberId);
        rejoinA.Members.Select(m => m.GroupInstanceId).Should().Equal("i-a", "i-b");

        var syncB = h.SyncAsync("g", responseB.MemberId, generation, instanceId: "i-b");
        (h.SyncAsync("g", joinA.MemberId, generation,
            new() { [joinA.MemberId] = Assignment("A"), [responseB.MemberId] = Assignment("B") }, instanceId: "i-a").Done()).ErrorCode.Should().Be(0);
        (syncB.Done()).Assignment.ToArray().Should().Equal(Assignment("B"));
        return (joinA.MemberId, responseB.MemberId, generation);
    }

    [Fact]
    public void Restarted_static_follower_replaces_its_old_member_id_without_a_rebalance()
    {
        using var h = new GroupHarness();
        var (a, b, generation) = StableStaticGroup(h);

        var restart = h.JoinAsync(JoinRequest("g", instanceId: "i-b"), version: 8, clientId: "b2").Done();
        restart.ErrorCode.Should().Be(0);
        restart.MemberId.Should().NotBe(b).And.StartWith("i-b-");
        restart.GenerationId.Should().Be(generation, "no rebalance");
        restart.Leader.Should().Be(a);
        restart.Members.Should().BeEmpty();
        restart.SkipAssignment.Should().BeFalse();

        h.Describe("g").GroupState.Should().Be("Stable");
        h.Heartbeat("g", a, generation).Should().Be(ErrorCode.None, "the other members are not disturbed");

        var sync = h.SyncAsync("g", restart.MemberId, generation, instanceId: "i-b").Done();
        sync.Assignment.ToArray().Should().Equal(Assignment("B"), "the current assignment carries over");

        h.Heartbeat("g", b, generation, instanceId: "i-b").Should().Be(ErrorCode.FencedInstanceId);
        h.Heartbeat("g", b, generation).Should().Be(ErrorCode.UnknownMemberId);
        (h.SyncAsync("g", b, generation, instanceId: "i-b").Done()).ErrorCode.Should().Be((short)ErrorCode.FencedInstanceId);
        h.Leave("g", (b, "i-b")).Members.Single().ErrorCode.Should().Be((short)ErrorCode.FencedInstanceId);
        var commit = h.Coordinator.OffsetCommitAsync(new OffsetCommitRequest
        {
            GroupId = "g", GenerationIdOrMemberEpoch = generation, MemberId = b, GroupInstanceId = "i-b",
            Topics = [new() { Name = "orders", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 1 }] }],
        }, 9, Ct).Done();
        commit.Topics[0].Partitions[0].ErrorCode.Should().Be((short)ErrorCode.FencedInstanceId);

        var member = h.Describe("g").Members.Single(m => m.GroupInstanceId == "i-b");
        member.MemberId.Should().Be(restart.MemberId);
        member.ClientId.Should().Be("b2");
    }

    [Fact]
    public void Restarted_static_leader_at_v9_gets_the_members_and_skips_the_assignment()
    {
        using var h = new GroupHarness();
        var (a, b, generation) = StableStaticGroup(h);

        var restart = h.JoinAsync(JoinRequest("g", instanceId: "i-a", topics: ["orders"]), version: 9).Done();
        restart.GenerationId.Should().Be(generation);
        restart.Leader.Should().Be(restart.MemberId, "the leader keeps leadership under its new id");
        restart.SkipAssignment.Should().BeTrue();
        restart.Members.Select(m => m.MemberId).Should().Equal(restart.MemberId, b);

        var sync = h.SyncAsync("g", restart.MemberId, generation, new() { [restart.MemberId] = Assignment("ignored") }, instanceId: "i-a").Done();
        sync.Assignment.ToArray().Should().Equal(Assignment("A"), "a Stable group keeps the stored assignment");
        h.Heartbeat("g", a, generation, "i-a").Should().Be(ErrorCode.FencedInstanceId);

        var olderLeader = h.JoinAsync(JoinRequest("g", instanceId: "i-a", topics: ["orders"]), version: 8).Done();
        olderLeader.Members.Should().BeEmpty("before v9 a leader given members would reassign");
        olderLeader.SkipAssignment.Should().BeFalse();
    }

    [Fact]
    public void Static_member_rejoining_with_a_protocol_the_group_would_not_choose_triggers_a_rebalance()
    {
        using var h = new GroupHarness();
        var (a, b, generation) = StableStaticGroup(h);
        // a prefers roundrobin now; b supports only range, so range still wins: no rebalance.
        var same = h.JoinAsync(JoinRequest("g", instanceId: "i-a", protocols: ["roundrobin", "range"]), version: 8).Done();
        same.GenerationId.Should().Be(generation);
        h.Describe("g").GroupState.Should().Be("Stable");

        // Both prefer roundrobin now: the selected protocol would change, so the group rebalances.
        var restartB = h.JoinAsync(JoinRequest("g", instanceId: "i-b", protocols: ["roundrobin", "range"]), version: 8);
        restartB.IsCompleted.Should().BeFalse();
        h.Describe("g").GroupState.Should().Be("PreparingRebalance");
        var rejoinA = h.JoinAsync(JoinRequest("g", same.MemberId, instanceId: "i-a", protocols: ["roundrobin", "range"]), version: 8).Done();
        rejoinA.ProtocolName.Should().Be("roundrobin");
        (restartB.Done()).GenerationId.Should().Be(generation + 1);
    }

    [Fact]
    public void Static_member_rejoining_during_completing_rebalance_fences_the_old_sync_and_rebalances()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var joinA = h.JoinAsync(JoinRequest("g", instanceId: "i-a"));
        var joinB = h.JoinAsync(JoinRequest("g", instanceId: "i-b"));
        h.Advance(1_000);
        h.Advance(1_000);
        var b = (joinB.Done()).MemberId;
        var a = (joinA.Done()).MemberId;
        var oldSync = h.SyncAsync("g", b, 1, instanceId: "i-b");

        var restartB = h.JoinAsync(JoinRequest("g", instanceId: "i-b"));
        (oldSync.Done()).ErrorCode.Should().Be((short)ErrorCode.FencedInstanceId);
        h.Describe("g").GroupState.Should().Be("PreparingRebalance");
        var rejoinA = h.JoinAsync(JoinRequest("g", a, instanceId: "i-a")).Done();
        rejoinA.GenerationId.Should().Be(2);
        (restartB.Done()).GenerationId.Should().Be(2);
    }

    [Fact]
    public void Static_member_leaves_by_instance_id()
    {
        using var h = new GroupHarness();
        var (a, _, generation) = StableStaticGroup(h);
        h.Leave("g", ("", "i-b")).Members.Single().ErrorCode.Should().Be(0);
        h.Leave("g", ("", "i-unknown")).Members.Single().ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        h.Heartbeat("g", a, generation, "i-a").Should().Be(ErrorCode.RebalanceInProgress);
        var rejoin = h.JoinAsync(JoinRequest("g", a, instanceId: "i-a")).Done();
        rejoin.Members.Select(m => m.GroupInstanceId).Should().Equal("i-a");
    }

    [Fact]
    public void Static_member_session_expiry_removes_it()
    {
        using var h = new GroupHarness();
        var (a, _, generation) = StableStaticGroup(h);
        h.Advance(SessionTimeoutMs / 2);
        h.Heartbeat("g", a, generation, "i-a").Should().Be(ErrorCode.None);
        h.Advance(SessionTimeoutMs / 2);
        h.Heartbeat("g", a, generation, "i-a").Should().Be(ErrorCode.RebalanceInProgress);
        h.Describe("g").Members.Select(m => m.GroupInstanceId).Should().Equal("i-a");
    }
}
