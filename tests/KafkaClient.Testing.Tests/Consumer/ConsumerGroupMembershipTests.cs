using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// Group membership options against the embedded coordinator (which accepts session timeouts down to 500 ms here):
/// GroupInstanceId (static membership), SessionTimeout with HeartbeatInterval, and RebalanceTimeout.
/// </summary>
public sealed class ConsumerGroupMembershipTests(ShortSessionClusterFixture fixture) : IClassFixture<ShortSessionClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string group, string clientId, RebalanceLog log) => new()
    {
        AutoOffsetReset = AutoOffsetReset.Earliest,
        BootstrapServers = Cluster.BootstrapServers,
        ClientId = clientId,
        GroupId = group,
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        OnRebalance = log.Handler,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
    };

    private static string NewId(string prefix) => EmbeddedClusterFixture.UniqueName(prefix);

    private static async Task HeartbeatsAsync(ApiSpy heartbeats, string clientId, int count)
    {
        int start = heartbeats.From(clientId).Count();
        await WaitUntilAsync(() => heartbeats.From(clientId).Count() >= start + count, Deadline, $"{count} more heartbeats of {clientId}");
    }

    private static IEnumerable<short> HeartbeatErrors(ApiSpy heartbeats, string clientId, int skip) =>
        heartbeats.From(clientId).Skip(skip).Select(s => ((HeartbeatResponse)s.Response!).ErrorCode);

    [Fact]
    public async Task A_static_member_restarted_within_the_session_timeout_gets_its_partitions_back_without_a_rebalance()
    {
        string topic = NewTopic(Cluster, "static", partitions: 4);
        string group = NewId("static");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        var leaves = Cluster.Spy(ApiKey.LeaveGroup);
        string aId = NewId("a"), bId = NewId("b");
        RebalanceLog aLog = new(), bLog = new(), a2Log = new();
        var aOptions = Options(group, aId, aLog) with { GroupInstanceId = "instance-a", SessionTimeout = TimeSpan.FromSeconds(10) };
        var a = new KafkaConsumer<string, string>(aOptions);
        await using var b = new KafkaConsumer<string, string>(Options(group, bId, bLog) with { SessionTimeout = TimeSpan.FromSeconds(10) });
        a.Subscribe([topic]);
        b.Subscribe([topic]);
        await WaitForStableGroupAsync(4, (a, aLog), (b, bLog));
        var aPartitions = a.Assignment.ToHashSet();
        var bPartitions = b.Assignment.ToHashSet();
        int bEvents = bLog.Count;
        int bHeartbeats = heartbeats.From(bId).Count();

        await a.CloseAsync(Ct);
        await using var a2 = new KafkaConsumer<string, string>(aOptions with { OnRebalance = a2Log.Handler });
        a2.Subscribe([topic]);
        await WaitUntilAsync(() => a2Log.LastJoined is not null && a2.Assignment.ToHashSet().SetEquals(aPartitions), Deadline, "the restarted static member holds its old partitions");
        await HeartbeatsAsync(heartbeats, bId, 5);

        leaves.From(aId).Should().BeEmpty("a static member does not leave the group on close");
        a2Log.LastJoined!.GenerationId.Should().Be(bLog.LastJoined!.GenerationId, "the group stayed in the same generation");
        bLog.Count.Should().Be(bEvents, "the other member saw no rebalance");
        b.Assignment.Should().BeEquivalentTo(bPartitions);
        HeartbeatErrors(heartbeats, bId, bHeartbeats).Should().OnlyContain(e => e == 0, "no REBALANCE_IN_PROGRESS reached the other member");
    }

    /// <summary>
    /// With a 2 s session timeout and 200 ms heartbeats, both members stay through several session timeouts; then a
    /// static member (which does not leave on close) stops heartbeating and the coordinator removes it after the session
    /// timeout, giving its partitions to the other member.
    /// </summary>
    [Fact]
    public async Task Heartbeats_keep_a_member_and_a_member_that_stops_is_removed_after_the_session_timeout()
    {
        string topic = NewTopic(Cluster, "session", partitions: 4);
        string group = NewId("session");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        string aId = NewId("a"), bId = NewId("b");
        RebalanceLog aLog = new(), bLog = new();
        var session = TimeSpan.FromSeconds(2);
        var a = new KafkaConsumer<string, string>(Options(group, aId, aLog) with { GroupInstanceId = "instance-a", SessionTimeout = session });
        await using var b = new KafkaConsumer<string, string>(Options(group, bId, bLog) with { SessionTimeout = session });
        a.Subscribe([topic]);
        b.Subscribe([topic]);
        await WaitForStableGroupAsync(4, (a, aLog), (b, bLog));
        int aEvents = aLog.Count, bEvents = bLog.Count;
        int aHeartbeats = heartbeats.From(aId).Count();

        await HeartbeatsAsync(heartbeats, aId, 15);
        HeartbeatErrors(heartbeats, aId, aHeartbeats).Should().OnlyContain(e => e == 0, "every heartbeat arrived within the session timeout");
        aLog.Count.Should().Be(aEvents);
        bLog.Count.Should().Be(bEvents, "nobody was expired while heartbeating");

        await a.CloseAsync(Ct);
        await WaitUntilAsync(() => b.Assignment.Count == 4, Deadline, "the silent member's partitions move after its 2 s session timeout (not the 45 s default)");
        bLog.Kinds.Skip(bEvents).Should().Contain(RebalanceEventKind.Rebalancing);
    }

    /// <summary>
    /// A member whose revocation takes longer than its 2 s session timeout (its handler waits for the heartbeats the test
    /// counts, about 3 s of them) keeps its membership: it heartbeats while it revokes, as Java's consumer does during
    /// onPartitionsRevoked, so the coordinator neither expires it nor fences its commit. Eager (revoking before the
    /// rejoin, old generation) and cooperative (revoking after SyncGroup, new generation).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_revocation_slower_than_the_session_timeout_does_not_cost_the_membership(bool cooperative)
    {
        string topic = NewTopic(Cluster, "slow-revoke", partitions: 2);
        string group = NewId("slow-revoke");
        string aId = NewId("a");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        RebalanceLog aLog = new(), bLog = new();
        var heartbeatsWhileRevoking = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        aLog.OnEvent = async (e, ct) =>
        {
            if (e.Kind == RebalanceEventKind.PartitionsRevoked && !heartbeatsWhileRevoking.Task.IsCompleted)
            {
                // 15 heartbeat intervals of 200 ms: half again the session timeout. Without heartbeats the wait ends at
                // the deadline instead, and the test fails on the count.
                int before = heartbeats.From(aId).Count();
                try
                {
                    await WaitUntilAsync(() => heartbeats.From(aId).Count() >= before + 15, TimeSpan.FromSeconds(15), "heartbeats while revoking");
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                }
                heartbeatsWhileRevoking.TrySetResult(heartbeats.From(aId).Count() - before);
            }
        };
        IPartitionAssignor Assignor() => cooperative ? new CooperativeStickyAssignor() : new RangeAssignor();
        var session = TimeSpan.FromSeconds(2);
        await using var a = new KafkaConsumer<string, string>(Options(group, aId, aLog) with { SessionTimeout = session, PartitionAssignors = [Assignor()] });
        await using var b = new KafkaConsumer<string, string>(Options(group, NewId("b"), bLog) with { SessionTimeout = session, PartitionAssignors = [Assignor()] });
        a.Subscribe([topic]);
        await WaitForStableGroupAsync(2, (a, aLog));
        int aHeartbeats = heartbeats.From(aId).Count();

        b.Subscribe([topic]);
        (await heartbeatsWhileRevoking.Task.WaitAsync(Deadline, Ct)).Should().BeGreaterThanOrEqualTo(15, "the member heartbeats while its revocation runs");
        await WaitForStableGroupAsync(2, (a, aLog), (b, bLog));
        a.Assignment.Should().HaveCount(1);
        b.Assignment.Should().HaveCount(1);
        aLog.Kinds.Should().NotContain(RebalanceEventKind.PartitionsLost, "the coordinator never expired the slow member");
        HeartbeatErrors(heartbeats, aId, aHeartbeats).Should().OnlyContain(e => e == 0 || e == (short)ErrorCode.RebalanceInProgress,
            "no heartbeat was answered UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION");
    }

    /// <summary>
    /// Eager members with a 1 s rebalance timeout. A second member joins; the first is stuck in its revocation handler,
    /// so it does not rejoin in time: the coordinator completes the rebalance without it after the rebalance timeout
    /// (the 5 min default would hold the group). Once released, the first member rejoins as a new member.
    /// </summary>
    [Fact]
    public async Task A_member_that_does_not_rejoin_within_the_rebalance_timeout_is_left_out()
    {
        string topic = NewTopic(Cluster, "rebalance-timeout", partitions: 2);
        string group = NewId("rebalance-timeout");
        RebalanceLog aLog = new(), bLog = new();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        aLog.OnEvent = async (e, ct) =>
        {
            if (e.Kind == RebalanceEventKind.PartitionsRevoked)
            {
                await release.Task.WaitAsync(ct);
            }
        };
        var timeout = TimeSpan.FromSeconds(1);
        var a = new KafkaConsumer<string, string>(Options(group, NewId("a"), aLog) with { RebalanceTimeout = timeout, PartitionAssignors = [new RangeAssignor()] });
        try
        {
            await using var b = new KafkaConsumer<string, string>(Options(group, NewId("b"), bLog) with { RebalanceTimeout = timeout, PartitionAssignors = [new RangeAssignor()] });
            a.Subscribe([topic]);
            await WaitForStableGroupAsync(2, (a, aLog));

            b.Subscribe([topic]);
            await WaitUntilAsync(() => aLog.Kinds.Contains(RebalanceEventKind.PartitionsRevoked), Deadline, "the first member is stuck revoking");
            await WaitUntilAsync(() => b.Assignment.Count == 2, Deadline, "the rebalance completes without the stuck member");

            // The stuck member committed and was told its partitions are revoked: it must not hand out their records
            // any more (they belong to the other member now, which reads them from the committed offsets).
            await ProduceAsync(Cluster, topic, 0, 5);
            await ProduceAsync(Cluster, topic, 1, 5);
            (await ConsumeAsync(b, 10)).Should().HaveCount(10);
            (await DrainAsync(a)).Should().BeEmpty("records of partitions being revoked are not handed out after their offsets were committed");

            release.SetResult();
            await WaitForStableGroupAsync(2, (a, aLog), (b, bLog));
            a.Assignment.Should().HaveCount(1);
            b.Assignment.Should().HaveCount(1);
        }
        finally
        {
            release.TrySetResult();
            await a.DisposeAsync();
        }
    }
}
