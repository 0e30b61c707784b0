using System.Diagnostics;
using KafkaClient.Cluster;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Perf;

/// <summary>
/// The floor for <c>--mode awaited</c>: one record of the same size in a bare Produce request
/// (<see cref="KafkaProtocolClient.SendAsync{TResponse}(Protocol.IKafkaRequest{TResponse}, int, ConnectionPurpose, CancellationToken)"/>
/// on a Produce connection, no producer), awaited in a loop, to partition 0's leader. The
/// producer's awaited p50 is compared with this p50, measured in blocks alternating with the
/// producer's (see RunCommands), so the drift of a shared machine hits both alike. With <c>idempotent</c> the batches carry a
/// producer id and consecutive sequences, as an idempotent producer's do: the broker's duplicate
/// check is part of both round trips, not of the client's overhead.
/// </summary>
internal sealed class BareRoundTrip : IAsyncDisposable
{
    private readonly KafkaProtocolClient _client;
    private readonly string _topic;
    private readonly int _leader;
    private readonly short _acks;
    private readonly long _producerId;
    private readonly short _producerEpoch;
    private readonly byte[] _value;
    private int _sequence;

    private BareRoundTrip(KafkaProtocolClient client, string topic, int leader, short acks, long producerId, short producerEpoch, int size)
    {
        (_client, _topic, _leader, _acks, _producerId, _producerEpoch) = (client, topic, leader, acks, producerId, producerEpoch);
        _value = new byte[size];
    }

    /// <summary>Connects, learns the leader (and a producer id when <paramref name="idempotent"/>), and sends 100 unmeasured requests (connection, version negotiation, JIT).</summary>
    public static async Task<BareRoundTrip> StartAsync(string bootstrap, string topic, int size, short acks, bool idempotent)
    {
        var client = await KafkaProtocolClient.ConnectAsync(new KafkaClientOptions { BootstrapServers = bootstrap, ClientId = "kafkaclient-perf-bare" }).ConfigureAwait(false);
        var metadata = await client.RefreshMetadataAsync([topic]).ConfigureAwait(false);
        int leader = metadata.Partition(topic, 0)?.LeaderId ?? throw new InvalidOperationException($"No leader for {topic}-0.");
        long producerId = -1;
        short producerEpoch = -1;
        if (idempotent)
        {
            var init = await client.SendAsync(new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = int.MaxValue, ProducerId = -1, ProducerEpoch = -1 }).ConfigureAwait(false);
            if (init.ErrorCode != 0)
            {
                throw new InvalidOperationException($"Bare InitProducerId failed with error code {init.ErrorCode}.");
            }
            (producerId, producerEpoch) = (init.ProducerId, init.ProducerEpoch);
        }
        var bare = new BareRoundTrip(client, topic, leader, acks, producerId, producerEpoch, size);
        await bare.MeasureAsync(100, latency: null).ConfigureAwait(false);
        return bare;
    }

    /// <summary>Sends <paramref name="count"/> single-record requests one after another, adding each round trip to <paramref name="latency"/>.</summary>
    public async Task MeasureAsync(int count, LatencyRecorder? latency)
    {
        for (int i = 0; i < count; i++)
        {
            // Built before the clock starts: the floor is the round trip, not the encoding.
            byte[] batch;
            using (var writer = new RecordBatchWriter(_value.Length + 128))
            {
                writer.ProducerId = _producerId;
                writer.ProducerEpoch = _producerEpoch;
                writer.BaseSequence = _producerId >= 0 ? _sequence++ : -1;
                writer.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), NullableBytes.Null, _value);
                batch = writer.Finish().ToArray();
            }
            var request = new ProduceRequest
            {
                Acks = _acks,
                TimeoutMs = 30_000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = _topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
            };
            long start = Stopwatch.GetTimestamp();
            var response = await _client.SendAsync(request, _leader, ConnectionPurpose.Produce).ConfigureAwait(false);
            long elapsed = Stopwatch.GetTimestamp() - start;
            short error = response.Responses[0].PartitionResponses[0].ErrorCode;
            if (error != 0)
            {
                throw new InvalidOperationException($"Bare produce failed with error code {error}.");
            }
            latency?.Add(elapsed);
        }
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
