namespace KafkaClient.Testing.Groups;

/// <summary>
/// Broker settings of the classic group coordinator. Defaults are Apache Kafka's, except the
/// initial rebalance delay, which is 0 (Kafka's test default) so that tests need not advance time
/// before a new group's first generation.
/// </summary>
internal sealed class GroupCoordinatorOptions
{
    /// <summary><c>group.initial.rebalance.delay.ms</c>: how long a new (empty) group waits for more members before its first rebalance completes.</summary>
    public TimeSpan InitialRebalanceDelay { get; init; } = TimeSpan.Zero;

    /// <summary><c>group.min.session.timeout.ms</c>.</summary>
    public int MinSessionTimeoutMs { get; init; } = 6_000;

    /// <summary><c>group.max.session.timeout.ms</c>.</summary>
    public int MaxSessionTimeoutMs { get; init; } = 1_800_000;

    /// <summary><c>group.max.size</c>.</summary>
    public int MaxGroupSize { get; init; } = int.MaxValue;

    /// <summary>How long a new member may wait in a rebalance without ever completing a join (Kafka: 5 minutes).</summary>
    public TimeSpan NewMemberJoinTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary><c>offset.metadata.max.bytes</c>: longest commit metadata string accepted.</summary>
    public int MaxOffsetMetadataLength { get; init; } = 4096;

    /// <summary>
    /// Optional check that a committed topic partition exists; when it answers false the commit of
    /// that partition fails with UNKNOWN_TOPIC_OR_PARTITION. Null accepts every partition. Called
    /// outside any coordinator lock.
    /// </summary>
    public Func<string, int, bool>? PartitionExists { get; init; }

    /// <summary>Error returned to every pending and later request once the coordinator is disposed.</summary>
    public KafkaClient.Errors.ErrorCode ShutdownError { get; init; } = KafkaClient.Errors.ErrorCode.CoordinatorNotAvailable;
}
