using System.Text;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using Microsoft.Extensions.Time.Testing;

namespace KafkaClient.Testing.Tests;

/// <summary>Latency, throttling and responses cut mid-frame, as our protocol client sees them.</summary>
public sealed class FaultInjectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<EmbeddedKafkaCluster> StartAsync(TimeProvider? time = null) =>
        EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 2,
            TimeProvider = time ?? TimeProvider.System,
        }, Ct);

    private static Task<KafkaProtocolClient> ConnectAsync(EmbeddedKafkaCluster cluster, TimeSpan? requestTimeout = null) =>
        KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
        {
            BootstrapServers = cluster.BootstrapServers,
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(15),
        }, Ct);

    private static ProduceRequest Produce(string topic, string value)
    {
        using var writer = new RecordBatchWriter();
        writer.Append(1_000, null, Encoding.UTF8.GetBytes(value));
        return new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 5000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = writer.Finish().ToArray() }] }],
        };
    }

    /// <summary>Advances fake time a second at a time until <paramref name="pending"/> completes; returns how far it advanced.</summary>
    private static async Task<TimeSpan> AdvanceUntilDoneAsync(FakeTimeProvider time, Task pending)
    {
        var advanced = TimeSpan.Zero;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!pending.IsCompleted)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the response should come once the cluster's clock has moved on");
            time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            await Task.WhenAny(pending, Task.Delay(50, Ct));
        }
        await pending;
        return advanced;
    }

    [Fact]
    public async Task A_response_cut_mid_frame_is_a_connection_exception_with_an_unknown_outcome_though_the_produce_was_applied()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("cut", partitions: 1);
        int leader = cluster.DescribePartition("cut", 0)!.Value.LeaderId;
        await using var client = await ConnectAsync(cluster);

        cluster.InjectDropsMidResponse(ApiKey.Produce);
        var first = () => client.SendAsync(Produce("cut", "first"), leader, ConnectionPurpose.Produce, Ct);

        var failure = (await first.Should().ThrowAsync<KafkaConnectionException>()).Which;
        failure.OutcomeUnknown.Should().BeTrue();
        cluster.DescribePartition("cut", 0)!.Value.HighWatermark.Should().Be(1, "the broker appended the batch before the response was cut");

        var second = await client.SendAsync(Produce("cut", "second"), leader, ConnectionPurpose.Produce, Ct);
        second.Responses.Single().PartitionResponses.Single().BaseOffset.Should().Be(1, "the client reconnects and the fault was used up");
    }

    [Fact]
    public async Task Latency_beyond_the_request_timeout_is_a_timeout_exception()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await StartAsync(time);
        await using var client = await ConnectAsync(cluster, requestTimeout: TimeSpan.FromMilliseconds(500));

        cluster.InjectLatency(ApiKey.Metadata, TimeSpan.FromMinutes(1), nodeId: 1);
        var metadata = () => client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, Ct);

        await metadata.Should().ThrowAsync<KafkaTimeoutException>("the cluster's clock does not move, so the answer never comes");
    }

    [Fact]
    public async Task Latency_holds_a_response_until_the_clusters_clock_has_moved_by_it_and_only_on_the_chosen_broker()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await StartAsync(time);
        await using var client = await ConnectAsync(cluster);
        cluster.InjectLatency(ApiKey.Metadata, TimeSpan.FromSeconds(5), count: 2, nodeId: 2);

        (await client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, Ct)).Brokers.Should().HaveCount(2, "broker 1 has no latency");

        var pending = client.SendAsync(new MetadataRequest { Topics = [] }, 2, ConnectionPurpose.General, Ct);
        (await AdvanceUntilDoneAsync(time, pending)).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(5));
        (await pending).Brokers.Should().HaveCount(2);
    }

    [Fact]
    public async Task A_throttled_response_carries_the_throttle_time_and_the_connection_reads_nothing_until_it_has_passed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await StartAsync(time);
        await using var client = await ConnectAsync(cluster);
        cluster.InjectThrottle(ApiKey.Metadata, TimeSpan.FromSeconds(3), nodeId: 1);

        var throttled = await client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, Ct);
        throttled.ThrottleTimeMs.Should().Be(3000);

        var next = client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, Ct);
        (await AdvanceUntilDoneAsync(time, next)).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(3), "the broker mutes the connection for the throttle time (KIP-219)");
        (await next).ThrottleTimeMs.Should().Be(0);
    }
}
