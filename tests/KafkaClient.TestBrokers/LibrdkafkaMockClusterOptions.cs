namespace KafkaClient.TestBrokers;

/// <summary>How <see cref="LibrdkafkaMockCluster.Start(int, LibrdkafkaMockClusterOptions?)"/> sets the cluster up.</summary>
public sealed class LibrdkafkaMockClusterOptions
{
    /// <summary>
    /// Clamp the API versions the mock advertises but does not implement correctly (JoinGroup 11 to
    /// 0..5, SyncGroup 14 to 0..3, LeaveGroup 13 to 0..2, Heartbeat 12 to 0..4), so that a client's
    /// ordinary version negotiation is what gets tested. Default <see langword="true"/>.
    /// </summary>
    public bool ClampBrokenApiVersions { get; init; } = true;

    /// <summary>
    /// The controller id reported in Metadata. The mock's own default is 0, which is not a broker.
    /// Default 1; <see langword="null"/> leaves the mock's default.
    /// </summary>
    public int? ControllerId { get; init; } = 1;

    /// <summary>
    /// <c>group.initial.rebalance.delay.ms</c> of the mock's group coordinator. Default 0 so the first
    /// JoinGroup answers at once; <see langword="null"/> leaves the mock's default (3 s).
    /// </summary>
    public int? GroupInitialRebalanceDelayMs { get; init; } = 0;

    /// <summary>Topics created at start, each with deterministic leaders (see <see cref="LibrdkafkaMockCluster.CreateTopic"/>).</summary>
    public IReadOnlyList<MockTopic> Topics { get; init; } = [];

    /// <summary>
    /// Extra librdkafka configuration for the (otherwise idle) client handle that owns the cluster,
    /// e.g. <c>log_level</c> or <c>debug</c>. Applied after the defaults (<c>log_level=3</c>, so the
    /// mock's warnings about clients disconnecting do not flood test output).
    /// </summary>
    public IReadOnlyDictionary<string, string> Configuration { get; init; } = new Dictionary<string, string>();
}

/// <summary>A topic to create when the mock cluster starts.</summary>
/// <param name="Name">The topic name.</param>
/// <param name="Partitions">The number of partitions (at least 1).</param>
/// <param name="ReplicationFactor">The replication factor (at least 1; the mock caps it at the broker count).</param>
public sealed record MockTopic(string Name, int Partitions = 1, int ReplicationFactor = 1);

/// <summary>One request the mock cluster received while request tracking was on.</summary>
/// <param name="BrokerId">The broker that received it.</param>
/// <param name="ApiKey">The Kafka API key of the request.</param>
/// <param name="TimestampMicroseconds">librdkafka's monotonic clock at arrival, in microseconds.</param>
public readonly record struct MockRequest(int BrokerId, short ApiKey, long TimestampMicroseconds);
