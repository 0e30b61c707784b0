using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.IntegrationTests.Support;
using KafkaClient.Protocol.Records;
using KafkaClient.TestBrokers;
using CK = Confluent.Kafka;

namespace KafkaClient.IntegrationTests;

/// <summary>
/// Interop with Confluent.Kafka (librdkafka) as an independent peer, through librdkafka's mock
/// cluster, for every codec: batches librdkafka compresses decode identically with our reader, and
/// batches our writer compresses read back identically through a Confluent consumer (which also
/// checks our CRCs).
/// </summary>
public sealed class ConfluentInteropTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private const int Partition = 1;
    private readonly LibrdkafkaMockClusterFixture _fixture;

    public ConfluentInteropTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    public static TheoryData<CK.CompressionType> Codecs() =>
        [CK.CompressionType.None, CK.CompressionType.Gzip, CK.CompressionType.Snappy, CK.CompressionType.Lz4, CK.CompressionType.Zstd];

    private KafkaClientOptions Options => KafkaClientOptions.Default with
    {
        BootstrapServers = _fixture.BootstrapServers,
        RequestTimeout = TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    [Theory]
    [MemberData(nameof(Codecs))]
    public async Task Batches_a_Confluent_producer_compresses_decode_identically_with_our_reader(CK.CompressionType codec)
    {
        var ct = TestContext.Current.CancellationToken;
        string topic = LibrdkafkaMockClusterFixture.UniqueName($"from-confluent-{codec}".ToLowerInvariant());
        _fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 3);
        var records = TestRecord.CreateSet(30, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 10_000, $"confluent-{codec}");

        var reports = new List<CK.DeliveryReport<byte[]?, byte[]?>>();
        using (var producer = ConfluentPeer.Producer(_fixture.BootstrapServers, config =>
        {
            config.CompressionType = codec;
            // Flush() sends at once whatever the linger, so a long linger costs nothing here.
            config.LingerMs = 2_000;
            config.BatchNumMessages = records.Count;
        }))
        {
            // Warm up (JIT, metadata, connection) on the other partition first: otherwise the first
            // record tends to leave alone, and librdkafka sends a batch uncompressed when compressing
            // does not make it smaller, which a one-record batch often is not.
            producer.Produce(new CK.TopicPartition(topic, new CK.Partition(0)), new CK.Message<byte[]?, byte[]?> { Value = [1] });
            producer.Flush(TimeSpan.FromSeconds(15)).Should().Be(0);
            foreach (var record in records)
            {
                producer.Produce(new CK.TopicPartition(topic, new CK.Partition(Partition)), ConfluentPeer.ToMessage(record), report =>
                {
                    lock (reports)
                    {
                        reports.Add(report);
                    }
                });
            }
            producer.Flush(TimeSpan.FromSeconds(15)).Should().Be(0, "every record is delivered within the deadline");
        }
        lock (reports)
        {
            reports.Should().HaveCount(records.Count).And.OnlyContain(r => r.Error.Code == CK.ErrorCode.NoError && r.Partition.Value == Partition);
            reports.Select(r => r.Offset.Value).Order().Should().Equal(Enumerable.Range(0, records.Count).Select(i => (long)i));
        }

        await using var client = await KafkaProtocolClient.ConnectAsync(Options, ct);
        var (leader, topicId) = await client.LocateAsync(topic, Partition, ct);
        var batches = await client.FetchBatchesAsync(leader, topic, topicId, Partition, 0, records.Count, TimeSpan.FromSeconds(10), ct);

        batches.Should().OnlyContain(b => b.Compression == ConfluentPeer.ToOurs(codec), $"librdkafka compressed every batch with {codec}");
        batches.Should().Contain(b => b.RecordCount > 1, "several records share a batch (linger, batch.num.messages)");
        batches.Should().OnlyContain(b => b.TimestampType == TimestampType.CreateTime && b.MaxTimestamp == b.Records.Max(r => r.Timestamp));
        TestRecord.ShouldMatch(batches.SelectMany(b => b.Records).ToList(), records, firstOffset: 0);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public async Task Batches_we_compress_read_back_identically_through_a_Confluent_consumer(CK.CompressionType codec)
    {
        var ct = TestContext.Current.CancellationToken;
        string topic = LibrdkafkaMockClusterFixture.UniqueName($"to-confluent-{codec}".ToLowerInvariant());
        _fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 3);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var first = TestRecord.CreateSet(30, now - 20_000, $"ours-{codec}-1");
        var second = TestRecord.CreateSet(12, now, $"ours-{codec}-2");

        await using (var client = await KafkaProtocolClient.ConnectAsync(Options, ct))
        {
            var (leader, _) = await client.LocateAsync(topic, Partition, ct);
            using var writer = new RecordBatchWriter();
            long expectedBase = 0;
            foreach (var batch in new[] { first, second })
            {
                var produced = await client.ProduceAsync(leader, topic, Partition, TestRecord.WriteBatch(writer, batch, ConfluentPeer.ToOurs(codec)), acks: -1, ct);
                ((ErrorCode)produced.ErrorCode).Should().Be(ErrorCode.None);
                produced.BaseOffset.Should().Be(expectedBase);
                expectedBase += batch.Count;
            }
        }

        var expected = first.Concat(second).ToList();
        var received = new List<TestRecord>();
        using (var consumer = ConfluentPeer.Consumer(_fixture.BootstrapServers))
        {
            consumer.Assign(new CK.TopicPartitionOffset(topic, new CK.Partition(Partition), CK.Offset.Beginning));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (received.Count < expected.Count && DateTime.UtcNow < deadline)
            {
                ct.ThrowIfCancellationRequested();
                var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }
                result.TopicPartition.Should().Be(new CK.TopicPartition(topic, new CK.Partition(Partition)));
                result.Message.Timestamp.Type.Should().Be(CK.TimestampType.CreateTime);
                received.Add(ConfluentPeer.FromResult(result));
            }
            consumer.Close();
        }

        received.Should().HaveCount(expected.Count, "the consumer reads every record within the deadline");
        TestRecord.ShouldMatch(received, expected, firstOffset: 0);
    }
}
