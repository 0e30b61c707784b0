using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// ListOffsets: earliest (-2), latest (-1; the last stable offset for read_committed), max
/// timestamp (-3), earliest local (-4), and the first offset at or after a timestamp.
/// </summary>
internal sealed class ListOffsetsHandler() : ApiHandler<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets)
{
    private const long Latest = -1;
    private const long Earliest = -2;
    private const long MaxTimestamp = -3;
    private const long EarliestLocal = -4;
    private const long EarliestPendingUpload = -5;
    private const long LatestTiered = -6;

    protected override ValueTask<ListOffsetsResponse?> HandleAsync(RequestContext context, ListOffsetsRequest request, CancellationToken cancellationToken)
    {
        var response = new ListOffsetsResponse();
        bool readCommitted = context.ApiVersion >= 2 && request.IsolationLevel == 1;
        foreach (var wanted in request.Topics)
        {
            var topic = context.Cluster.GetTopic(wanted.Name);
            var topicResponse = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = wanted.Name };
            response.Topics.Add(topicResponse);
            foreach (var p in wanted.Partitions)
            {
                var result = new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex, Timestamp = -1, Offset = -1, LeaderEpoch = -1 };
                topicResponse.Partitions.Add(result);
                if (!context.Authorized(AclOperation.Describe, AclResourceType.Topic, wanted.Name))
                {
                    result.ErrorCode = ErrorCode.TopicAuthorizationFailed.Code();
                    continue;
                }
                var error = Partitions.FindLed(context, topic, p.PartitionIndex, out var partition, out var leadership);
                if (error == ErrorCode.None && context.ApiVersion >= 4)
                {
                    error = Partitions.CheckEpoch(p.CurrentLeaderEpoch, leadership!.LeaderEpoch);
                }
                if (error != ErrorCode.None)
                {
                    result.ErrorCode = error.Code();
                    continue;
                }
                var log = partition!.Log;
                long offset;
                long timestamp = -1;
                int epoch;
                switch (p.Timestamp)
                {
                    case Latest:
                        offset = readCommitted ? log.LastStableOffset : log.HighWatermark;
                        epoch = leadership!.LeaderEpoch;
                        break;
                    case Earliest:
                    case EarliestLocal:
                    case EarliestPendingUpload:
                        offset = log.LogStartOffset;
                        epoch = log.EpochAt(offset);
                        break;
                    case LatestTiered:
                        offset = -1;
                        epoch = -1;
                        break;
                    case MaxTimestamp:
                        (offset, timestamp, epoch) = log.MaxTimestamp();
                        break;
                    case < 0:
                        result.ErrorCode = ErrorCode.InvalidRequest.Code();
                        continue;
                    default:
                        (offset, timestamp, epoch) = log.OffsetForTimestamp(p.Timestamp);
                        long limit = readCommitted ? log.LastStableOffset : log.HighWatermark;
                        if (offset >= limit)
                        {
                            (offset, timestamp, epoch) = (-1, -1, -1);
                        }
                        break;
                }
                result.Offset = offset;
                result.Timestamp = timestamp;
                if (context.ApiVersion >= 4)
                {
                    result.LeaderEpoch = epoch;
                }
            }
        }
        return ValueTask.FromResult<ListOffsetsResponse?>(response);
    }

    protected override ListOffsetsResponse ErrorResponse(RequestContext context, ListOffsetsRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new ListOffsetsResponse.ListOffsetsTopicResponse
            {
                Name = t.Name,
                Partitions = [.. t.Partitions.Select(p => new ListOffsetsResponse.ListOffsetsPartitionResponse
                {
                    PartitionIndex = p.PartitionIndex,
                    ErrorCode = error.Code(),
                    Timestamp = -1,
                    Offset = -1,
                    LeaderEpoch = -1,
                })],
            })],
        };
}

/// <summary>OffsetForLeaderEpoch: the end offset of a leader epoch from the partition's epoch history (for consumers validating their position after a leader change).</summary>
internal sealed class OffsetForLeaderEpochHandler() : ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(ApiKey.OffsetForLeaderEpoch)
{
    protected override ValueTask<OffsetForLeaderEpochResponse?> HandleAsync(RequestContext context, OffsetForLeaderEpochRequest request, CancellationToken cancellationToken)
    {
        var response = new OffsetForLeaderEpochResponse();
        foreach (var wanted in request.Topics)
        {
            var topic = context.Cluster.GetTopic(wanted.Topic);
            var topicResult = new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult { Topic = wanted.Topic };
            response.Topics.Add(topicResult);
            foreach (var p in wanted.Partitions)
            {
                var result = new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition, LeaderEpoch = -1, EndOffset = -1 };
                topicResult.Partitions.Add(result);
                if (!context.Authorized(AclOperation.Describe, AclResourceType.Topic, wanted.Topic))
                {
                    result.ErrorCode = ErrorCode.TopicAuthorizationFailed.Code();
                    continue;
                }
                var error = Partitions.FindLed(context, topic, p.Partition, out var partition, out var leadership);
                if (error == ErrorCode.None)
                {
                    error = Partitions.CheckEpoch(p.CurrentLeaderEpoch, leadership!.LeaderEpoch);
                }
                if (error != ErrorCode.None)
                {
                    result.ErrorCode = error.Code();
                    continue;
                }
                (result.LeaderEpoch, result.EndOffset) = partition!.Log.EndOffsetForEpoch(p.LeaderEpoch);
            }
        }
        return ValueTask.FromResult<OffsetForLeaderEpochResponse?>(response);
    }

    protected override OffsetForLeaderEpochResponse ErrorResponse(RequestContext context, OffsetForLeaderEpochRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult
            {
                Topic = t.Topic,
                Partitions = [.. t.Partitions.Select(p => new OffsetForLeaderEpochResponse.EpochEndOffset
                {
                    Partition = p.Partition,
                    ErrorCode = error.Code(),
                    LeaderEpoch = -1,
                    EndOffset = -1,
                })],
            })],
        };
}

/// <summary>DeleteRecords: moves each partition's log start offset forward (-1: to the high watermark).</summary>
internal sealed class DeleteRecordsHandler() : ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse>(ApiKey.DeleteRecords)
{
    protected override ValueTask<DeleteRecordsResponse?> HandleAsync(RequestContext context, DeleteRecordsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteRecordsResponse();
        foreach (var wanted in request.Topics)
        {
            var topic = context.Cluster.GetTopic(wanted.Name);
            var topicResult = new DeleteRecordsResponse.DeleteRecordsTopicResult { Name = wanted.Name };
            response.Topics.Add(topicResult);
            foreach (var p in wanted.Partitions)
            {
                var result = new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, LowWatermark = -1 };
                topicResult.Partitions.Add(result);
                PartitionState? partition = null;
                var error = context.Authorized(AclOperation.Delete, AclResourceType.Topic, wanted.Name)
                    ? Partitions.FindLed(context, topic, p.PartitionIndex, out partition, out _)
                    : ErrorCode.TopicAuthorizationFailed;
                if (error == ErrorCode.None)
                {
                    error = partition!.Log.DeleteRecordsBefore(p.Offset, out long low);
                    result.LowWatermark = low;
                }
                result.ErrorCode = error.Code();
            }
        }
        return ValueTask.FromResult<DeleteRecordsResponse?>(response);
    }

    protected override DeleteRecordsResponse ErrorResponse(RequestContext context, DeleteRecordsRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new DeleteRecordsResponse.DeleteRecordsTopicResult
            {
                Name = t.Name,
                Partitions = [.. t.Partitions.Select(p => new DeleteRecordsResponse.DeleteRecordsPartitionResult
                {
                    PartitionIndex = p.PartitionIndex,
                    ErrorCode = error.Code(),
                    LowWatermark = -1,
                })],
            })],
        };
}
