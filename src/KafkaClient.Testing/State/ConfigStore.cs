using System.Globalization;

namespace KafkaClient.Testing.State;

/// <summary>Kafka's config value types (DescribeConfigs v3+ <c>ConfigType</c>).</summary>
internal enum ConfigType : sbyte
{
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// <summary>Where a config value comes from (DescribeConfigs v1+ <c>ConfigSource</c>).</summary>
internal enum ConfigSource : sbyte
{
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// <summary>Kafka's config resource types.</summary>
internal static class ConfigResourceType
{
    public const sbyte Topic = 2;
    public const sbyte Broker = 4;
}

/// <summary>
/// One known config: its type, default, flags, the broker config it falls back to (a topic config's
/// synonym) and, for strings, the values allowed.
/// </summary>
internal sealed record ConfigDefinition(string Name, ConfigType Type, string? Default, string Documentation,
    bool ReadOnly = false, bool Sensitive = false, string? BrokerSynonym = null, long Min = long.MinValue, string[]? Allowed = null)
{
    /// <summary>Null when <paramref name="value"/> suits this config, else why not.</summary>
    public string? Validate(string? value)
    {
        if (value is null)
        {
            return Type is ConfigType.Password or ConfigType.String ? null : $"Null value not supported for {Name}.";
        }
        switch (Type)
        {
            case ConfigType.Int or ConfigType.Short or ConfigType.Long:
                if (!long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number)
                    || (Type == ConfigType.Int && number is < int.MinValue or > int.MaxValue)
                    || (Type == ConfigType.Short && number is < short.MinValue or > short.MaxValue))
                {
                    return $"Invalid value {value} for configuration {Name}: Not a number of type {Type.ToString().ToUpperInvariant()}";
                }
                return number < Min ? $"Invalid value {value} for configuration {Name}: Value must be at least {Min}" : null;
            case ConfigType.Boolean:
                return value.Trim().ToLowerInvariant() is "true" or "false" ? null : $"Invalid value {value} for configuration {Name}: Expected value to be either true or false";
            case ConfigType.List when Allowed is not null:
                var bad = SplitList(value).FirstOrDefault(v => !Allowed.Contains(v, StringComparer.Ordinal));
                return bad is null ? null : $"Invalid value {bad} for configuration {Name}: String must be one of: {string.Join(", ", Allowed)}";
            case ConfigType.String when Allowed is not null:
                return Allowed.Contains(value.Trim(), StringComparer.Ordinal) ? null : $"Invalid value {value} for configuration {Name}: String must be one of: {string.Join(", ", Allowed)}";
            default:
                return null;
        }
    }

    /// <summary>A LIST value's elements.</summary>
    public static List<string> SplitList(string? value) =>
        [.. (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}

/// <summary>
/// The topic and broker configs the embedded cluster knows (a representative subset of Kafka's,
/// with Kafka's defaults) and each broker's dynamic broker configs. Topic configs live on
/// <see cref="TopicState.Configs"/>; every change of either takes <see cref="Sync"/>.
/// </summary>
internal sealed class ConfigStore
{
    private static readonly string[] CleanupPolicies = ["delete", "compact"];
    private static readonly string[] CompressionTypes = ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
    private static readonly string[] TimestampTypes = ["CreateTime", "LogAppendTime"];

    private readonly Dictionary<int, IReadOnlyDictionary<string, string?>> _brokerDynamic = [];

    public ConfigStore(EmbeddedKafkaClusterOptions options)
    {
        string maxMessageBytes = options.MaxMessageBytes.ToString(CultureInfo.InvariantCulture);
        string retentionMs = options.LogRetentionMs.ToString(CultureInfo.InvariantCulture);
        string retentionBytes = options.LogRetentionBytes.ToString(CultureInfo.InvariantCulture);
        TopicConfigs = Index(
        [
            new("cleanup.policy", ConfigType.List, "delete", "The retention policy of log segments: delete, compact or both.", BrokerSynonym: "log.cleanup.policy", Allowed: CleanupPolicies),
            new("compression.type", ConfigType.String, "producer", "The final compression of the topic's batches.", BrokerSynonym: "compression.type", Allowed: CompressionTypes),
            new("delete.retention.ms", ConfigType.Long, "86400000", "How long delete tombstones are kept on compacted topics.", BrokerSynonym: "log.cleaner.delete.retention.ms", Min: 0),
            new("max.message.bytes", ConfigType.Int, maxMessageBytes, "The largest record batch size allowed.", BrokerSynonym: "message.max.bytes", Min: 0),
            new("message.timestamp.type", ConfigType.String, "CreateTime", "Whether record timestamps are the producer's or the append time.", BrokerSynonym: "log.message.timestamp.type", Allowed: TimestampTypes),
            new("min.compaction.lag.ms", ConfigType.Long, "0", "The minimum time a record stays uncompacted.", BrokerSynonym: "log.cleaner.min.compaction.lag.ms", Min: 0),
            new("min.insync.replicas", ConfigType.Int, "1", "The minimum in-sync replicas for acks=all writes.", BrokerSynonym: "min.insync.replicas", Min: 1),
            new("retention.bytes", ConfigType.Long, retentionBytes, "The partition size at which old segments are deleted; -1 for no limit.", BrokerSynonym: "log.retention.bytes"),
            new("retention.ms", ConfigType.Long, retentionMs, "How long records are kept; -1 for no limit.", BrokerSynonym: "log.retention.ms", Min: -1),
            new("segment.bytes", ConfigType.Int, "1073741824", "The log segment size.", BrokerSynonym: "log.segment.bytes", Min: 14),
            new("segment.ms", ConfigType.Long, "604800000", "The time after which a segment is rolled.", BrokerSynonym: "log.roll.ms", Min: 1),
            new("unclean.leader.election.enable", ConfigType.Boolean, "false", "Whether out-of-sync replicas may become leader.", BrokerSynonym: "unclean.leader.election.enable"),
        ]);
        BrokerConfigs = Index(
        [
            new("auto.create.topics.enable", ConfigType.Boolean, options.AutoCreateTopics ? "true" : "false", "Whether Metadata requests create unknown topics.", ReadOnly: true),
            new("broker.id", ConfigType.Int, null, "The broker id.", ReadOnly: true),
            new("compression.type", ConfigType.String, "producer", "The default topic compression.type.", Allowed: CompressionTypes),
            new("default.replication.factor", ConfigType.Int, options.DefaultReplicationFactor.ToString(CultureInfo.InvariantCulture), "The replication factor of auto-created topics.", ReadOnly: true),
            new("log.cleanup.policy", ConfigType.List, "delete", "The default topic cleanup.policy.", Allowed: CleanupPolicies),
            new("log.message.timestamp.type", ConfigType.String, "CreateTime", "The default topic message.timestamp.type.", Allowed: TimestampTypes),
            new("log.retention.bytes", ConfigType.Long, retentionBytes, "The default topic retention.bytes."),
            new("log.retention.ms", ConfigType.Long, retentionMs, "The default topic retention.ms.", Min: -1),
            new("log.segment.bytes", ConfigType.Int, "1073741824", "The default topic segment.bytes.", Min: 14),
            new("message.max.bytes", ConfigType.Int, maxMessageBytes, "The default topic max.message.bytes.", Min: 0),
            new("min.insync.replicas", ConfigType.Int, "1", "The default topic min.insync.replicas.", Min: 1),
            new("num.partitions", ConfigType.Int, options.DefaultPartitions.ToString(CultureInfo.InvariantCulture), "The partition count of auto-created topics.", Min: 1),
            new("ssl.keystore.password", ConfigType.Password, null, "The key store password.", Sensitive: true),
        ]);
    }

    /// <summary>Taken for every config change.</summary>
    public object Sync { get; } = new();

    public IReadOnlyDictionary<string, ConfigDefinition> TopicConfigs { get; }

    public IReadOnlyDictionary<string, ConfigDefinition> BrokerConfigs { get; }

    /// <summary>The dynamic configs set on <paramref name="brokerId"/>.</summary>
    public IReadOnlyDictionary<string, string?> BrokerDynamic(int brokerId)
    {
        lock (Sync)
        {
            return _brokerDynamic.TryGetValue(brokerId, out var configs) ? configs : new Dictionary<string, string?>();
        }
    }

    /// <summary>Replaces the dynamic configs of <paramref name="brokerId"/>; callers hold <see cref="Sync"/>.</summary>
    public void SetBrokerDynamic(int brokerId, IReadOnlyDictionary<string, string?> configs) => _brokerDynamic[brokerId] = configs;

    private static Dictionary<string, ConfigDefinition> Index(ConfigDefinition[] definitions) =>
        definitions.ToDictionary(d => d.Name, StringComparer.Ordinal);
}
