using System.Diagnostics;
using KafkaClient.Cluster;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Perf;

/// <summary>
/// The floor for <c>--mode awaited</c>: one record of the same size in a bare Produce request
/// (<see cref="KafkaProtocolClient.SendAsync{TResponse}(Protocol.IKafkaRequest{TResponse}, int, ConnectionPurpose, CancellationToken)"/>
/// on a Produce connection, no producer, no idempotence), awaited in a loop, to partition 0's
/// leader. The producer's awaited p50 is compared with this p50.
/// </summary>
internal static class BareRoundTrip
{
    public static async Task<(double P50, double P99)?> MeasureAsync(string bootstrap, string topic, int size, short acks, int count)
    {
        await using var client = await KafkaProtocolClient.ConnectAsync(new KafkaClientOptions { BootstrapServers = bootstrap, ClientId = "kafkaclient-perf-bare" }).ConfigureAwait(false);
        var metadata = await client.RefreshMetadataAsync([topic]).ConfigureAwait(false);
        int leader = metadata.Partition(topic, 0)?.LeaderId ?? throw new InvalidOperationException($"No leader for {topic}-0.");
        using var writer = new RecordBatchWriter(size + 128);
        writer.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), NullableBytes.Null, new byte[size]);
        var batch = writer.Finish().ToArray();
        var latency = new LatencyRecorder(count);
        for (int i = -100; i < count; i++) // 100 unmeasured: connection, version negotiation, JIT
        {
            var request = new ProduceRequest
            {
                Acks = acks,
                TimeoutMs = 30_000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
            };
            long start = Stopwatch.GetTimestamp();
            var response = await client.SendAsync(request, leader, ConnectionPurpose.Produce).ConfigureAwait(false);
            long elapsed = Stopwatch.GetTimestamp() - start;
            short error = response.Responses[0].PartitionResponses[0].ErrorCode;
            if (error != 0)
            {
                throw new InvalidOperationException($"Bare produce failed with error code {error}.");
            }
            if (i >= 0)
            {
                latency.Add(elapsed);
            }
        }
        return latency.Percentiles();
    }
}
