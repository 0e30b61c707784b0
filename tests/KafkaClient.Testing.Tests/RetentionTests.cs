using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using Microsoft.Extensions.Time.Testing;
using ErrorCode = KafkaClient.Errors.ErrorCode;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// retention.ms and retention.bytes (and the broker defaults) enforced by the periodic sweep:
/// whole batches leave from the start, the log start offset moves, ListOffsets and Fetch see it.
/// </summary>
public sealed class RetentionTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    static RetentionTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Configs(params (string Name, string Value)[] configs) =>
        configs.ToDictionary(c => c.Name, c => (string?)c.Value);

    private static byte[] Batch(int count, long timestamp, string prefix = "v")
    {
        using var writer = new RecordBatchWriter();
        for (int i = 0; i < count; i++)
        {
            writer.Append(timestamp, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"{prefix}{i}"));
        }
        return writer.Finish().ToArray();
    }

    private static async Task ProduceAsync(KafkaProtocolClient client, string topic, byte[] batch)
    {
        var response = await client.SendAsync(new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 5000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
        }, 1, ConnectionPurpose.Produce, Ct);
        response.Responses.Single().PartitionResponses.Single().ErrorCode.Should().Be(0);
    }

    private static async Task<long> EarliestAsync(KafkaProtocolClient client, string topic)
    {
        var response = await client.SendAsync(new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -2 }] }],
        }, 1, ConnectionPurpose.General, Ct);
        return response.Topics.Single().Partitions.Single().Offset;
    }

    private static async Task<FetchResponse.PartitionData> FetchAsync(KafkaProtocolClient client, EmbeddedKafkaCluster cluster, string topic, long offset)
    {
        var response = await client.SendAsync(new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 1 << 20,
            Topics =
            [
                new FetchRequest.FetchTopic
                {
                    Topic = topic,
                    TopicId = cluster.State.GetTopic(topic)!.Id,
                    Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = offset, PartitionMaxBytes = 1 << 20 }],
                },
            ],
        }, 1, ConnectionPurpose.Fetch, Ct);
        return response.Responses.Single().Partitions.Single();
    }

    [Fact]
    public async Task Batches_older_than_retention_ms_leave_from_the_start_as_the_cluster_clock_advances()
    {
        var time = new FakeTimeProvider(Start);
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 1,
            TimeProvider = time,
            LogRetention = TimeSpan.FromMinutes(1),
            RetentionCheckInterval = TimeSpan.FromSeconds(1),
        }, Ct);
        cluster.CreateTopic("by-default");
        cluster.CreateTopic("kept-an-hour", configs: Configs(("retention.ms", "3600000")));
        cluster.CreateTopic("kept-forever", configs: Configs(("retention.ms", "-1")));
        cluster.CreateTopic("compacted", configs: Configs(("cleanup.policy", "compact")));
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers }, Ct);
        long t0 = Start.ToUnixTimeMilliseconds();
        foreach (string topic in new[] { "by-default", "kept-an-hour", "kept-forever", "compacted" })
        {
            await ProduceAsync(client, topic, Batch(2, t0 - 30_000, "old"));   // offsets 0-1
            await ProduceAsync(client, topic, Batch(2, t0, "now"));            // offsets 2-3
            await ProduceAsync(client, topic, Batch(1, t0 + 30_000, "later")); // offset 4
        }

        time.Advance(TimeSpan.FromSeconds(29));
        cluster.DescribePartition("by-default", 0)!.Value.LogStartOffset.Should().Be(0, "the oldest batch is 59 s old, retention is 60 s");

        time.Advance(TimeSpan.FromSeconds(2));
        cluster.DescribePartition("by-default", 0)!.Value.LogStartOffset.Should().Be(2);
        (await EarliestAsync(client, "by-default")).Should().Be(2);
        var outOfRange = await FetchAsync(client, cluster, "by-default", 0);
        outOfRange.ErrorCode.Should().Be((short)ErrorCode.OffsetOutOfRange);
        outOfRange.LogStartOffset.Should().Be(2);
        (await FetchAsync(client, cluster, "by-default", 2)).ErrorCode.Should().Be(0);

        time.Advance(TimeSpan.FromMinutes(1));
        var empty = cluster.DescribePartition("by-default", 0)!.Value;
        empty.LogStartOffset.Should().Be(5, "every batch has expired: the log start offset reaches the log end");
        empty.HighWatermark.Should().Be(5);
        (await EarliestAsync(client, "by-default")).Should().Be(5);

        foreach (string topic in new[] { "kept-an-hour", "kept-forever", "compacted" })
        {
            cluster.DescribePartition(topic, 0)!.Value.LogStartOffset.Should().Be(0, $"{topic} keeps its records");
        }
        time.Advance(TimeSpan.FromHours(1));
        cluster.DescribePartition("kept-an-hour", 0)!.Value.LogStartOffset.Should().Be(5);
        cluster.DescribePartition("kept-forever", 0)!.Value.LogStartOffset.Should().Be(0);
        cluster.DescribePartition("compacted", 0)!.Value.LogStartOffset.Should().Be(0);
    }

    [Fact]
    public async Task Retention_bytes_deletes_the_oldest_batches_while_the_rest_still_reaches_the_limit()
    {
        var time = new FakeTimeProvider(Start);
        byte[] sample = Batch(3, Start.ToUnixTimeMilliseconds());
        long limit = (sample.Length * 2) + (sample.Length / 2);
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 1,
            TimeProvider = time,
            LogRetentionBytes = sample.Length * 4,
        }, Ct);
        cluster.CreateTopic("by-size", configs: Configs(("retention.bytes", limit.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        cluster.CreateTopic("by-broker-default");
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers }, Ct);
        for (int i = 0; i < 5; i++)
        {
            await ProduceAsync(client, "by-size", Batch(3, Start.ToUnixTimeMilliseconds()));
            await ProduceAsync(client, "by-broker-default", Batch(3, Start.ToUnixTimeMilliseconds()));
        }

        time.Advance(TimeSpan.FromSeconds(1));

        // Five batches of S bytes, limit 2.5 S: the first two go (4 S, then 3 S left, both >= 2.5 S); a third would leave 2 S.
        cluster.DescribePartition("by-size", 0)!.Value.LogStartOffset.Should().Be(6);
        (await EarliestAsync(client, "by-size")).Should().Be(6);
        (await FetchAsync(client, cluster, "by-size", 5)).ErrorCode.Should().Be((short)ErrorCode.OffsetOutOfRange);
        // The broker default of 4 S lets one batch go.
        cluster.DescribePartition("by-broker-default", 0)!.Value.LogStartOffset.Should().Be(3);
    }

    [Fact]
    public async Task Confluent_consumer_resets_to_the_new_log_start_after_retention_deleted_old_records()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 1,
            RetentionCheckInterval = TimeSpan.FromMilliseconds(50),
        }, Ct);
        cluster.CreateTopic("expiring", configs: Configs(("retention.ms", "600000")));
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            var anHourAgo = new Timestamp(DateTime.UtcNow.AddHours(-1));
            for (int i = 0; i < 5; i++)
            {
                await producer.ProduceAsync("expiring", new Message<Null, string> { Value = $"old{i}", Timestamp = anHourAgo }, Ct);
            }
            await WaitUntilAsync(() => cluster.DescribePartition("expiring", 0)!.Value.LogStartOffset == 5);
            (await producer.ProduceAsync("expiring", new Message<Null, string> { Value = "fresh" }, Ct)).Offset.Value.Should().Be(5);
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var earliest = await admin.ListOffsetsAsync([new TopicPartitionOffsetSpec { TopicPartition = new Confluent.Kafka.TopicPartition("expiring", 0), OffsetSpec = OffsetSpec.Earliest() }]);
        earliest.ResultInfos.Single().TopicPartitionOffsetError.Offset.Value.Should().Be(5);

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "unused",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset("expiring", 0, 0));
        ConsumeResult<Null, string>? first = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (first is null && DateTime.UtcNow < deadline)
        {
            first = consumer.Consume(TimeSpan.FromMilliseconds(200));
        }
        first.Should().NotBeNull("offset 0 is out of range, so the consumer resets to the earliest offset");
        first!.Offset.Value.Should().Be(5);
        first.Message.Value.Should().Be("fresh");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold before the deadline");
            await Task.Delay(20, Ct);
        }
    }
}
