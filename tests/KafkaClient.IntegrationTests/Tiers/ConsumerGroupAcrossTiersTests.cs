using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Producer;
using KafkaClient.TestBrokers;
using C = Confluent.Kafka;

namespace KafkaClient.IntegrationTests.Tiers;

/// <summary>
/// Two of our consumers in one group, with each built-in assignor, on every broker tier (librdkafka's mock is a group
/// coordinator nobody here wrote): the second member's join splits the partitions, the first gives up what moves (all of
/// it under eager assignors, only the moving partitions under cooperative-sticky), and together they read every record,
/// exactly once where the coordinator accepts the revocation's commit.
/// </summary>
/// <remarks>
/// librdkafka's mock refuses an OffsetCommit with REBALANCE_IN_PROGRESS while the group prepares a rebalance (Kafka
/// accepts it from the current generation; only CompletingRebalance refuses it), and its groups rebalance several times
/// after a join. So on the mock an eager revocation's commit fails and the next owner re-reads from the last automatic
/// commit: there the proof is at-least-once (nothing missed), as Kafka's contract promises for a failed commit.
/// </remarks>
public sealed class ConsumerGroupAcrossTiersTests
{
    private const int Partitions = 4;
    private const int PerPartition = 50;

    static ConsumerGroupAcrossTiersTests() => LibrdkafkaNativeLibrary.ShareWith(typeof(C.Library).Assembly);

    public static TheoryData<BrokerTier, string> Cases()
    {
        var cases = new TheoryData<BrokerTier, string>();
        foreach (var tier in new[] { BrokerTier.Embedded, BrokerTier.LibrdkafkaMock, BrokerTier.RealKafka })
        {
            foreach (var assignor in new[] { RangeAssignor.AssignorName, RoundRobinAssignor.AssignorName, StickyAssignor.AssignorName, CooperativeStickyAssignor.AssignorName })
            {
                cases.Add(tier, assignor);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Two_members_split_the_partitions_and_read_every_record_once(BrokerTier tier, string assignorName)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await TierBroker.StartAsync(tier, ct);
        string topic = LibrdkafkaMockClusterFixture.UniqueName("tiers-group");
        await broker.CreateTopicAsync(topic, Partitions);
        await ProduceAsync(broker.BootstrapServers, topic, first: 0, ct);

        IPartitionAssignor Assignor() => assignorName switch
        {
            RangeAssignor.AssignorName => new RangeAssignor(),
            RoundRobinAssignor.AssignorName => new RoundRobinAssignor(),
            StickyAssignor.AssignorName => new StickyAssignor(),
            _ => new CooperativeStickyAssignor(),
        };
        var revokedFromFirst = new List<TopicPartition>();
        ConsumerOptions Options(string name) => new()
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "g-" + topic,
            ClientId = name,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignors = [Assignor()],
            // The mock makes a member joining a stable group wait the session timeout less a second.
            SessionTimeout = TimeSpan.FromSeconds(6),
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            OnRebalance = (e, _) =>
            {
                if (name == "first" && e.Kind == RebalanceEventKind.PartitionsRevoked)
                {
                    lock (revokedFromFirst)
                    {
                        revokedFromFirst.AddRange(e.Partitions);
                    }
                }
                return ValueTask.CompletedTask;
            },
        };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        var seen = new List<(string Member, int Partition, long Offset)>();

        await using var first = new KafkaConsumer<int, string>(Options("first"));
        first.Subscribe([topic]);
        await ReadAsync(first, "first", Partitions * PerPartition, seen, deadline.Token);
        first.Assignment.Should().HaveCount(Partitions, "alone, the first member owns every partition");

        await using var second = new KafkaConsumer<int, string>(Options("second"));
        second.Subscribe([topic]);
        // The first member keeps consuming (nothing new yet) so its membership task sees the rebalance; both settle
        // on two partitions each.
        while (first.Assignment.Count != Partitions / 2 || second.Assignment.Count != Partitions / 2)
        {
            await Task.WhenAll(PollAsync(first, seen, "first", deadline.Token), PollAsync(second, seen, "second", deadline.Token));
        }
        first.Assignment.Concat(second.Assignment).Select(p => p.Partition).Order().Should().Equal(Enumerable.Range(0, Partitions));
        lock (revokedFromFirst)
        {
            if (assignorName == CooperativeStickyAssignor.AssignorName)
            {
                revokedFromFirst.Should().BeEquivalentTo(second.Assignment, "cooperative: only the partitions that moved are revoked");
            }
            else
            {
                revokedFromFirst.Distinct().Should().HaveCount(Partitions, "eager: everything is revoked before the rejoin");
            }
        }

        await ProduceAsync(broker.BootstrapServers, topic, first: PerPartition, ct);
        while (seen.Select(s => (s.Partition, s.Offset)).Distinct().Count() < 2 * Partitions * PerPartition)
        {
            await Task.WhenAll(PollAsync(first, seen, "first", deadline.Token), PollAsync(second, seen, "second", deadline.Token));
        }

        var expected = Enumerable.Range(0, Partitions).SelectMany(p => Enumerable.Range(0, 2 * PerPartition).Select(o => (p, (long)o))).ToHashSet();
        var duplicates = seen.GroupBy(s => (s.Partition, s.Offset)).Where(g => g.Count() > 1).Select(g => $"{g.Key.Partition}@{g.Key.Offset} by {string.Join("+", g.Select(s => s.Member))}").ToList();
        if (tier != BrokerTier.LibrdkafkaMock || assignorName == CooperativeStickyAssignor.AssignorName)
        {
            duplicates.Should().BeEmpty("every record is read once");
        }
        expected.Except(seen.Select(s => (s.Partition, s.Offset))).Should().BeEmpty("every record is read");
        var owners = first.Assignment.ToDictionary(p => p.Partition, _ => "first");
        foreach (var p in second.Assignment)
        {
            owners[p.Partition] = "second";
        }
        seen.Where(s => s.Offset >= PerPartition).Should().OnlyContain(s => owners[s.Partition] == s.Member, "the records produced after the split are read by each partition's owner");
    }

    private static async Task ProduceAsync(string bootstrap, string topic, int first, CancellationToken ct)
    {
        await using var producer = new KafkaProducer<int, string>(new ProducerOptions { BootstrapServers = bootstrap });
        for (int p = 0; p < Partitions; p++)
        {
            await producer.ProduceBatchAsync(new TopicPartition(topic, p),
                Enumerable.Range(first, PerPartition).Select(i => new Message<int, string> { Key = i, Value = $"p{p}-{i}" }), ct);
        }
    }

    private static async Task ReadAsync(KafkaConsumer<int, string> consumer, string name, int count, List<(string, int, long)> seen, CancellationToken ct)
    {
        while (seen.Count < count)
        {
            var r = await consumer.ConsumeAsync(ct);
            r.Value.Should().Be($"p{r.Partition}-{r.Offset}");
            seen.Add((name, r.Partition, r.Offset));
        }
    }

    private static async Task PollAsync(KafkaConsumer<int, string> consumer, List<(string, int, long)> seen, string name, CancellationToken ct)
    {
        var batch = await consumer.ConsumeBatchAsync(500, TimeSpan.FromMilliseconds(200), ct);
        lock (seen)
        {
            seen.AddRange(batch.Select(r => (name, r.Partition, r.Offset)));
        }
    }
}
