using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.IntegrationTests.Support;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>
/// Record batches through the raw wire layer against librdkafka's mock cluster, for every codec:
/// Produce (acks=-1 and acks=1), Fetch at the negotiated version (by topic id on v13+) and
/// ListOffsets must agree on every offset, key, value, header and timestamp.
/// </summary>
public sealed class RecordRoundTripTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private const int Partition = 1;
    private readonly LibrdkafkaMockClusterFixture _fixture;

    public RecordRoundTripTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    public static TheoryData<CompressionType, short> CodecsAndAcks()
    {
        var data = new TheoryData<CompressionType, short>();
        foreach (var codec in Enum.GetValues<CompressionType>())
        {
            data.Add(codec, -1);
            data.Add(codec, 1);
        }
        return data;
    }

    private KafkaClientOptions Options => KafkaClientOptions.Default with
    {
        BootstrapServers = _fixture.BootstrapServers,
        RequestTimeout = TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Fetch_is_negotiated_at_a_version_that_addresses_topics_by_id()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, ct);
        var versions = await client.GetApiVersionsAsync(1, ct);
        // The round trips below then prove the topic-id path; the mock implements Fetch up to v16.
        versions.Select(new FetchRequest()).Should().Be(16);
        versions.Select(new ProduceRequest()).Should().Be(10);
        versions.Select(new ListOffsetsRequest()).Should().Be(7);
    }

    [Theory]
    [MemberData(nameof(CodecsAndAcks))]
    public async Task Produced_batches_fetch_back_identically_and_list_offsets_agree(CompressionType codec, short acks)
    {
        var ct = TestContext.Current.CancellationToken;
        string topic = LibrdkafkaMockClusterFixture.UniqueName($"roundtrip-{codec}-{acks}".ToLowerInvariant());
        _fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 3);
        await using var client = await KafkaProtocolClient.ConnectAsync(Options, ct);
        var (leader, topicId) = await client.LocateAsync(topic, Partition, ct);
        topicId.Should().NotBe(Guid.Empty, "Metadata v10+ reports topic ids");

        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var first = TestRecord.CreateSet(40, now - 60_000, "first");
        var second = TestRecord.CreateSet(25, now, "second");
        using var writer = new RecordBatchWriter();

        var produced1 = await client.ProduceAsync(leader, topic, Partition, TestRecord.WriteBatch(writer, first, codec), acks, ct);
        ((ErrorCode)produced1.ErrorCode).Should().Be(ErrorCode.None);
        produced1.BaseOffset.Should().Be(0);
        // (LogAppendTimeMs is not checked: the mock answers a constant 1234 whatever the topic's timestamp type.)
        var produced2 = await client.ProduceAsync(leader, topic, Partition, TestRecord.WriteBatch(writer, second, codec), acks, ct);
        ((ErrorCode)produced2.ErrorCode).Should().Be(ErrorCode.None);
        produced2.BaseOffset.Should().Be(first.Count);

        (await client.ListOffsetAsync(leader, topic, Partition, -2, ct)).Should().Be(0, "earliest");
        (await client.ListOffsetAsync(leader, topic, Partition, -1, ct)).Should().Be(first.Count + second.Count, "latest");
        var (otherLeader, _) = await client.LocateAsync(topic, 0, ct);
        (await client.ListOffsetAsync(otherLeader, topic, 0, -1, ct)).Should().Be(0, "nothing was written to the other partition");

        var batches = await client.FetchBatchesAsync(leader, topic, topicId, Partition, 0, first.Count + second.Count, TimeSpan.FromSeconds(10), ct);
        batches.Select(b => (b.BaseOffset, b.RecordCount)).Should().Equal((0L, first.Count), ((long)first.Count, second.Count));
        batches.Should().OnlyContain(b => b.Compression == codec && b.TimestampType == TimestampType.CreateTime);
        batches[0].MaxTimestamp.Should().Be(first.Max(r => r.Timestamp));
        batches[1].MaxTimestamp.Should().Be(second.Max(r => r.Timestamp));
        TestRecord.ShouldMatch(batches.SelectMany(b => b.Records).ToList(), [.. first, .. second], firstOffset: 0);

        // From the middle of the second batch: the broker returns the whole batch, the reader's
        // offsets tell which records the consumer skips.
        long middle = first.Count + 7;
        var fromMiddle = await client.FetchBatchesAsync(leader, topic, topicId, Partition, middle, second.Count - 7, TimeSpan.FromSeconds(10), ct);
        fromMiddle.Should().ContainSingle().Which.BaseOffset.Should().Be(first.Count);
        TestRecord.ShouldMatch(fromMiddle[0].Records, second.Skip(7).ToList(), firstOffset: middle);
    }
}
