using System.Collections.Concurrent;
using System.Text;
using KafkaClient.Serialization;
using C = Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Producer;
using Header = KafkaClient.Producer.Header;
using Partitioners = KafkaClient.Producer.Partitioners;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>The producer against librdkafka's mock cluster, read back by Confluent.Kafka.</summary>
public sealed class ProducerTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private readonly LibrdkafkaMockClusterFixture _fixture;

    static ProducerTests() => LibrdkafkaNativeLibrary.ShareWith(typeof(Confluent.Kafka.Library).Assembly);

    public ProducerTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    private ProducerOptions Options => new()
    {
        BootstrapServers = _fixture.BootstrapServers,
        Linger = TimeSpan.FromMilliseconds(5),
        RequestTimeout = TimeSpan.FromSeconds(10),
        DeliveryTimeout = TimeSpan.FromSeconds(30),
        MaxBlock = TimeSpan.FromSeconds(10),
    };

    [Theory]
    [InlineData(KafkaClient.CompressionType.None)]
    [InlineData(KafkaClient.CompressionType.Gzip)]
    [InlineData(KafkaClient.CompressionType.Snappy)]
    [InlineData(KafkaClient.CompressionType.Lz4)]
    [InlineData(KafkaClient.CompressionType.Zstd)]
    public async Task Records_produced_with_each_codec_are_read_back_by_confluent(KafkaClient.CompressionType codec)
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("prod-" + codec);
        _fixture.Cluster.CreateTopic(topic, partitions: 3, replicationFactor: 1);
        await using (var producer = new KafkaProducer<string, string>(Options with { Compression = codec }))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string>
            {
                Key = $"key-{i % 17}",
                Value = $"value-{i}",
                Headers = [new Header("n", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))), new Header("n", null)],
                Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + i),
            }, TestContext.Current.CancellationToken).AsTask()));
            results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted && r.Offset >= 0);
            results.Select(r => (r.Partition, r.Offset)).Should().OnlyHaveUniqueItems();
            foreach (var r in results)
            {
                r.Partition.Should().Be(Partitioners.PartitionForKey(Encoding.UTF8.GetBytes(r.Message.Key!), 3));
            }
        }

        var seen = ConsumeAll(topic, 3, 300);
        seen.Should().HaveCount(300);
        foreach (var record in seen)
        {
            int i = int.Parse(record.Message.Value["value-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            record.Message.Key.Should().Be($"key-{i % 17}");
            record.Message.Timestamp.UnixTimestampMs.Should().Be(1_700_000_000_000 + i);
            record.Message.Headers.Should().HaveCount(2);
            Encoding.UTF8.GetString(record.Message.Headers[0].GetValueBytes()).Should().Be(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            record.Message.Headers[1].GetValueBytes().Should().BeNull();
        }
        // Per-partition order: values for each key appear in produce order.
        foreach (var group in seen.GroupBy(r => r.Message.Key))
        {
            var order = group.OrderBy(r => r.Offset.Value).Select(r => int.Parse(r.Message.Value["value-".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            order.Should().BeInAscendingOrder();
        }
    }

    [Fact]
    public async Task Fire_and_forget_produce_reports_every_delivery_and_flush_waits_for_them()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("callback");
        _fixture.Cluster.CreateTopic(topic, partitions: 4, replicationFactor: 1);
        var delivered = new ConcurrentBag<DeliveryResult<Null, byte[]>>();
        await using var producer = new KafkaProducer<Null, byte[]>(Options);
        var payload = new byte[100];
        for (int i = 0; i < 5_000; i++)
        {
            producer.Produce(topic, new KafkaClient.Producer.Message<Null, byte[]> { Value = payload }, delivered.Add);
        }
        await producer.FlushAsync(TestContext.Current.CancellationToken);

        delivered.Should().HaveCount(5_000);
        delivered.Should().OnlyContain(d => d.Error == null && d.Status == PersistenceStatus.Persisted);
        delivered.Select(d => d.Partition).Distinct().Count().Should().BeGreaterThan(1, "records without a key are spread over partitions by the sticky strategy");
        delivered.Select(d => (d.Partition, d.Offset)).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task The_key_hash_matches_confluent_with_murmur2_random()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("murmur");
        _fixture.Cluster.CreateTopic(topic, partitions: 7, replicationFactor: 1);
        var keys = Enumerable.Range(0, 200).Select(i => $"customer-{i * 7919}").ToList();
        var ours = new Dictionary<string, int>();
        await using (var producer = new KafkaProducer<string, string>(Options))
        {
            foreach (var key in keys)
            {
                var result = await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string> { Key = key, Value = "x" }, TestContext.Current.CancellationToken);
                ours[key] = result.Partition;
            }
        }
        using var confluent = new C.ProducerBuilder<string, string>(new C.ProducerConfig
        {
            BootstrapServers = _fixture.BootstrapServers,
            Partitioner = C.Partitioner.Murmur2Random,
        }).Build();
        foreach (var key in keys)
        {
            var result = await confluent.ProduceAsync(topic, new C.Message<string, string> { Key = key, Value = "x" }, TestContext.Current.CancellationToken);
            result.Partition.Value.Should().Be(ours[key], $"key {key} must land where the Java-compatible hash puts it");
        }
    }

    [Fact]
    public async Task A_typed_partitioner_delegate_routes_by_message_content()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("priority");
        _fixture.Cluster.CreateTopic(topic, partitions: 3, replicationFactor: 1);
        // The seed's priority example: urgent messages to partition 0, everything else spread over the rest.
        await using var producer = new KafkaProducer<string, string>(Options, partitionBy: (_, count, message) =>
            message.Value!.StartsWith("URGENT", StringComparison.Ordinal) ? 0 : 1 + Math.Abs(message.Key!.GetHashCode(StringComparison.Ordinal)) % (count - 1));

        var urgent = await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string> { Key = "a", Value = "URGENT: disk full" }, TestContext.Current.CancellationToken);
        var normal = await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string> { Key = "b", Value = "fyi" }, TestContext.Current.CancellationToken);
        urgent.Partition.Should().Be(0);
        normal.Partition.Should().BeInRange(1, 2);
    }

    [Fact]
    public async Task Retriable_broker_errors_are_retried_without_losing_or_duplicating_records()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("retry");
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<string, string>(Options with { RetryBackoff = TimeSpan.FromMilliseconds(10) });
        await producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string> { Key = "warm", Value = "up" }, TestContext.Current.CancellationToken);
        // NOT_ENOUGH_REPLICAS (19) and NOT_LEADER_OR_FOLLOWER (6) twice each on the next Produce requests.
        _fixture.Cluster.PushRequestErrors(0, 19, 6, 19, 6);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            producer.ProduceAsync(topic, new KafkaClient.Producer.Message<string, string> { Key = "k", Value = $"v{i}" }, TestContext.Current.CancellationToken).AsTask()));

        results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted);
        var seen = ConsumeAll(topic, 1, 21);
        seen.Select(r => r.Message.Value).Should().Equal(new[] { "up" }.Concat(Enumerable.Range(0, 20).Select(i => $"v{i}")));
    }

    [Fact]
    public async Task A_record_larger_than_max_request_size_fails_with_a_typed_error_and_nothing_is_sent()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("big");
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, byte[]>(Options with { MaxRequestSize = 10_000, BufferMemory = 1 << 20 });
        var act = () => producer.ProduceAsync(topic, new KafkaClient.Producer.Message<Null, byte[]> { Value = new byte[20_000] }, TestContext.Current.CancellationToken).AsTask();
        (await act.Should().ThrowAsync<ProduceException<Null, byte[]>>()).Which.ErrorCode.Should().Be(KafkaClient.Errors.ErrorCode.MessageTooLarge);
    }

    [Fact]
    public async Task Dispose_flushes_pending_records()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("dispose");
        _fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 1);
        int delivered = 0;
        var producer = new KafkaProducer<string, string>(Options with { Linger = TimeSpan.FromMilliseconds(200) });
        for (int i = 0; i < 100; i++)
        {
            producer.Produce(topic, new KafkaClient.Producer.Message<string, string> { Key = $"{i}", Value = "v" }, r =>
            {
                if (r.Error is null)
                {
                    Interlocked.Increment(ref delivered);
                }
            });
        }
        await producer.DisposeAsync();
        delivered.Should().Be(100);
    }

    private List<C.ConsumeResult<string, string>> ConsumeAll(string topic, int partitions, int expected)
    {
        using var consumer = new C.ConsumerBuilder<string, string>(new C.ConsumerConfig
        {
            BootstrapServers = _fixture.BootstrapServers,
            GroupId = "reader-" + topic,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new C.TopicPartitionOffset(topic, p, C.Offset.Beginning)));
        var result = new List<C.ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (result.Count < expected && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is not null && !record.IsPartitionEOF)
            {
                result.Add(record);
            }
        }
        return result;
    }
}
