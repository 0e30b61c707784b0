using System.Collections.Concurrent;
using Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.Protocol;

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
}
