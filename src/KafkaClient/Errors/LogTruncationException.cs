namespace KafkaClient.Errors;

/// <summary>
/// The consumer found that the log of a partition was truncated below its position (KIP-320): after a leader change,
/// OffsetForLeaderEpoch showed that the leader epoch of the last consumed record ends before the position, so records
/// the consumer read (or committed past) are gone, as after an unclean leader election. Raised only when
/// <c>AutoOffsetReset</c> is <c>Error</c> (Java's <c>LogTruncationException</c> with <c>auto.offset.reset=none</c>);
/// with another policy the consumer moves to <see cref="DivergentOffset"/> on its own. The partition is not fetched
/// again until the application seeks it (typically to <see cref="DivergentOffset"/>). Its code is
/// <see cref="ErrorCode.OffsetOutOfRange"/>.
/// </summary>
public sealed class LogTruncationException : KafkaException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="position">The partition and the position (with the leader epoch of the last consumed record) found truncated.</param>
    /// <param name="divergentOffset">The first offset known to diverge, with the leader epoch it ends; null when the broker knows no end for that epoch.</param>
    /// <param name="message">What happened; null for a description built from the other arguments.</param>
    public LogTruncationException(TopicPartitionOffset position, TopicPartitionOffset? divergentOffset, string? message = null)
        : base(ErrorCode.OffsetOutOfRange, message ?? Describe(position, divergentOffset), isRetriable: false, innerException: null)
    {
        Position = position;
        DivergentOffset = divergentOffset;
    }

    /// <summary>The partition, and the position (with the leader epoch of the last record consumed) that was found truncated.</summary>
    public TopicPartitionOffset Position { get; }

    /// <summary>
    /// The first offset known to diverge from what this consumer read: the end offset of the position's leader epoch on the
    /// current leader, with that epoch. Null when the leader has no record of the epoch (the divergence point is unknown;
    /// seek by policy instead).
    /// </summary>
    public TopicPartitionOffset? DivergentOffset { get; }

    private static string Describe(TopicPartitionOffset position, TopicPartitionOffset? divergentOffset) =>
        divergentOffset is { } divergent
            ? $"The log of {position.TopicPartition} was truncated: the consumer is at offset {position.Offset} (leader epoch {position.LeaderEpoch}), but that epoch ends at offset {divergent.Offset} on the current leader, so records were lost. Seek to continue."
            : $"The log of {position.TopicPartition} was truncated: the current leader has no end offset for leader epoch {position.LeaderEpoch} of the consumer's position {position.Offset}. Seek to continue.";
}
