using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.IntegrationTests.Support;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>
/// Produce with acks=0 (fire and forget) through <see cref="KafkaProtocolClient.SendWithoutResponseAsync"/>
/// against librdkafka's mock cluster. Kafka brokers send no response to acks=0; the mock sends one
/// anyway (TEST-BROKERS.md), so these tests also pin down what that unsolicited response does to
/// the connection.
/// </summary>
public sealed class AcksZeroProduceTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private readonly LibrdkafkaMockClusterFixture _fixture;

    public AcksZeroProduceTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    private static KafkaClientOptions OptionsFor(string bootstrap) => KafkaClientOptions.Default with
    {
        BootstrapServers = bootstrap,
        RequestTimeout = TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Zstd)]
    public async Task Acks0_records_are_appended_and_fetch_sees_them(CompressionType codec)
    {
        var ct = TestContext.Current.CancellationToken;
        string topic = LibrdkafkaMockClusterFixture.UniqueName($"acks0-{codec}".ToLowerInvariant());
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        await using var client = await KafkaProtocolClient.ConnectAsync(OptionsFor(_fixture.BootstrapServers), ct);
        var (leader, topicId) = await client.LocateAsync(topic, 0, ct);
        var records = TestRecord.CreateSet(20, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "acks0");
        using var writer = new RecordBatchWriter();

        var send = client.SendWithoutResponseAsync(WireOperations.ProduceRequestFor(topic, 0, TestRecord.WriteBatch(writer, records, codec), acks: 0), leader, ConnectionPurpose.Produce, ct);
        await send; // completes once flushed; nothing tells us when the broker has appended

        // No response to wait on: poll the log (on the fetch connection) until the records are there.
        var batches = await client.FetchBatchesAsync(leader, topic, topicId, 0, 0, records.Count, TimeSpan.FromSeconds(10), ct);
        batches.Should().ContainSingle().Which.Compression.Should().Be(codec);
        TestRecord.ShouldMatch(batches[0].Records, records, firstOffset: 0);
        (await client.ListOffsetAsync(leader, topic, 0, -1, ct)).Should().Be(records.Count);
    }

    /// <summary>
    /// The mock answers an acks=0 Produce (a real broker never does). The connection remembers the
    /// correlation ids of its fire-and-forget requests and drops such answers, so the request
    /// pipelined behind the acks=0 produce gets its own response and the connection stays healthy.
    /// </summary>
    [Fact]
    public async Task The_mocks_response_to_acks0_is_dropped_and_the_request_behind_it_succeeds()
    {
        var ct = TestContext.Current.CancellationToken;
        // Own cluster: the test slows its broker down.
        await using var cluster = LibrdkafkaMockCluster.Start(1);
        string topic = LibrdkafkaMockClusterFixture.UniqueName("acks0-pipelined");
        cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using var client = await KafkaProtocolClient.ConnectAsync(OptionsFor(cluster.BootstrapServers), ct);
        var (leader, topicId) = await client.LocateAsync(topic, 0, ct);
        await client.SendAsync(new MetadataRequest { Topics = [] }, leader, ConnectionPurpose.Produce, ct); // open the produce connection at full speed

        var records = TestRecord.CreateSet(10, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "acks0");
        using var writer = new RecordBatchWriter();
        // A 500 ms round trip makes the order deterministic: the next request is written long before
        // the mock's answer to the acks=0 produce arrives.
        cluster.SetBrokerRtt(leader, 500);
        await client.SendWithoutResponseAsync(WireOperations.ProduceRequestFor(topic, 0, TestRecord.WriteBatch(writer, records, CompressionType.Lz4), acks: 0), leader, ConnectionPurpose.Produce, ct);
        var behind = client.SendAsync(new MetadataRequest { Topics = [] }, leader, ConnectionPurpose.Produce, ct);

        var response = await behind.WaitAsync(TimeSpan.FromSeconds(8), ct);
        response.Brokers.Should().ContainSingle();

        cluster.SetBrokerRtt(leader, 0);
        // A fresh connection: the acks=0 batch was appended, and a normal produce lands after it.
        var more = TestRecord.CreateSet(5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "after");
        var produced = await client.ProduceAsync(leader, topic, 0, TestRecord.WriteBatch(writer, more, CompressionType.None), acks: -1, ct);
        ((ErrorCode)produced.ErrorCode).Should().Be(ErrorCode.None);
        produced.BaseOffset.Should().Be(records.Count);
        var batches = await client.FetchBatchesAsync(leader, topic, topicId, 0, 0, records.Count + more.Count, TimeSpan.FromSeconds(10), ct);
        TestRecord.ShouldMatch(batches.SelectMany(b => b.Records).ToList(), [.. records, .. more], firstOffset: 0);
    }
}
