using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Compression;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Produce: validates the one record batch per partition (framing, CRC, size, codec), appends it
/// to the partition led by this broker with idempotent dedup, and answers per partition. acks=0
/// gets no response; if anything failed the connection is closed instead, as Kafka does.
/// Replication is simulated, so acks=1 and acks=-1 behave the same.
/// </summary>
internal sealed class ProduceHandler() : ApiHandler<ProduceRequest, ProduceResponse>(ApiKey.Produce)
{
    protected override ValueTask<ProduceResponse?> HandleAsync(RequestContext context, ProduceRequest request, CancellationToken cancellationToken)
    {
        if (request.Acks is not (0 or 1 or -1))
        {
            var invalid = ErrorResponse(context, request, ErrorCode.InvalidRequiredAcks);
            return ValueTask.FromResult<ProduceResponse?>(invalid);
        }
        if (request.TransactionalId is { } transactionalId && !context.Authorized(AclOperation.Write, AclResourceType.TransactionalId, transactionalId))
        {
            return ValueTask.FromResult<ProduceResponse?>(ErrorResponse(context, request, ErrorCode.TransactionalIdAuthorizationFailed));
        }
        var response = new ProduceResponse();
        bool anyError = false;
        var endpoints = new HashSet<int>();
        using var reader = new RecordBatchReader();
        foreach (var topicData in request.TopicData)
        {
            var topic = context.Cluster.GetTopic(topicData.Name);
            bool authorized = context.Authorized(AclOperation.Write, AclResourceType.Topic, topicData.Name);
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topicData.Name };
            response.Responses.Add(topicResponse);
            foreach (var partitionData in topicData.PartitionData)
            {
                var result = new ProduceResponse.PartitionProduceResponse
                {
                    Index = partitionData.Index,
                    BaseOffset = -1,
                    LogAppendTimeMs = -1,
                    LogStartOffset = -1,
                };
                topicResponse.PartitionResponses.Add(result);
                Leadership? leadership = null;
                PartitionState? partition = null;
                var error = authorized
                    ? Partitions.FindLed(context, topic, partitionData.Index, out partition, out leadership)
                    : ErrorCode.TopicAuthorizationFailed;
                string? message = null;
                if (error == ErrorCode.None)
                {
                    var append = Append(context, reader, topic!, partition!, leadership!, partitionData.Records);
                    error = append.Error;
                    message = append.Message;
                    if (error == ErrorCode.None)
                    {
                        result.BaseOffset = append.BaseOffset;
                        result.LogStartOffset = append.LogStartOffset;
                    }
                }
                else if (error == ErrorCode.NotLeaderOrFollower && context.ApiVersion >= 10 && leadership!.LeaderId >= 0)
                {
                    result.CurrentLeader = new ProduceResponse.LeaderIdAndEpoch { LeaderId = leadership.LeaderId, LeaderEpoch = leadership.LeaderEpoch };
                    endpoints.Add(leadership.LeaderId);
                }
                if (error != ErrorCode.None)
                {
                    anyError = true;
                    result.ErrorCode = error.Code();
                    if (context.ApiVersion >= 8)
                    {
                        result.ErrorMessage = message;
                    }
                }
            }
        }
        foreach (int id in endpoints.Order())
        {
            var (host, port) = context.Cluster.Endpoint(id);
            response.NodeEndpoints.Add(new ProduceResponse.NodeEndpoint { NodeId = id, Host = host, Port = port });
        }
        if (request.Acks == 0)
        {
            context.CloseConnection = anyError;
            return ValueTask.FromResult<ProduceResponse?>(null);
        }
        return ValueTask.FromResult<ProduceResponse?>(response);
    }

    protected override ProduceResponse ErrorResponse(RequestContext context, ProduceRequest request, ErrorCode error)
    {
        var response = new ProduceResponse();
        foreach (var topicData in request.TopicData)
        {
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topicData.Name };
            foreach (var partitionData in topicData.PartitionData)
            {
                topicResponse.PartitionResponses.Add(new ProduceResponse.PartitionProduceResponse
                {
                    Index = partitionData.Index,
                    ErrorCode = error.Code(),
                    BaseOffset = -1,
                    LogAppendTimeMs = -1,
                    LogStartOffset = -1,
                });
            }
            response.Responses.Add(topicResponse);
        }
        return response;
    }

    private static AppendResult Append(RequestContext context, RecordBatchReader reader, TopicState topic, PartitionState partition, Leadership leadership, ReadOnlyMemory<byte>? records)
    {
        if (records is not { Length: > 0 } bytes)
        {
            return AppendResult.Failed(ErrorCode.InvalidRecord, "Produce requests must carry a record batch.");
        }
        RecordBatchView batch;
        try
        {
            reader.Reset(bytes);
            if (!reader.TryReadBatch(out batch))
            {
                return AppendResult.Failed(ErrorCode.CorruptMessage, "The record batch is truncated.");
            }
            if (reader.TryReadBatch(out _) || reader.TruncatedBytes > 0)
            {
                return AppendResult.Failed(ErrorCode.InvalidRecord, "Produce requests with version 3+ may contain exactly one record batch.");
            }
        }
        catch (CorruptRecordException ex)
        {
            return AppendResult.Failed(ErrorCode.CorruptMessage, ex.Message);
        }
        catch (KafkaProtocolException ex)
        {
            return AppendResult.Failed(ErrorCode.CorruptMessage, ex.Message);
        }
        int maxMessageBytes = topic.MaxMessageBytes(context.Cluster.Options.MaxMessageBytes);
        if (batch.SizeInBytes > maxMessageBytes)
        {
            return AppendResult.Failed(ErrorCode.MessageTooLarge,
                $"The record batch is {batch.SizeInBytes} bytes, larger than the maximum of {maxMessageBytes} (max.message.bytes).");
        }
        if (batch.IsControl)
        {
            return AppendResult.Failed(ErrorCode.InvalidRecord, "Clients may not write control batches.");
        }
        if (batch.RecordCount <= 0 || batch.LastOffsetDelta != batch.RecordCount - 1)
        {
            return AppendResult.Failed(ErrorCode.InvalidRecord,
                $"The record batch holds {batch.RecordCount} records but its last offset delta is {batch.LastOffsetDelta}.");
        }
        if (batch.Compression is < CompressionType.None or > CompressionType.Zstd)
        {
            return AppendResult.Failed(ErrorCode.UnsupportedCompressionType, $"Unknown compression codec id {(int)batch.Compression}.");
        }
        return partition.Log.Append(batch, leadership.LeaderEpoch, context.Cluster.NowMs);
    }
}
