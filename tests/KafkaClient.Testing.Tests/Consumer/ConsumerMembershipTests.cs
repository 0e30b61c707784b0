using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Static membership (KIP-345) and coordinator failover, with our consumers against the embedded group coordinator.</summary>
public sealed class ConsumerMembershipTests(ConsumerGroupFixture fixture) : IClassFixture<ConsumerGroupFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    /// <summary>One of our consumers, consuming on its own task and recording what it got and every group event.</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Member(string name, ConsumerOptions options, string topic, ConcurrentDictionary<(int Partition, long Offset), int> consumed, Pulse progress)
        {
            Name = name;
            Consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(options with
            {
                ClientId = name,
                OnRebalance = (e, _) =>
                {
                    Events.Enqueue(e);
                    progress.Fire();
                    return ValueTask.CompletedTask;
                },
            });
            Consumer.Subscribe([topic]);
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var record = await Consumer.ConsumeAsync(_stop.Token);
                        record.Key.Should().Be(record.Partition + (Partitions * (int)record.Offset), "the record carries the key written at its partition and offset");
                        consumed.AddOrUpdate((record.Partition, record.Offset), 1, (_, n) => n + 1);
                        Interlocked.Increment(ref Count);
                        progress.Fire();
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            });
        }

        public string Name { get; }

        public KafkaConsumer<int, ReadOnlyMemory<byte>> Consumer { get; }

        public ConcurrentQueue<RebalanceEvent> Events { get; } = new();

        public int Count;

        public IReadOnlyList<RebalanceEvent> EventsOf(params RebalanceEventKind[] kinds) => [.. Events.Where(e => kinds.Contains(e.Kind))];

        /// <summary>Stops consuming and closes the consumer (commits; a dynamic member leaves the group, a static one stays).</summary>
        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await Consumer.DisposeAsync();
            _stop.Dispose();
        }
    }

    private const int Partitions = 6;

    private ConsumerOptions Options(string group, string? instance = null, TimeSpan? session = null) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = group,
        GroupInstanceId = instance,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        CommitStrategy = CommitStrategy.AutoCommitDelivered,
        AutoCommitInterval = TimeSpan.FromMilliseconds(300),
        SessionTimeout = session ?? TimeSpan.FromSeconds(3),
        HeartbeatInterval = TimeSpan.FromMilliseconds(300),
        RebalanceTimeout = TimeSpan.FromSeconds(15),
    };

    private static bool Shares(IReadOnlyList<Member> members) =>
        members.All(m => m.Consumer.Assignment.Count > 0)
        && members.Sum(m => m.Consumer.Assignment.Count) == Partitions
        && members.SelectMany(m => m.Consumer.Assignment).Distinct().Count() == Partitions;

    private static string Describe(IEnumerable<Member> members) => string.Join("; ", members.Select(m =>
        $"{m.Name}: [{string.Join(",", m.Consumer.Assignment.Select(p => p.Partition))}] gen {m.Consumer.GroupMetadata.GenerationId} consumed {m.Count}, events {string.Join(" ", m.Events.Select(e => e.Kind))}"));

    [Fact]
    public async Task A_static_member_that_restarts_within_the_session_timeout_gets_its_partitions_back_without_a_rebalance()
    {
        string topic = EmbeddedClusterFixture.UniqueName("static");
        string group = EmbeddedClusterFixture.UniqueName("static-group");
        Cluster.CreateTopic(topic, Partitions, replicationFactor: 1);
        await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, 600);
        var consumed = new ConcurrentDictionary<(int, long), int>();
        var progress = new Pulse();
        var session = TimeSpan.FromSeconds(20);

        var first = new Member("s1", Options(group, "instance-1", session), topic, consumed, progress);
        await using var other = new Member("s2", Options(group, "instance-2", session), topic, consumed, progress);
        await WaitUntilAsync(() => Shares([first, other]) && consumed.Count == 600, Timeout, "both static members share the partitions and read everything",
            progress, () => Describe([first, other]));
        var firstAssignment = first.Consumer.Assignment.ToHashSet();
        int generation = other.Consumer.GroupMetadata.GenerationId;
        int otherEvents = other.Events.Count;

        // The restart: close (commits; a static member does not leave) and come back with the same instance id.
        await first.DisposeAsync();
        await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, 600, first: 600);
        await using var restarted = new Member("s1-again", Options(group, "instance-1", session), topic, consumed, progress);
        await WaitUntilAsync(() => restarted.Consumer.Assignment.Count > 0 && consumed.Count == 1200, Timeout,
            "the restarted member gets partitions and the new records are read", progress, () => Describe([restarted, other]));

        restarted.Consumer.Assignment.Should().BeEquivalentTo(firstAssignment, "a static member that returns within its session gets its own partitions back");
        other.Events.Skip(otherEvents).Should().BeEmpty("the other member is not revoked (nor rebalanced at all) when a static member restarts");
        other.Consumer.GroupMetadata.GenerationId.Should().Be(generation, "the group did not rebalance");
        restarted.Consumer.GroupMetadata.GenerationId.Should().Be(generation, "the restarted member rejoins the current generation");
        restarted.EventsOf(RebalanceEventKind.PartitionsAssigned).SelectMany(e => e.Partitions).Should().BeEquivalentTo(firstAssignment);
        consumed.Values.Should().OnlyContain(n => n == 1, "the restarted member resumes at the offsets committed when it closed");
        restarted.Count.Should().BeGreaterThan(0, "the restarted member reads the new records of its partitions");
    }

    [Fact]
    public async Task The_group_keeps_consuming_without_loss_when_the_coordinator_broker_stops_and_returns()
    {
        string topic = EmbeddedClusterFixture.UniqueName("failover");
        string group = EmbeddedClusterFixture.UniqueName("failover-group");
        Cluster.CreateTopic(topic, Partitions, replicationFactor: 3);
        await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, 3000);
        var consumed = new ConcurrentDictionary<(int, long), int>();
        var progress = new Pulse();
        var log = new CapturedLog();
        var coordinatorLost = new ConcurrentDictionary<string, int>();
        log.OnLine = (member, id, _) =>
        {
            if (id.Id == 1215)
            {
                coordinatorLost.AddOrUpdate(member, 1, (_, n) => n + 1);
                progress.Fire();
            }
        };
        var members = new List<Member>();
        Member Start(string name)
        {
            var member = new Member(name, Options(group) with { LoggerFactory = log.For(name) }, topic, consumed, progress);
            members.Add(member);
            return member;
        }

        try
        {
            Start("m1");
            Start("m2");
            await WaitUntilAsync(() => Shares(members) && consumed.Count == 3000, Timeout, "two members share the partitions and read everything",
                progress, () => Describe(members));

            // The members are idle (everything consumed and committed) when the coordinator's broker stops: only their heartbeats notice.
            var all = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(topic, p)).ToList();
            await using var observer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, GroupId = group });
            async Task CommittedAsync(int total, string because)
            {
                IReadOnlyList<TopicPartitionOffset> committed = [];
                await WaitUntilAsync(async () =>
                {
                    committed = await observer.CommittedAsync(all, Ct);
                    return committed.All(c => c.Offset == total / Partitions);
                }, Timeout, because, () => string.Join(", ", committed));
            }
            await CommittedAsync(3000, "the members commit what they consumed");
            int coordinator = Cluster.State.CoordinatorFor(group);
            await Cluster.StopBrokerAsync(coordinator, Ct);
            await WaitUntilAsync(() => coordinatorLost.ContainsKey("m1") && coordinatorLost.ContainsKey("m2"), Timeout,
                $"both members notice that their coordinator (broker {coordinator}) is gone", progress, () => Describe(members) + Environment.NewLine + log.Dump());
            Cluster.State.CoordinatorFor(group).Should().NotBe(coordinator);

            // A new member joins through the new coordinator: the group can only rebalance if the others found it too.
            Start("m3");
            await WaitUntilAsync(() => Shares(members), Timeout, "all three members share the partitions under the new coordinator",
                progress, () => Describe(members) + Environment.NewLine + log.Dump());
            await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, 3000, first: 3000);
            await WaitUntilAsync(() => consumed.Count == 6000, Timeout, "the records written while the broker is down are read", progress, () => Describe(members));

            // The broker returns and takes the coordinator back: the members move again (NOT_COORDINATOR, then FindCoordinator).
            await Cluster.StartBrokerAsync(coordinator, Ct);
            Cluster.State.CoordinatorFor(group).Should().Be(coordinator);
            int generation = members[0].Consumer.GroupMetadata.GenerationId;
            await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, 3000, first: 6000);
            await WaitUntilAsync(() => consumed.Count == 9000, Timeout, "the records written after the broker returned are read", progress, () => Describe(members));
            await CommittedAsync(9000, "the members commit everything to the returned coordinator");

            members.Should().AllSatisfy(m => m.EventsOf(RebalanceEventKind.PartitionsLost).Should().BeEmpty($"{m.Name} never loses its membership"));
            members.Select(m => m.Consumer.GroupMetadata.GenerationId).Should().AllBeEquivalentTo(generation, "the coordinator moving back causes no rebalance");
            consumed.Keys.Order().Should().Equal(Enumerable.Range(0, Partitions).SelectMany(p => Enumerable.Range(0, 9000 / Partitions).Select(o => (p, (long)o))),
                "every record is consumed");
            consumed.Values.Should().OnlyContain(n => n == 1, "the handovers committed first, so no record is read twice");
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }
}
