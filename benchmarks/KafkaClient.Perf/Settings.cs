namespace KafkaClient.Perf;

/// <summary>Which client library a run measures.</summary>
internal enum ClientKind
{
    KafkaClient,
    Confluent,
}

internal enum KeyMode
{
    None,
    Sequential,
    Random,
}

internal enum ProduceMode
{
    /// <summary>Each client's fire-and-forget API with a delivery callback, then flush.</summary>
    Callback,

    /// <summary>Start every produce task, await them at the end (bounded window of outstanding tasks).</summary>
    Async,

    /// <summary>Await each produce before the next; per-record latency gives p50/p99.</summary>
    Awaited,
}

internal enum ConsumeMode
{
    Stream,
    Batch,
    Callback,
}

internal enum AcksSetting
{
    All,
    Leader,
    None,
}

/// <summary>Options shared by every command that talks to a broker.</summary>
internal sealed record BrokerSettings
{
    /// <summary>Bootstrap servers, or null to start a broker process.</summary>
    public string? Bootstrap { get; init; }

    /// <summary>auto | local | mock: which broker process to start without --bootstrap.</summary>
    public string Broker { get; init; } = "auto";

    /// <summary>Brokers in the started cluster.</summary>
    public int Brokers { get; init; } = 3;

    public static BrokerSettings From(CommandLine cl) => new()
    {
        Bootstrap = cl.String("bootstrap"),
        Broker = cl.Choice("broker", "auto", "auto", "local", "mock"),
        Brokers = cl.Int32("brokers", 3, min: 1),
    };
}

internal sealed record ProduceSettings
{
    public required ClientKind Client { get; init; }
    public required string Topic { get; init; }
    public long Messages { get; init; } = 100_000;
    public int Size { get; init; } = 100;
    public int Partitions { get; init; } = 6;
    public AcksSetting Acks { get; init; } = AcksSetting.All;
    public double LingerMs { get; init; } = 5;

    /// <summary>Batch size in bytes, or null for each client's own default.</summary>
    public int? BatchBytes { get; init; }

    public string Compression { get; init; } = "none";
    public bool Idempotent { get; init; } = true;
    public KeyMode Keys { get; init; } = KeyMode.None;
    public ProduceMode Mode { get; init; } = ProduceMode.Callback;

    /// <summary>Records produced (and awaited) before measuring starts: connection set-up, metadata, JIT.</summary>
    public int Warmup { get; init; } = 1000;

    /// <summary>The largest number of produce tasks outstanding in async mode.</summary>
    public int Window { get; init; } = 100_000;

    /// <summary>Gives up (and reports what is missing as errors) after this long.</summary>
    public double TimeoutSeconds { get; init; } = 300;

    public static ProduceSettings From(CommandLine cl, string defaultTopic)
    {
        var acks = cl.Choice("acks", "all", "all", "-1", "1", "0") switch
        {
            "1" => AcksSetting.Leader,
            "0" => AcksSetting.None,
            _ => AcksSetting.All,
        };
        var messages = cl.Int64("messages", 100_000, min: 1);
        return new ProduceSettings
        {
            Client = ParseClient(cl),
            Topic = cl.String("topic", defaultTopic),
            Messages = messages,
            Size = cl.Int32("size", 100, min: 0),
            Partitions = cl.Int32("partitions", 6, min: 1),
            Acks = acks,
            LingerMs = cl.Double("linger-ms", 5, min: 0),
            BatchBytes = cl.Has("batch-bytes") ? cl.Int32("batch-bytes", 0, min: 1) : null,
            Compression = cl.Choice("compression", "none", "none", "gzip", "snappy", "lz4", "zstd"),
            // Java 3.0+ and KafkaClient default to idempotence; it needs acks=all.
            Idempotent = cl.Bool("idempotent", acks == AcksSetting.All),
            Keys = cl.Choice("keys", "none", "none", "sequential", "random") switch
            {
                "sequential" => KeyMode.Sequential,
                "random" => KeyMode.Random,
                _ => KeyMode.None,
            },
            Mode = cl.Choice("mode", "callback", "callback", "async", "awaited") switch
            {
                "async" => ProduceMode.Async,
                "awaited" => ProduceMode.Awaited,
                _ => ProduceMode.Callback,
            },
            Warmup = cl.Int32("warmup", 1000, min: 0),
            Window = cl.Int32("window", 100_000, min: 1),
            TimeoutSeconds = cl.Double("timeout-s", 300, min: 1),
        };
    }

    public static ClientKind ParseClient(CommandLine cl) =>
        cl.Choice("client", "", "kafkaclient", "confluent") == "confluent" ? ClientKind.Confluent : ClientKind.KafkaClient;

    public string Describe() =>
        $"{Messages} x {Size} B, {Partitions} partitions, acks={Acks}, linger={LingerMs} ms, batch={(BatchBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "client default")}, " +
        $"compression={Compression}, idempotent={Idempotent}, keys={Keys}, mode={Mode}, warmup={Warmup}";
}

internal sealed record ConsumeSettings
{
    public required ClientKind Client { get; init; }
    public required string Topic { get; init; }
    public long Messages { get; init; } = 100_000;

    /// <summary>Consumer group; null means manual assignment of every partition (no group join in the figures).</summary>
    public string? Group { get; init; }

    public ConsumeMode Mode { get; init; } = ConsumeMode.Stream;

    /// <summary>Records per batch in batch mode.</summary>
    public int BatchSize { get; init; } = 500;

    public double TimeoutSeconds { get; init; } = 300;

    /// <summary>
    /// Records read before the measurement starts (the same consumer then reads <see cref="Messages"/>
    /// more, measured): leaves out start-up and the JIT's warm-up, for steady-state figures.
    /// </summary>
    public long Warmup { get; init; }

    /// <summary>Records read in all: warm-up, then measured.</summary>
    public long Total => Warmup + Messages;

    public static ConsumeSettings From(CommandLine cl, string defaultTopic) => new()
    {
        Client = ProduceSettings.ParseClient(cl),
        Topic = cl.String("topic", defaultTopic),
        Messages = cl.Int64("messages", 100_000, min: 1),
        Group = cl.String("group"),
        Mode = cl.Choice("mode", "stream", "stream", "batch", "callback") switch
        {
            "batch" => ConsumeMode.Batch,
            "callback" => ConsumeMode.Callback,
            _ => ConsumeMode.Stream,
        },
        BatchSize = cl.Int32("batch-size", 500, min: 1),
        TimeoutSeconds = cl.Double("timeout-s", 300, min: 1),
        Warmup = cl.Int64("warmup", 0, min: 0),
    };
}
