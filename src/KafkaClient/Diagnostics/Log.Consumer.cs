using Microsoft.Extensions.Logging;

namespace KafkaClient.Diagnostics;

/// <summary>The consumer's log messages (event ids 1200-1299).</summary>
internal static partial class Log
{
    [LoggerMessage(1200, LogLevel.Warning, "Consumer {Loop} loop failed and will retry: {Reason}")]
    public static partial void ConsumerLoopError(ILogger logger, string loop, string reason, Exception? exception);

    [LoggerMessage(1201, LogLevel.Debug, "Fetch from broker {NodeId} failed: {Reason}")]
    public static partial void FetchFailed(ILogger logger, int nodeId, string reason);

    [LoggerMessage(1202, LogLevel.Debug, "Fetch of {Partition} answered {Error}; refreshing metadata")]
    public static partial void PartitionFetchError(ILogger logger, string partition, string error);

    [LoggerMessage(1203, LogLevel.Information, "Offset {Offset} of {Partition} is out of range; resetting per AutoOffsetReset {Policy}")]
    public static partial void OffsetOutOfRange(ILogger logger, string partition, long offset, string policy);

    [LoggerMessage(1204, LogLevel.Warning, "The log of {Partition} was truncated below the position {Offset} (leader epoch {Epoch}); first diverging offset {DivergentOffset} (-1: unknown); AutoOffsetReset {Policy}")]
    public static partial void LogTruncated(ILogger logger, string partition, long offset, int epoch, long divergentOffset, string policy);

    [LoggerMessage(1210, LogLevel.Information, "Group {GroupId}: joined generation {Generation} as {MemberId} (leader: {IsLeader}, protocol {Protocol}); assigned {Partitions}")]
    public static partial void GroupJoined(ILogger logger, string groupId, int generation, string memberId, bool isLeader, string protocol, string partitions);

    [LoggerMessage(1211, LogLevel.Information, "Group {GroupId}: rebalancing ({Reason})")]
    public static partial void Rebalancing(ILogger logger, string groupId, string reason);

    [LoggerMessage(1212, LogLevel.Information, "Group {GroupId}: revoking {Partitions}")]
    public static partial void PartitionsRevoked(ILogger logger, string groupId, string partitions);

    [LoggerMessage(1213, LogLevel.Warning, "Group {GroupId}: partitions lost ({Reason}): {Partitions}")]
    public static partial void PartitionsLost(ILogger logger, string groupId, string reason, string partitions);

    [LoggerMessage(1214, LogLevel.Debug, "Group {GroupId}: coordinator is broker {NodeId}")]
    public static partial void CoordinatorFound(ILogger logger, string groupId, int nodeId);

    [LoggerMessage(1215, LogLevel.Debug, "Group {GroupId}: coordinator lost ({Reason})")]
    public static partial void CoordinatorLost(ILogger logger, string groupId, string reason);

    [LoggerMessage(1216, LogLevel.Warning, "Group {GroupId}: commit of {Count} offsets failed: {Reason}")]
    public static partial void CommitFailed(ILogger logger, string groupId, int count, string reason);

    [LoggerMessage(1217, LogLevel.Warning, "Group {GroupId}: the rebalance handler threw for {Kind}")]
    public static partial void RebalanceHandlerFailed(ILogger logger, string groupId, string kind, Exception exception);

    [LoggerMessage(1218, LogLevel.Error, "Group {GroupId}: fatal error, consuming stops: {Reason}")]
    public static partial void GroupFatal(ILogger logger, string groupId, string reason);

    [LoggerMessage(1219, LogLevel.Information, "Group {GroupId}: member {MemberId} left the group")]
    public static partial void LeftGroup(ILogger logger, string groupId, string memberId);

    [LoggerMessage(1220, LogLevel.Warning, "Consumer close did not finish within its timeout: {Reason}")]
    public static partial void CloseIncomplete(ILogger logger, string reason);
}
