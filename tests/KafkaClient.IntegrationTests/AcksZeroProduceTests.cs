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
    /// The mock answers an acks=0 Produce. Our connection keeps no record of fire-and-forget
    /// requests, so the unsolicited response (correlation id N) is matched against the oldest request
    /// actually awaiting a response (N+1): a correlation mismatch, which fails the whole connection.
    /// What this test pins down: (1) the request pipelined behind the acks=0 produce fails promptly
    /// with a typed, outcome-unknown <see cref="KafkaConnectionException"/> (it must never hang);
    /// (2) the client then reconnects and the partition is intact.
    /// <para>
    /// Documented limitation, not the desired end state: against the mock, every acks=0 produce
    /// costs the produce connection, and whatever is in flight behind it fails. If the connection
    /// learns to discard responses to its own fire-and-forget correlation ids (as librdkafka does),
    /// step (1) will start succeeding: then assert that the pipelined request succeeds instead.
    /// </para>
    /// </summary>
    [Fact]
    public async Task The_mocks_response_to_acks0_fails_the_request_pipelined_behind_it_instead_of_hanging_it()
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

        // Deadline, not synchronisation: well past the mock's 500 ms and below RequestTimeout (10 s),
        // so a request lost by the connection shows up here rather than as a timeout.
        await Task.WhenAny(behind, Task.Delay(TimeSpan.FromSeconds(8), ct));
        behind.IsCompleted.Should().BeTrue("a request behind an unexpected response must complete (here: fail), not hang");
        var failure = await FluentActions.Awaiting(() => behind).Should().ThrowAsync<KafkaConnectionException>();
        failure.Which.OutcomeUnknown.Should().BeTrue("the request had been written when the connection failed");
        failure.Which.InnerException.Should().BeOfType<KafkaProtocolException>()
            .Which.Message.Should().Contain("does not match the oldest request in flight");

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
