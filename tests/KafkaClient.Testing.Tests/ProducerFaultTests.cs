using System.Collections.Concurrent;
using Confluent.Kafka;
using FluentAssertions;
using ErrorCode = KafkaClient.Errors.ErrorCode;
using KcNull = KafkaClient.Serialization.Null;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// Issue 4's fault proof: an idempotent producer writes 200,000 records over 6 partitions while
/// leaders move, a broker stops and restarts, and produce requests fail or lose their connection.
/// Then everything is read back: nothing lost, nothing duplicated, per-key (so per-partition) order
/// intact, every delivery result matching what the log holds.
/// </summary>
public sealed class ProducerFaultTests
{
    private const int Records = 200_000;

    static ProducerFaultTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    [Fact]
    public async Task Idempotent_producer_loses_and_duplicates_nothing_through_leader_moves_broker_restarts_and_injected_errors()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 3 }, ct);
        const string topic = "faults";
        cluster.CreateTopic(topic, partitions: 6, replicationFactor: 3);

        var delivered = new ConcurrentDictionary<int, (int Partition, long Offset)>();
        var errors = new ConcurrentBag<string>();
        int deliveredCount = 0;
        var options = new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            RetryBackoff = TimeSpan.FromMilliseconds(20),
            RetryBackoffMax = TimeSpan.FromMilliseconds(200),
            RequestTimeout = TimeSpan.FromSeconds(5),
            DeliveryTimeout = TimeSpan.FromMinutes(2),
            BufferMemory = 2 * 1024 * 1024, // keeps production going while the faults happen
            MaxRequestSize = 1024 * 1024,
        };

        await using (var producer = new KafkaProducer<string, string>(options))
        {
            var faults = Task.Run(async () =>
            {
                await UntilDelivered(20_000);
                cluster.MovePartitionLeader(topic, 0, cluster.DescribePartition(topic, 0)!.Value.LeaderId % 3 + 1);
                await UntilDelivered(50_000);
                cluster.InjectErrors(ApiKey.Produce, KafkaClient.Errors.ErrorCode.NotLeaderOrFollower, count: 5);
                await UntilDelivered(80_000);
                await cluster.StopBrokerAsync(2, ct);
                await UntilDelivered(110_000);
                await cluster.StartBrokerAsync(2, ct);
                cluster.MovePartitionLeader(topic, 3, 2);
                await UntilDelivered(130_000);
                cluster.InjectErrors(ApiKey.Produce, KafkaClient.Errors.ErrorCode.RequestTimedOut, count: 5);
                await UntilDelivered(160_000);
                cluster.InjectDisconnects(ApiKey.Produce, count: 3);
                return Volatile.Read(ref deliveredCount);
            }, ct);

            var payload = new string('x', 90);
            for (int i = 0; i < Records; i++)
            {
                int value = i;
                producer.Produce(topic, new KafkaClient.Producer.Message<string, string> { Key = $"key-{i % 600}", Value = $"{value:D6}{payload}" }, r =>
                {
                    if (r.Error is not null)
                    {
                        errors.Add($"{value}: {r.Error.Message}");
                    }
                    else
                    {
                        delivered[value] = (r.Partition, r.Offset);
                    }
                    Interlocked.Increment(ref deliveredCount);
                });
            }
            await producer.FlushAsync(ct);
            int deliveredAtLastFault = await faults.WaitAsync(TimeSpan.FromSeconds(30), ct);
            deliveredAtLastFault.Should().BeLessThan(Records, "every fault must strike while records are still being produced");
        }

        errors.Should().BeEmpty();
        delivered.Should().HaveCount(Records);

        // Read everything back with an independent client.
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "fault-reader",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(Enumerable.Range(0, 6).Select(p => new Confluent.Kafka.TopicPartitionOffset(topic, p, Offset.Beginning)));
        var seen = new Dictionary<int, (int Partition, long Offset)>();
        var lastValueForKey = new Dictionary<string, int>();
        int duplicates = 0, outOfOrder = 0, eofs = 0;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (eofs < 6 && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(1));
            if (record is null)
            {
                continue;
            }
            if (record.IsPartitionEOF)
            {
                eofs++;
                continue;
            }
            int value = int.Parse(record.Message.Value.AsSpan(0, 6), System.Globalization.CultureInfo.InvariantCulture);
            if (!seen.TryAdd(value, (record.Partition.Value, record.Offset.Value)))
            {
                duplicates++;
            }
            if (lastValueForKey.TryGetValue(record.Message.Key, out int previous) && previous > value)
            {
                outOfOrder++;
            }
            lastValueForKey[record.Message.Key] = value;
        }

        duplicates.Should().Be(0, "idempotence must drop every retried duplicate");
        outOfOrder.Should().Be(0, "records of one key must keep their produce order");
        seen.Should().HaveCount(Records, "no record may be lost");
        foreach (var (value, position) in delivered)
        {
            seen[value].Should().Be(position, $"the delivery result of record {value} must name where it is stored");
        }

        async Task UntilDelivered(int count)
        {
            var until = DateTime.UtcNow.AddMinutes(1);
            while (Volatile.Read(ref deliveredCount) < count && DateTime.UtcNow < until)
            {
                await Task.Delay(5, ct);
            }
        }
    }

    /// <summary>What the broker saw of one partition's Produce: the batch's producer fields and the answer.</summary>
    private sealed record ProduceSeen(long ProducerId, short Epoch, int BaseSequence, int Records, ErrorCode Error);

    private static ConcurrentQueue<ProduceSeen> RecordProduces(EmbeddedKafkaCluster cluster, ConcurrentQueue<ApiKey>? apis = null)
    {
        var seen = new ConcurrentQueue<ProduceSeen>();
        cluster.RequestHandled += (_, e) =>
        {
            apis?.Enqueue(e.ApiKey);
            if (e.Request is not ProduceRequest request || e.Response is not ProduceResponse response)
            {
                return;
            }
            var partitionData = request.TopicData.Single().PartitionData.Single();
            using var reader = new RecordBatchReader();
            reader.Reset(partitionData.Records!.Value);
            reader.TryReadBatch(out var batch).Should().BeTrue();
            var error = (ErrorCode)response.Responses.Single().PartitionResponses.Single().ErrorCode;
            seen.Enqueue(new ProduceSeen(batch.ProducerId, batch.ProducerEpoch, batch.BaseSequence, batch.RecordCount, error));
        };
        return seen;
    }

    /// <summary>Produces <paramref name="count"/> records "000000".."count-1" to one partition, flushes, and returns their offsets by value.</summary>
    private static async Task<long[]> ProduceNumbered(KafkaProducer<KcNull, string> producer, string topic, int count)
    {
        var offsets = new long[count];
        var errors = new ConcurrentBag<string>();
        for (int i = 0; i < count; i++)
        {
            int value = i;
            producer.Produce(new KafkaClient.TopicPartition(topic, 0), new KafkaClient.Producer.Message<KcNull, string> { Value = $"{value:D6}" + new string('x', 94) }, r =>
            {
                if (r.Error is not null)
                {
                    errors.Add($"{value}: {r.Error.Message}");
                }
                offsets[value] = r.Offset;
            });
        }
        await producer.FlushAsync(TestContext.Current.CancellationToken);
        errors.Should().BeEmpty();
        return offsets;
    }

    /// <summary>Reads the partition back with Confluent.Kafka: values in order, each once, where the delivery results said.</summary>
    private static void ShouldHoldInOrder(EmbeddedKafkaCluster cluster, string topic, long[] offsets, long firstOffset)
    {
        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "in-flight-reader",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, firstOffset));
        var values = new List<(int Value, long Offset)>();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(1));
            if (record is null)
            {
                continue;
            }
            if (record.IsPartitionEOF)
            {
                break;
            }
            values.Add((int.Parse(record.Message.Value.AsSpan(0, 6), System.Globalization.CultureInfo.InvariantCulture), record.Offset.Value));
        }
        values.Select(v => v.Value).Should().Equal(Enumerable.Range(0, offsets.Length), "every record once, in produce order");
        values.Select(v => v.Offset).Should().Equal(offsets, "each delivery result names where its record is stored");
    }

    [Fact]
    public async Task Batches_in_flight_behind_a_failed_batch_are_resent_after_it_in_order_and_without_duplicates()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, ct);
        const string topic = "pipelined";
        cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var produces = RecordProduces(cluster);
        await using var producer = new KafkaProducer<KcNull, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            BatchSize = 1024,
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        });
        await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<KcNull, string> { Value = "warm-up" }, ct);

        // The next Produce is held for a while, then refused as retriable: meanwhile the producer
        // pipelines the partition's next batches behind it, which the broker must refuse as out of order.
        cluster.InjectErrors(ApiKey.Produce, ErrorCode.NotLeaderOrFollower, count: 1, delay: TimeSpan.FromMilliseconds(500));
        var offsets = await ProduceNumbered(producer, topic, 3_000);

        var answers = produces.ToList();
        answers.Count(a => a.Error == ErrorCode.NotLeaderOrFollower).Should().Be(1);
        answers.Count(a => a.Error == ErrorCode.OutOfOrderSequenceNumber).Should().BeInRange(1, 4,
            "batches were in flight behind the failed one (at most MaxInFlightRequestsPerConnection - 1)");
        answers.Select(a => (a.ProducerId, a.Epoch)).Distinct().Should().ContainSingle("a batch refused behind an earlier one is no reason for an epoch bump");
        var accepted = answers.Where(a => a.Error == ErrorCode.None).ToList();
        accepted.Select(a => a.BaseSequence).Should().BeInAscendingOrder("retries keep their original sequences and go in order");
        accepted.Sum(a => a.Records).Should().Be(3_001, "every record is written once");
        ShouldHoldInOrder(cluster, topic, offsets, firstOffset: 1);
    }

    [Fact]
    public async Task A_real_sequence_gap_bumps_the_epoch_and_resends_the_partition_from_sequence_zero_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, ct);
        const string topic = "gap";
        cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var apis = new ConcurrentQueue<ApiKey>();
        var produces = RecordProduces(cluster, apis);
        await using var producer = new KafkaProducer<KcNull, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            BatchSize = 1024,
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        });
        await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<KcNull, string> { Value = "warm-up" }, ct);

        // The first unresolved batch itself is refused as out of order: the broker's sequence
        // state disagrees with ours, which only a new epoch starting at 0 resolves (KIP-360).
        cluster.InjectErrors(ApiKey.Produce, ErrorCode.OutOfOrderSequenceNumber, count: 1, delay: TimeSpan.FromMilliseconds(500));
        var offsets = await ProduceNumbered(producer, topic, 3_000);

        apis.Count(a => a == ApiKey.InitProducerId).Should().Be(2, "one epoch bump");
        var answers = produces.ToList();
        var producers = answers.Select(a => (a.ProducerId, a.Epoch)).Distinct().ToList();
        producers.Should().HaveCount(2);
        var after = answers.Where(a => (a.ProducerId, a.Epoch) == producers[1] && a.Error == ErrorCode.None).ToList();
        after[0].BaseSequence.Should().Be(0, "the new epoch starts at sequence 0");
        after.Select(a => a.BaseSequence).Should().BeInAscendingOrder();
        answers.Where(a => a.Error == ErrorCode.None).Sum(a => a.Records).Should().Be(3_001, "every record is written once");
        ShouldHoldInOrder(cluster, topic, offsets, firstOffset: 1);
    }
}
