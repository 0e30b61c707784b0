using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Producer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Incremental cooperative rebalancing (KIP-429) with <see cref="CooperativeStickyAssignor"/> only.</summary>
public sealed class ConsumerCooperativeTests(ConsumerGroupFixture fixture) : IClassFixture<ConsumerGroupFixture>
{
    private const int Partitions = 6;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The cooperative-sticky assignor, able to hold the group leader inside one assignment: the rebalance is then in
    /// progress (every member has sent JoinGroup and waits for SyncGroup) for as long as the test wants.
    /// </summary>
    private sealed class HoldingAssignor(Func<Action<IReadOnlyDictionary<string, Subscription>, IReadOnlyDictionary<string, Assignment>>?> takeHold) : IPartitionAssignor
    {
        private readonly CooperativeStickyAssignor _inner = new();

        public string Name => _inner.Name;

        public IReadOnlyList<RebalanceProtocol> SupportedProtocols => _inner.SupportedProtocols;

        public ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member) => _inner.GetSubscriptionUserData(member);

        /// <summary>Assigns as cooperative-sticky does; when a hold is armed, runs it (the leader waits) before returning.</summary>
        public IReadOnlyDictionary<string, Assignment> Assign(IReadOnlyDictionary<string, int> partitionCountsByTopic, IReadOnlyDictionary<string, Subscription> subscriptions)
        {
            var result = _inner.Assign(partitionCountsByTopic, subscriptions);
            takeHold()?.Invoke(subscriptions, result);
            return result;
        }

        public void OnAssignment(Assignment assignment, int generationId) => ((IPartitionAssignor)_inner).OnAssignment(assignment, generationId);
    }

    /// <summary>What happened, in one order: records consumed and group events of both members.</summary>
    private sealed record Entry(long Seq, string Member, RebalanceEvent? Event, int Partition, long Offset);

    [Fact]
    public async Task Adding_a_member_revokes_only_the_partitions_that_move_and_the_first_member_keeps_consuming_the_rest_during_the_rebalance()
    {
        string topic = EmbeddedClusterFixture.UniqueName("coop");
        string group = EmbeddedClusterFixture.UniqueName("coop-group");
        fixture.Cluster.CreateTopic(topic, Partitions, replicationFactor: 1);
        var journal = new ConcurrentQueue<Entry>();
        long seq = 0;
        var progress = new Pulse();
        // Whichever member leads the rebalance runs the hold, once.
        Action<IReadOnlyDictionary<string, Subscription>, IReadOnlyDictionary<string, Assignment>>? hold = null;
        var assignors = new[] { new HoldingAssignor(() => Interlocked.Exchange(ref hold, null)), new HoldingAssignor(() => Interlocked.Exchange(ref hold, null)) };

        KafkaConsumer<int, ReadOnlyMemory<byte>> NewMember(string name, HoldingAssignor assignor) => new(new ConsumerOptions
        {
            BootstrapServers = fixture.Cluster.BootstrapServers,
            ClientId = name,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignors = [assignor],
            SessionTimeout = TimeSpan.FromSeconds(10),
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            RebalanceTimeout = TimeSpan.FromSeconds(30),
            OnRebalance = (e, _) =>
            {
                journal.Enqueue(new Entry(Interlocked.Increment(ref seq), name, e, -1, -1));
                progress.Fire();
                return ValueTask.CompletedTask;
            },
        });

        // Records keep arriving in every partition for the whole test.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var writer = Task.Run(async () =>
        {
            await using var producer = new KafkaProducer<int, byte[]>(new ProducerOptions { BootstrapServers = fixture.Cluster.BootstrapServers, Linger = TimeSpan.FromMilliseconds(2) });
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                producer.Produce(new TopicPartition(topic, i % Partitions), new Message<int, byte[]> { Key = i, Value = new byte[10] });
                if (i % 60 == 59)
                {
                    await producer.FlushAsync(Ct);
                }
            }
        }, Ct);

        Task ConsumeAll(string name, KafkaConsumer<int, ReadOnlyMemory<byte>> consumer) => Task.Run(async () =>
        {
            try
            {
                await foreach (var record in consumer.ConsumeAllAsync(stop.Token))
                {
                    journal.Enqueue(new Entry(Interlocked.Increment(ref seq), name, null, record.Partition, record.Offset));
                    progress.Fire();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }, Ct);

        await using var first = NewMember("first", assignors[0]);
        first.Subscribe([topic]);
        var firstLoop = ConsumeAll("first", first);
        await WaitUntilAsync(() => first.Assignment.Count == Partitions && journal.Count(e => e.Member == "first" && e.Event is null) > 500, Timeout,
            "the first member owns every partition and consumes", progress);
        var before = first.Assignment.ToHashSet();

        // Hold the rebalance inside the leader's assignment until the first member has consumed records of partitions it keeps.
        IReadOnlySet<TopicPartition> kept = new HashSet<TopicPartition>();
        IReadOnlySet<TopicPartition> moving = new HashSet<TopicPartition>();
        long holdStart = 0;
        bool held = false;
        {
            Interlocked.Exchange(ref hold, (subscriptions, result) =>
            {
                var owned = subscriptions[first.MemberId].OwnedPartitions.ToHashSet();
                var keeps = result[first.MemberId].Partitions.ToHashSet();
                kept = owned.Intersect(keeps).ToHashSet();
                moving = owned.Except(keeps).ToHashSet();
                holdStart = Interlocked.Read(ref seq);
                var keptPartitions = kept.Select(p => p.Partition).ToHashSet();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
                var next = progress.Next;
                while (journal.Count(e => e.Member == "first" && e.Event is null && e.Seq > holdStart && keptPartitions.Contains(e.Partition)) < 100 && DateTime.UtcNow < deadline)
                {
                    next.Wait(TimeSpan.FromMilliseconds(100), Ct);
                    next = progress.Next;
                }
                held = true;
            });
        }
        await using var second = NewMember("second", assignors[1]);
        second.Subscribe([topic]);
        var secondLoop = ConsumeAll("second", second);
        await WaitUntilAsync(() => held && second.Assignment.Count > 0 && first.Assignment.Count + second.Assignment.Count == Partitions
            && second.Assignment.All(tp => journal.Any(e => e.Member == "second" && e.Event is null && e.Partition == tp.Partition)),
            Timeout, "the second member gets its share and consumes from each of its partitions", progress,
            () => string.Join(Environment.NewLine, journal.Where(e => e.Event is not null)));
        await stop.CancelAsync();
        await Task.WhenAll(writer, firstLoop, secondLoop);

        var entries = journal.OrderBy(e => e.Seq).ToList();
        var firstEvents = entries.Where(e => e.Member == "first" && e.Event is not null).Select(e => e.Event!).ToList();
        var secondEvents = entries.Where(e => e.Member == "second" && e.Event is not null).Select(e => e.Event!).ToList();

        moving.Should().NotBeEmpty("a second member takes some partitions");
        kept.Should().NotBeEmpty();
        first.Assignment.Should().BeEquivalentTo(kept, "the first member keeps what the assignor left it");
        second.Assignment.Should().BeEquivalentTo(moving, "the second member gets exactly the partitions that moved");
        firstEvents.Where(e => e.Kind == RebalanceEventKind.PartitionsRevoked).Should().ContainSingle()
            .Which.Partitions.Should().BeEquivalentTo(moving, "only the partitions that move are revoked");
        firstEvents.Should().NotContain(e => e.Kind == RebalanceEventKind.PartitionsLost);
        secondEvents.Should().NotContain(e => e.Kind == RebalanceEventKind.PartitionsRevoked || e.Kind == RebalanceEventKind.PartitionsLost);
        secondEvents.Where(e => e.Kind == RebalanceEventKind.PartitionsAssigned).SelectMany(e => e.Partitions).Should().BeEquivalentTo(moving);

        // During the rebalance (between the first member's Rebalancing and GroupJoined events), records of the partitions it keeps kept arriving.
        long rebalancing = entries.First(e => e.Member == "first" && e.Event?.Kind == RebalanceEventKind.Rebalancing && e.Seq > 0 && e.Event.GenerationId >= 1).Seq;
        long joined = entries.First(e => e.Member == "first" && e.Event?.Kind == RebalanceEventKind.GroupJoined && e.Seq > rebalancing).Seq;
        var keptIndexes = kept.Select(p => p.Partition).ToHashSet();
        int during = entries.Count(e => e.Member == "first" && e.Event is null && e.Seq > rebalancing && e.Seq < joined && keptIndexes.Contains(e.Partition));
        during.Should().BeGreaterThanOrEqualTo(100, "the first member consumes the partitions it keeps while the group rebalances");

        // No gap, no duplicate: the first member's run over each kept partition is one contiguous sequence, and the second
        // member starts each moved partition right after the first member's last record (committed on revocation).
        foreach (var tp in before)
        {
            var byFirst = entries.Where(e => e.Member == "first" && e.Event is null && e.Partition == tp.Partition).Select(e => e.Offset).ToList();
            byFirst.Should().Equal(Enumerable.Range(0, byFirst.Count).Select(i => (long)i), $"the first member reads {tp} from 0 without gaps or repeats");
            if (moving.Contains(tp))
            {
                var bySecond = entries.Where(e => e.Member == "second" && e.Event is null && e.Partition == tp.Partition).Select(e => e.Offset).ToList();
                bySecond.Should().NotBeEmpty();
                bySecond.Should().Equal(Enumerable.Range(0, bySecond.Count).Select(i => byFirst.Count + (long)i), $"the second member continues {tp} where the first stopped");
            }
        }
    }
}
