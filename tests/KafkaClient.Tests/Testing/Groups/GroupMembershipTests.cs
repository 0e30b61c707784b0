using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

public sealed class GroupMembershipTests
{
    [Fact]
    public async Task Single_member_joins_syncs_and_heartbeats()
    {
        using var h = new GroupHarness();

        var first = await h.JoinAsync(JoinRequest("g"), clientId: "app");
        first.ErrorCode.Should().Be((short)ErrorCode.MemberIdRequired);
        first.MemberId.Should().StartWith("app-");
        first.GenerationId.Should().Be(-1);
        h.Describe("g").GroupState.Should().Be("Empty", "a handed-out member id is only pending");

        var join = await h.JoinAsync(JoinRequest("g", first.MemberId, topics: ["orders", "payments"]), clientId: "app");
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

        var sync = await h.SyncAsync("g", join.MemberId, 1, new() { [join.MemberId] = Assignment("p0") });
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
    public async Task Before_v4_a_member_without_id_joins_directly()
    {
        using var h = new GroupHarness();
        var join = await h.JoinAsync(JoinRequest("g"), version: 3, clientId: "old");
        join.ErrorCode.Should().Be(0);
        join.MemberId.Should().StartWith("old-");
        join.GenerationId.Should().Be(1);
    }

    [Fact]
    public async Task Two_members_within_the_initial_delay_complete_together_with_the_same_generation()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(3));
        var (a, joinA) = await h.JoinNewAsync("g", "a", topics: ["t1"]);
        var (b, joinB) = await h.JoinNewAsync("g", "b", topics: ["t2"]);
        h.Describe("g").GroupState.Should().Be("PreparingRebalance");

        h.Advance(3_000);
        joinA.IsCompleted.Should().BeFalse("a member joined during the delay, so it is extended once");
        h.Advance(3_000);

        var responseA = await joinA;
        var responseB = await joinB;
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
        var leaderSync = await h.SyncAsync("g", a, 1, new() { [a] = Assignment("A"), [b] = Assignment("B") });
        leaderSync.Assignment.ToArray().Should().Equal(Assignment("A"));
        (await followerSync).Assignment.ToArray().Should().Equal(Assignment("B"));
        h.Describe("g").GroupState.Should().Be("Stable");
    }

    [Fact]
    public async Task Without_initial_delay_a_second_member_triggers_a_rebalance_the_first_rejoins()
    {
        using var h = new GroupHarness();
        var (a, joinA) = await h.JoinNewAsync("g", "a");
        (await joinA).GenerationId.Should().Be(1);
        (await h.SyncAsync("g", a, 1, new() { [a] = Assignment("all") })).ErrorCode.Should().Be(0);

        var (b, joinB) = await h.JoinNewAsync("g", "b");
        joinB.IsCompleted.Should().BeFalse("the rebalance waits for a to rejoin");
        h.Heartbeat("g", a, 1).Should().Be(ErrorCode.RebalanceInProgress);
        (await h.SyncAsync("g", a, 1)).ErrorCode.Should().Be((short)ErrorCode.RebalanceInProgress);

        var rejoinA = await h.JoinAsync(JoinRequest("g", a));
        var responseB = await joinB;
        rejoinA.GenerationId.Should().Be(2);
        responseB.GenerationId.Should().Be(2);
        rejoinA.Leader.Should().Be(a, "the existing leader stays leader");
        rejoinA.Members.Should().HaveCount(2);
    }

    [Fact]
    public async Task Leader_leaving_during_completing_rebalance_sends_followers_back_to_join()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var (a, joinA) = await h.JoinNewAsync("g", "a");
        var (b, joinB) = await h.JoinNewAsync("g", "b");
        h.Advance(1_000);
        h.Advance(1_000);
        await joinA;
        await joinB;

        var followerSync = h.SyncAsync("g", b, 1);
        h.Leave("g", (a, null)).Members.Single().ErrorCode.Should().Be(0);
        (await followerSync).ErrorCode.Should().Be((short)ErrorCode.RebalanceInProgress);

        var rejoin = await h.JoinAsync(JoinRequest("g", b));
        rejoin.GenerationId.Should().Be(2);
        rejoin.Leader.Should().Be(b);
    }

    [Fact]
    public async Task Member_leaving_triggers_a_rebalance_the_other_learns_by_heartbeat_and_rejoins()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 2);
        string leader = members[0], follower = members[1];

        var leave = h.Leave("g", (follower, null));
        leave.ErrorCode.Should().Be(0);
        leave.Members.Should().ContainSingle().Which.ErrorCode.Should().Be(0);

        h.Describe("g").GroupState.Should().Be("PreparingRebalance");
        h.Heartbeat("g", leader, generation).Should().Be(ErrorCode.RebalanceInProgress);
        h.Heartbeat("g", follower, generation).Should().Be(ErrorCode.UnknownMemberId);

        var rejoin = await h.JoinAsync(JoinRequest("g", leader));
        rejoin.GenerationId.Should().Be(generation + 1);
        rejoin.Members.Select(m => m.MemberId).Should().Equal(leader);
    }

    [Fact]
    public async Task Last_member_leaving_empties_the_group_and_bumps_the_generation()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 1);
        h.Leave("g", (members[0], null)).Members.Single().ErrorCode.Should().Be(0);
        var described = h.Describe("g");
        described.GroupState.Should().Be("Empty");
        described.ProtocolType.Should().Be("consumer");
        described.Members.Should().BeEmpty();

        // A new member starts the next generation.
        var (_, join) = await h.JoinNewAsync("g");
        (await join).GenerationId.Should().Be(generation + 2);
    }

    [Fact]
    public async Task Leave_errors_and_v0_shape()
    {
        using var h = new GroupHarness();
        var (members, _) = await h.StableGroupAsync("g", 1);

        var unknownGroup = h.Leave("nope", ("m", null));
        unknownGroup.ErrorCode.Should().Be(0);
        unknownGroup.Members.Single().ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        h.Leave("g", ("ghost", null), (members[0], null)).Members.Select(m => (ErrorCode)m.ErrorCode)
            .Should().Equal(ErrorCode.UnknownMemberId, ErrorCode.None);

        var (_, join) = await h.JoinNewAsync("g");
        var id = (await join).MemberId;
        var v0 = await h.Coordinator.LeaveGroupAsync(new LeaveGroupRequest { GroupId = "g", MemberId = "ghost" }, 0, Ct);
        v0.ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        v0.Members.Should().BeEmpty();
        RoundTrip(v0, 0);
        (await h.Coordinator.LeaveGroupAsync(new LeaveGroupRequest { GroupId = "g", MemberId = id }, 2, Ct)).ErrorCode.Should().Be(0);
        h.Describe("g").GroupState.Should().Be("Empty");
    }

    [Fact]
    public async Task Session_expiry_removes_the_silent_member_and_rebalances()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 2);
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

        var rejoin = await h.JoinAsync(JoinRequest("g", leader));
        rejoin.GenerationId.Should().Be(generation + 1);
        rejoin.Members.Should().ContainSingle();
    }

    [Fact]
    public async Task A_member_that_got_its_join_response_but_never_syncs_expires()
    {
        using var h = new GroupHarness();
        var (a, join) = await h.JoinNewAsync("g");
        (await join).GenerationId.Should().Be(1);
        h.Advance(SessionTimeoutMs);
        h.Describe("g").GroupState.Should().Be("Empty");
        (await h.SyncAsync("g", a, 1)).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }

    [Fact]
    public async Task Rebalance_timeout_removes_members_that_do_not_rejoin()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 2);
        string leader = members[0], laggard = members[1];

        var (newcomer, joinNew) = await h.JoinNewAsync("g", "c");
        var rejoin = h.JoinAsync(JoinRequest("g", leader));

        // The laggard keeps heartbeating (so its session never expires) but never rejoins.
        for (int elapsed = 0; elapsed < RebalanceTimeoutMs - 5_000; elapsed += 5_000)
        {
            h.Advance(5_000);
            h.Heartbeat("g", laggard, generation).Should().Be(ErrorCode.RebalanceInProgress);
        }
        rejoin.IsCompleted.Should().BeFalse();
        h.Advance(5_000);

        var leaderResponse = await rejoin;
        leaderResponse.GenerationId.Should().Be(generation + 1);
        leaderResponse.Members.Select(m => m.MemberId).Should().BeEquivalentTo([leader, newcomer]);
        (await joinNew).GenerationId.Should().Be(generation + 1);
        h.Heartbeat("g", laggard, generation).Should().Be(ErrorCode.UnknownMemberId);
    }

    [Fact]
    public async Task Leader_not_rejoining_in_time_is_replaced_by_a_member_that_did()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 2);
        string follower = members[1];
        h.Heartbeat("g", follower, generation).Should().Be(ErrorCode.None);
        var rejoin = h.JoinAsync(JoinRequest("g", follower, topics: ["changed"]));
        h.Advance(RebalanceTimeoutMs);
        var response = await rejoin;
        response.Leader.Should().Be(follower);
        response.Members.Should().ContainSingle();
    }

    [Fact]
    public async Task Pending_member_id_expires_after_the_session_timeout()
    {
        using var h = new GroupHarness();
        var first = await h.JoinAsync(JoinRequest("g"));
        h.Advance(SessionTimeoutMs);
        var late = await h.JoinAsync(JoinRequest("g", first.MemberId));
        late.ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        late.ProtocolName.Should().BeNull("v7+ sends a null protocol name with errors");
    }

    [Fact]
    public async Task Pending_member_holds_a_rebalance_until_it_joins_or_expires()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 1);
        var (b, joinB) = await h.JoinNewAsync("g", "b");
        var pendingOnly = await h.JoinAsync(JoinRequest("g"), clientId: "c");
        pendingOnly.ErrorCode.Should().Be((short)ErrorCode.MemberIdRequired);

        var rejoin = h.JoinAsync(JoinRequest("g", members[0]));
        rejoin.IsCompleted.Should().BeFalse("c's member id is still pending");
        h.Advance(SessionTimeoutMs);
        (await rejoin).Members.Select(m => m.MemberId).Should().BeEquivalentTo([members[0], b]);
        (await joinB).GenerationId.Should().Be(generation + 1);
    }

    [Fact]
    public async Task Follower_rejoining_a_stable_group_unchanged_gets_the_current_generation_without_rebalance()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 2);
        var rejoin = await h.JoinAsync(JoinRequest("g", members[1]));
        rejoin.GenerationId.Should().Be(generation);
        rejoin.Members.Should().BeEmpty();
        h.Describe("g").GroupState.Should().Be("Stable");
        h.Heartbeat("g", members[0], generation).Should().Be(ErrorCode.None);
    }

    [Fact]
    public async Task Protocols_must_be_consistent_with_the_group()
    {
        using var h = new GroupHarness();
        await h.StableGroupAsync("g", 1);

        var wrongType = await h.JoinAsync(JoinRequest("g", protocolType: "connect"));
        wrongType.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        var noCommonProtocol = await h.JoinAsync(JoinRequest("g", protocols: ["roundrobin"]));
        noCommonProtocol.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        var emptyType = await h.JoinAsync(JoinRequest("fresh", protocolType: ""));
        emptyType.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);
        h.Describe("fresh").GroupState.Should().Be("Dead", "a failed first join leaves no group behind");
    }

    [Fact]
    public async Task The_protocol_is_chosen_by_member_votes_among_those_all_support()
    {
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(1));
        var (_, a) = await h.JoinNewAsync("g", "a", protocols: ["range", "roundrobin", "sticky"]);
        var (_, b) = await h.JoinNewAsync("g", "b", protocols: ["roundrobin", "range"]);
        var (_, c) = await h.JoinNewAsync("g", "c", protocols: ["roundrobin", "range"]);
        h.Advance(1_000);
        h.Advance(1_000);
        foreach (var join in new[] { a, b, c })
        {
            (await join).ProtocolName.Should().Be("roundrobin");
        }
    }

    [Fact]
    public async Task Invalid_requests_fail_fast()
    {
        using var h = new GroupHarness();
        (await h.JoinAsync(JoinRequest(""))).ErrorCode.Should().Be((short)ErrorCode.InvalidGroupId);
        (await h.JoinAsync(JoinRequest("g", sessionTimeoutMs: 1_000))).ErrorCode.Should().Be((short)ErrorCode.InvalidSessionTimeout);
        (await h.JoinAsync(JoinRequest("g", "unknown-member"))).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        h.Heartbeat("nope", "m", 1).Should().Be(ErrorCode.UnknownMemberId);
        (await h.SyncAsync("nope", "m", 1)).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }

    [Fact]
    public async Task Sync_and_heartbeat_check_member_generation_and_protocol()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 1);
        string m = members[0];

        (await h.SyncAsync("g", "ghost", generation)).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        (await h.SyncAsync("g", m, generation + 1)).ErrorCode.Should().Be((short)ErrorCode.IllegalGeneration);
        h.Heartbeat("g", m, generation - 1).Should().Be(ErrorCode.IllegalGeneration);
        h.Heartbeat("g", "ghost", generation).Should().Be(ErrorCode.UnknownMemberId);

        var wrongName = await h.Coordinator.SyncGroupAsync(new SyncGroupRequest
        {
            GroupId = "g", MemberId = m, GenerationId = generation, ProtocolType = "consumer", ProtocolName = "sticky",
        }, 5, Ct);
        wrongName.ErrorCode.Should().Be((short)ErrorCode.InconsistentGroupProtocol);

        // In Stable, SyncGroup returns the current assignment.
        (await h.SyncAsync("g", m, generation)).Assignment.ToArray().Should().Equal(Assignment("assignment-of-" + m));
    }

    [Fact]
    public async Task Group_max_size_is_enforced()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var coordinator = new GroupCoordinator(time, new GroupCoordinatorOptions { MaxGroupSize = 1 });
        var first = await coordinator.JoinGroupAsync(JoinRequest("g"), 3, "a", "h", Ct);
        first.ErrorCode.Should().Be(0);
        var second = await coordinator.JoinGroupAsync(JoinRequest("g"), 3, "b", "h", Ct);
        second.ErrorCode.Should().Be((short)ErrorCode.GroupMaxSizeReached);
    }

    [Fact]
    public async Task Dispose_completes_pending_long_polls_and_rejects_later_requests()
    {
        var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 1);
        var (_, pendingJoin) = await h.JoinNewAsync("g", "b");
        pendingJoin.IsCompleted.Should().BeFalse();

        h.Dispose();

        (await pendingJoin).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        (await h.JoinAsync(JoinRequest("g"))).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        h.Heartbeat("g", members[0], generation).Should().Be(ErrorCode.CoordinatorNotAvailable);
        (await h.SyncAsync("g", members[0], generation)).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        h.Advance(RebalanceTimeoutMs * 10);
        h.Dispose();
    }

    [Fact]
    public async Task Cancelling_a_join_abandons_the_wait_but_the_member_stays_in_the_rebalance()
    {
        using var h = new GroupHarness();
        var (members, _) = await h.StableGroupAsync("g", 1);
        var first = await h.JoinAsync(JoinRequest("g"), clientId: "b");
        using var cts = new CancellationTokenSource();
        var join = h.Coordinator.JoinGroupAsync(JoinRequest("g", first.MemberId), 9, "b", "h", cts.Token);
        await cts.CancelAsync();
        var act = async () => await join;
        await act.Should().ThrowAsync<OperationCanceledException>();

        var rejoin = await h.JoinAsync(JoinRequest("g", members[0]));
        rejoin.Members.Should().HaveCount(2);
    }

    [Fact]
    public async Task New_member_waiting_past_the_new_member_timeout_is_dropped()
    {
        using var h = new GroupHarness();
        var (members, generation) = await h.StableGroupAsync("g", 1);
        var (_, joinB) = await h.JoinNewAsync("g", "b", rebalanceTimeoutMs: 600_000);
        // The old member keeps heartbeating but never rejoins; the rebalance timeout is 10 minutes.
        for (int i = 0; i < 60; i++)
        {
            h.Advance(5_000);
            h.Heartbeat("g", members[0], generation);
        }
        (await joinB).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
    }
}
