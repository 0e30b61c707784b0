using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

public sealed class GroupMembershipTests
{
    [Fact]
    public void Single_member_joins_syncs_and_heartbeats()
    {
        using var h = new GroupHarness();

        var first = h.JoinAsync(JoinRequest("g"), clientId: "app").Done();
        first.ErrorCode.Should().Be((short)ErrorCode.MemberIdRequired);
        first.MemberId.Should().StartWith("app-");
        first.GenerationId.Should().Be(-1);
        h.Describe("g").GroupState.Should().Be("Empty", "a handed-out member id is only pending");

        var join = h.JoinAsync(JoinRequest("g", first.MemberId, topics: ["orders", "payments"]), clientId: "app").Done();
        join.ErrorCode.Should().Be(0);
        join.GenerationId.Should().Be(1);
        join.MemberId.Should().Be(first.MemberId);
        join.Leader.Should().Be(first.MemberId);
        join.ProtocolType.Should().Be("consumer");
        join.ProtocolName.Should().Be("range");
        join.SkipAssignment.Should().BeFalse();
        join.Members.Should().ContainSingle().Which.MemberId.Should().Be(first.MemberId);
        join.Members[0].Metadata.ToArray().Should().Equal(Subscription("orders", "payments"));
        h.Describe("g").GroupState.Should().Be("CompletingRebalance");

        var sync = h.SyncAsync("g", join.MemberId, 1, new() { [join.MemberId] = Assignment("p0") }).Done();
        sync.ErrorCode.Should().Be(0);
        sync.Assignment.ToArray().Should().Equal(Assignment("p0"));
        sync.ProtocolType.Should().Be("consumer");
        sync.ProtocolName.Should().Be("range");

        h.Heartbeat("g", join.MemberId, 1).Should().Be(ErrorCode.None);
        var described = h.Describe("g");
        described.GroupState.Should().Be("Stable");
        described.ProtocolData.Should().Be("range");
        described.Members.Should().ContainSingle().Which.MemberAssignment.ToArray().Should().Equal(Assignment("p0"));

        // Heartbeats keep the session alive indefinitely.
        for (int i = 0; i < 10; i++)
        {
            h.Advance(SessionTimeoutMs - 1_000);
            h.Heartbeat("g", join.MemberId, 1).Should().Be(ErrorCode.None);
        }
        h.Describe("g").Members.Should().HaveCount(1);
    }

    [Fact]
    public void Between_join_and_sync_heartbeats_succeed_and_a_retried_join_gets_the_same_generation()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var (a, joinA) = h.JoinNew("g", "a");
        var (b, joinB) = h.JoinNew("g", "b");
        h.Advance(1_000);
        h.Advance(1_000);
        int generation = joinA.Done().GenerationId;
        joinB.Done();
        h.Describe("g").GroupState.Should().Be("CompletingRebalance");
        h.Heartbeat("g", b, generation).Should().Be(ErrorCode.None);

        // Responses lost: both retry with unchanged metadata and get the same generation back.
        var retryLeader = h.JoinAsync(JoinRequest("g", a)).Done();
        retryLeader.GenerationId.Should().Be(generation);
        retryLeader.Members.Should().HaveCount(2, "the leader needs the members to assign");
        var retryFollower = h.JoinAsync(JoinRequest("g", b)).Done();
        retryFollower.GenerationId.Should().Be(generation);
        retryFollower.Members.Should().BeEmpty();
        h.Describe("g").GroupState.Should().Be("CompletingRebalance");

        // Changed metadata, though, starts a new rebalance.
        var changed = h.JoinAsync(JoinRequest("g", b, topics: ["other"]));
        changed.IsCompleted.Should().BeFalse();
        h.Describe("g").GroupState.Should().Be("PreparingRebalance");
        h.JoinAsync(JoinRequest("g", a)).Done().GenerationId.Should().Be(generation + 1);
        changed.Done().GenerationId.Should().Be(generation + 1);
    }

    [Fact]
    public void Before_v4_a_member_without_id_joins_directly()
    {
        using var h = new GroupHarness();
        var join = h.JoinAsync(JoinRequest("g"), version: 3, clientId: "old").Done();
        join.ErrorCode.Should().Be(0);
        join.MemberId.Should().StartWith("old-");
        join.GenerationId.Should().Be(1);
    }

    [Fact]
    public void Two_members_within_the_initial_delay_complete_together_with_the_same_generation()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(3));
        var (a, joinA) = h.JoinNew("g", "a", topics: ["t1"]);
        var (b, joinB) = h.JoinNew("g", "b", topics: ["t2"]);
        h.Describe("g").GroupState.Should().Be("PreparingRebalance");

        h.Advance(3_000);
        joinA.IsCompleted.Should().BeFalse("a member joined during the delay, so it is extended once");
        h.Advance(3_000);

        var responseA = joinA.Done();
        var responseB = joinB.Done();
        responseA.GenerationId.Should().Be(1);
        responseB.GenerationId.Should().Be(1);
        responseA.Leader.Should().Be(a);
        responseB.Leader.Should().Be(a);
        responseA.Members.Select(m => m.MemberId).Should().Equal(a, b);
        responseA.Members[1].Metadata.ToArray().Should().Equal(Subscription("t2"));
        responseB.Members.Should().BeEmpty("only the leader gets the members");

        // The follower's SyncGroup waits for the leader's.
        var followerSync = h.SyncAsync("g", b, 1);
        followerSync.IsCompleted.Should().BeFalse();
        var leaderSync = h.SyncAsync("g", a, 1, new() { [a] = Assignment("A"), [b] = Assignment("B") }).Done();
        leaderSync.Assignment.ToArray().Should().Equal(Assignment("A"));
        (followerSync.Done()).Assignment.ToArray().Should().Equal(Assignment("B"));
        h.Describe("g").GroupState.Should().Be("Stable");
    }

    [Fact]
    public void Without_initial_delay_a_second_member_triggers_a_rebalance_the_first_rejoins()
    {
        using var h = new GroupHarness();
        var (a, joinA) = h.JoinNew("g", "a");
        (joinA.Done()).GenerationId.Should().Be(1);
        (h.SyncAsync("g", a, 1, new() { [a] = Assignment("all") }).Done()).ErrorCode.Should().Be(0);

        var (b, joinB) = h.JoinNew("g", "b");
        joinB.IsCompleted.Should().BeFalse("the rebalance waits for a to rejoin");
        h.Heartbeat("g", a, 1).Should().Be(ErrorCode.RebalanceInProgress);
        (h.SyncAsync("g", a, 1).Done()).ErrorCode.Should().Be((short)ErrorCode.RebalanceInProgress);

        var rejoinA = h.JoinAsync(JoinRequest("g", a)).Done();
        var responseB = joinB.Done();
        rejoinA.GenerationId.Should().Be(2);
        responseB.GenerationId.Should().Be(2);
        rejoinA.Leader.Should().Be(a, "the existing leader stays leader");
        rejoinA.Members.Should().HaveCount(2);
    }

    [Fact]
    public void Leader_leaving_during_completing_rebalance_sends_followers_back_to_join()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var (a, joinA) = h.JoinNew("g", "a");
        var (b, joinB) = h.JoinNew("g", "b");
        h.Advance(1_000);
        h.Advance(1_000);
        joinA.Done();
        joinB.Done();

        var followerSync = h.SyncAsync("g", b, 1);
        h.Leave("g", (a, null)).Members.Single().ErrorCode.Should().Be(0);
        (followerSync.Done()).ErrorCode.Should().Be((short)ErrorCode.RebalanceInProgress);

        var rejoin = h.JoinAsync(JoinRequest("g", b)).Done();
        rejoin.GenerationId.Should().Be(2);
        rejoin.Leader.Should().Be(b);
    }

    [Fact]
    public void Member_leaving_triggers_a_rebalance_the_other_learns_by_heartbeat_and_rejoins()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        string leader = members[0], follower = members[1];

        var leave = h.Leave("g", (follower, null));
        leave.ErrorCode.Should().Be(0);
        leave.Members.Should().ContainSingle().Which.ErrorCode.Should().Be(0);

        h.Describe("g").GroupState.Should().Be("PreparingRebalance");
        h.Heartbeat("g", leader, generation).Should().Be(ErrorCode.RebalanceInProgress);
        h.Heartbeat("g", follower, generation).Should().Be(ErrorCode.UnknownMemberId);

        var rejoin = h.JoinAsync(JoinRequest("g", leader)).Done();
        rejoin.GenerationId.Should().Be(generation + 1);
        rejoin.Members.Select(m => m.MemberId).Should().Equal(leader);
    }

    [Fact]
    public void Last_member_leaving_empties_the_group_and_bumps_the_generation()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 1);
        h.Leave("g", (members[0], null)).Members.Single().ErrorCode.Should().Be(0);
        var described = h.Describe("g");
        described.GroupState.Should().Be("Empty");
        described.ProtocolType.Should().Be("consumer");
        described.Members.Should().BeEmpty();

        // A new member starts the next generation.
        var (_, join) = h.JoinNew("g");
        (join.Done()).GenerationId.Should().Be(generation + 2);
    }

    [Fact]
    public void Leave_errors_and_v0_shape()
    {
        using var h = new GroupHarness();
        var (members, _) = h.StableGroup("g", 1);

        var unknownGroup = h.Leave("nope", ("m", null));
        unknownGroup.ErrorCode.Should().Be(0);
        unknownGroup.Members.Single().ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        h.Leave("g", ("ghost", null), (members[0], null)).Members.Select(m => (ErrorCode)m.ErrorCode)
            .Should().Equal(ErrorCode.UnknownMemberId, ErrorCode.None);

        var (_, join) = h.JoinNew("g");
        var id = (join.Done()).MemberId;
        var v0 = h.Coordinator.LeaveGroupAsync(new LeaveGroupRequest { GroupId = "g", MemberId = "ghost" }, 0, Ct).Done();
        v0.ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        v0.Members.Should().BeEmpty();
        RoundTrip(v0, 0);
        (h.Coordinator.LeaveGroupAsync(new LeaveGroupRequest { GroupId = "g", MemberId = id }, 2, Ct).Done()).ErrorCode.Should().Be(0);
        h.Describe("g").GroupState.Should().Be("Empty");
    }

    [Fact]
    public void Session_expiry_removes_the_silent_member_and_rebalances()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        string leader = members[0], silent = members[1];

        h.Advance(SessionTimeoutMs / 2);
        h.Heartbeat("g", leader, generation).Should().Be(ErrorCode.None);
        h.Advance(SessionTimeoutMs / 2 - 1);
        h.Describe("g").Members.Should().HaveCount(2, "the session has not quite expired");
        h.Advance(1);

        var described = h.Describe("g");
        described.GroupState.Should().Be("PreparingRebalance");
        described.Members.Select(m => m.MemberId).Should().Equal(leader);
        h.Heartbeat("g", leader, generation).Should().Be(ErrorCode.RebalanceInProgress);
        h.Heartbeat("g", silent, generation).Should().Be(ErrorCode.UnknownMemberId);

        var rejoin = h.JoinAsync(JoinRequest("g", leader)).Done();
        rejoin.GenerationId.Should().Be(generation + 1);
        rejoin.Members.Should().ContainSingle();
    }

    [Fact]
    public void A_member_that_got_its_join_response_but_never_syncs_expires()
    {
        using var h = new GroupHarness();
        var (a, join) = h.JoinNew("g");
        (join.Done()).GenerationId.Should().Be(1);
        h.Advance(SessionTimeoutMs);
        h.Describe("g").GroupState.Should().Be("Empty");
        (h.SyncAsync("g", a, 1).Done()).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }

    [Fact]
    public void Rebalance_timeout_removes_members_that_do_not_rejoin()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        string leader = members[0], laggard = members[1];

        var (newcomer, joinNew) = h.JoinNew("g", "c");
        var rejoin = h.JoinAsync(JoinRequest("g", leader));

        // The laggard keeps heartbeating (so its session never expires) but never rejoins.
        for (int elapsed = 0; elapsed < RebalanceTimeoutMs - 5_000; elapsed += 5_000)
        {
            h.Advance(5_000);
            h.Heartbeat("g", laggard, generation).Should().Be(ErrorCode.RebalanceInProgress);
        }
        rejoin.IsCompleted.Should().BeFalse();
        h.Advance(5_000);

        var leaderResponse = rejoin.Done();
        leaderResponse.GenerationId.Should().Be(generation + 1);
        leaderResponse.Members.Select(m => m.MemberId).Should().BeEquivalentTo([leader, newcomer]);
        (joinNew.Done()).GenerationId.Should().Be(generation + 1);
        h.Heartbeat("g", laggard, generation).Should().Be(ErrorCode.UnknownMemberId);
    }

    [Fact]
    public void Leader_not_rejoining_in_time_is_replaced_by_a_member_that_did()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        string follower = members[1];
        h.Heartbeat("g", follower, generation).Should().Be(ErrorCode.None);
        var rejoin = h.JoinAsync(JoinRequest("g", follower, topics: ["changed"]));
        h.Advance(RebalanceTimeoutMs);
        var response = rejoin.Done();
        response.Leader.Should().Be(follower);
        response.Members.Should().ContainSingle();
    }

    [Fact]
    public void Pending_member_id_expires_after_the_session_timeout()
    {
        using var h = new GroupHarness();
        var first = h.JoinAsync(JoinRequest("g")).Done();
        h.Advance(SessionTimeoutMs);
        var late = h.JoinAsync(JoinRequest("g", first.MemberId)).Done();
        late.ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        late.ProtocolName.Should().BeNull("v7+ sends a null protocol name with errors");
    }

    [Fact]
    public void Pending_member_holds_a_rebalance_until_it_joins_or_expires()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 1);
        var (b, joinB) = h.JoinNew("g", "b");
        var pendingOnly = h.JoinAsync(JoinRequest("g"), clientId: "c").Done();
        pendingOnly.ErrorCode.Should().Be((short)ErrorCode.MemberIdRequired);

        var rejoin = h.JoinAsync(JoinRequest("g", members[0]));
        rejoin.IsCompleted.Should().BeFalse("c's member id is still pending");
        h.Advance(SessionTimeoutMs);
        (rejoin.Done()).Members.Select(m => m.MemberId).Should().BeEquivalentTo([members[0], b]);
        (joinB.Done()).GenerationId.Should().Be(generation + 1);
    }

    [Fact]
    public void Follower_rejoining_a_stable_group_unchanged_gets_the_current_generation_without_rebalance()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        var rejoin = h.JoinAsync(JoinRequest("g", members[1])).Done();
        rejoin.GenerationId.Should().Be(generation);
        rejoin.Members.Should().BeEmpty();
        h.Describe("g").GroupState.Should().Be("Stable");
        h.Heartbeat("g", members[0], generation).Should().Be(ErrorCode.None);
    }

    [Fact]
    public void Protocols_must_be_consistent_with_the_group()
    {
        using var h = new GroupHarness();
        h.StableGroup("g", 1);

        var wrongType = h.JoinAsync(JoinRequest("g", protocolType: "connect")).Done();
        wrongType.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        var noCommonProtocol = h.JoinAsync(JoinRequest("g", protocols: ["roundrobin"])).Done();
        noCommonProtocol.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        var emptyType = h.JoinAsync(JoinRequest("fresh", protocolType: "")).Done();
        emptyType.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        h.Describe("fresh").GroupState.Should().Be("Dead", "a failed first join leaves no group behind");
    }

    [Fact]
    public void The_protocol_is_chosen_by_member_votes_among_those_all_support()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var (_, a) = h.JoinNew("g", "a", protocols: ["range", "roundrobin", "sticky"]);
        var (_, b) = h.JoinNew("g", "b", protocols: ["roundrobin", "range"]);
        var (_, c) = h.JoinNew("g", "c", protocols: ["roundrobin", "range"]);
        h.Advance(1_000);
        h.Advance(1_000);
        foreach (var join in new[] { a, b, c })
        {
            (join.Done()).ProtocolName.Should().Be("roundrobin");
        }
    }

    [Fact]
    public void Invalid_requests_fail_fast()
    {
        using var h = new GroupHarness();
        (h.JoinAsync(JoinRequest("")).Done()).ErrorCode.Should().Be((short)ErrorCode.InvalidGroupId);
        (h.JoinAsync(JoinRequest("g", sessionTimeoutMs: 1_000)).Done()).ErrorCode.Should().Be((short)ErrorCode.InvalidSessionTimeout);
        (h.JoinAsync(JoinRequest("g", "unknown-member")).Done()).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        h.Heartbeat("nope", "m", 1).Should().Be(ErrorCode.UnknownMemberId);
        (h.SyncAsync("nope", "m", 1).Done()).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }

    [Fact]
    public void Sync_and_heartbeat_check_member_generation_and_protocol()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 1);
        string m = members[0];

        (h.SyncAsync("g", "ghost", generation).Done()).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        (h.SyncAsync("g", m, generation + 1).Done()).ErrorCode.Should().Be((short)ErrorCode.IllegalGeneration);
        h.Heartbeat("g", m, generation - 1).Should().Be(ErrorCode.IllegalGeneration);
        h.Heartbeat("g", "ghost", generation).Should().Be(ErrorCode.UnknownMemberId);

        var wrongName = h.Coordinator.SyncGroupAsync(new SyncGroupRequest
        {
            GroupId = "g", MemberId = m, GenerationId = generation, ProtocolType = "consumer", ProtocolName = "sticky",
        }, 5, Ct).Done();
        wrongName.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);

        // In Stable, SyncGroup returns the current assignment.
        (h.SyncAsync("g", m, generation).Done()).Assignment.ToArray().Should().Equal(Assignment("assignment-of-" + m));
    }

    [Fact]
    public void Group_max_size_is_enforced()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var coordinator = new GroupCoordinator(time, new GroupCoordinatorOptions { MaxGroupSize = 1 });
        var first = coordinator.JoinGroupAsync(JoinRequest("g"), 3, "a", "h", Ct).Done();
        first.ErrorCode.Should().Be(0);
        var second = coordinator.JoinGroupAsync(JoinRequest("g"), 3, "b", "h", Ct).Done();
        second.ErrorCode.Should().Be((short)ErrorCode.GroupMaxSizeReached);
    }

    [Fact]
    public void Dispose_completes_pending_long_polls_and_rejects_later_requests()
    {
        var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 1);
        var (_, pendingJoin) = h.JoinNew("g", "b");
        pendingJoin.IsCompleted.Should().BeFalse();

        h.Dispose();

        (pendingJoin.Done()).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        (h.JoinAsync(JoinRequest("g")).Done()).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        h.Heartbeat("g", members[0], generation).Should().Be(ErrorCode.CoordinatorNotAvailable);
        (h.SyncAsync("g", members[0], generation).Done()).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        h.Advance(RebalanceTimeoutMs * 10);
        h.Dispose();
    }

    [Fact]
    public async Task Cancelling_a_join_abandons_the_wait_but_the_member_stays_in_the_rebalance()
    {
        using var h = new GroupHarness();
        var (members, _) = h.StableGroup("g", 1);
        var first = h.JoinAsync(JoinRequest("g"), clientId: "b").Done();
        using var cts = new CancellationTokenSource();
        var join = h.Coordinator.JoinGroupAsync(JoinRequest("g", first.MemberId), 9, "b", "h", cts.Token);
        await cts.CancelAsync();
        var act = async () => await join;
        await act.Should().ThrowAsync<OperationCanceledException>();

        var rejoin = h.JoinAsync(JoinRequest("g", members[0])).Done();
        rejoin.Members.Should().HaveCount(2);
    }

    [Fact]
    public void New_member_waiting_past_the_new_member_timeout_is_dropped()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 1);
        var (_, joinB) = h.JoinNew("g", "b", rebalanceTimeoutMs: 600_000);
        // The old member keeps heartbeating but never rejoins; the rebalance timeout is 10 minutes.
        for (int i = 0; i < 60; i++)
        {
            h.Advance(5_000);
            h.Heartbeat("g", members[0], generation);
        }
        (joinB.Done()).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }
}
