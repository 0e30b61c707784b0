using KafkaClient.Protocol.Compression;

namespace KafkaClient.Producer;

/// <summary>How many replicas must acknowledge a write before it counts as delivered.</summary>
public enum Acks : short
{
    /// <summary>Fire and forget: the broker sends no response (Java <c>acks=0</c>).</summary>
    None = 0,

    /// <summary>The partition leader has written it (Java <c>acks=1</c>).</summary>
    Leader = 1,

    /// <summary>All in-sync replicas have it (Java <c>acks=all</c>, the default).</summary>
    All = -1,
}

/// <summary>
/// Producer settings: the connection settings of <see cref="KafkaClientOptions"/> plus batching,
/// delivery and idempotence. Defaults follow the Java client 4.x.
/// </summary>
public sealed record ProducerOptions : KafkaClientOptions
{
    /// <summary>Acknowledgements required (Java: <c>acks</c>). Default <see cref="Acks.All"/>.</summary>
    public Acks Acks { get; init; } = Acks.All;

    /// <summary>How long a partition's batch may wait for more records before it is sent (Java: <c>linger.ms</c>). Default 5 ms.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Target size in bytes of one partition's batch (Java: <c>batch.size</c>). Default 16 KiB.</summary>
    public int BatchSize { get; init; } = 16 * 1024;

    /// <summary>The largest Produce request, and so the largest record (Java: <c>max.request.size</c>). Default 1 MiB.</summary>
    public int MaxRequestSize { get; init; } = 1024 * 1024;

    /// <summary>Bytes of records waiting to be sent before produce calls wait (Java: <c>buffer.memory</c>). Default 32 MiB.</summary>
    public long BufferMemory { get; init; } = 32L * 1024 * 1024;

    /// <summary>How long a produce call may wait for buffer space or topic metadata before failing (Java: <c>max.block.ms</c>). Default 60 s.</summary>
    public TimeSpan MaxBlock { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Compression of each batch (Java: <c>compression.type</c>). Default none.</summary>
    public CompressionType Compression { get; init; } = CompressionType.None;

    /// <summary>Codec level, or null for the codec's default (Java: <c>compression.gzip.level</c> and siblings).</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>Upper bound on the time from a produce call to its result, retries included (Java: <c>delivery.timeout.ms</c>). Default 120 s.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Exactly-once per partition: the broker drops retried duplicates by producer id and sequence
    /// (Java: <c>enable.idempotence</c>). Default true, as in Java 3.0+. Requires <see cref="Acks.All"/>.
    /// </summary>
    public bool EnableIdempotence { get; init; } = true;

    /// <summary>
    /// Makes the producer transactional: records are written in transactions that commit or abort
    /// atomically across partitions, and a newer producer with the same id fences this one
    /// (Java: <c>transactional.id</c>). Default null (not transactional). Implies idempotence.
    /// </summary>
    public string? TransactionalId { get; init; }

    /// <summary>How long a transaction may stay open before the coordinator aborts it (Java: <c>transaction.timeout.ms</c>). Default 60 s.</summary>
    public TimeSpan TransactionTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How records are assigned to partitions (Java: <c>partitioner.class</c>). Default <see cref="Partitioners.Default"/>.</summary>
    public IPartitioner Partitioner { get; init; } = Partitioners.Default;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (EnableIdempotence && Acks != Acks.All)
        {
            throw new ArgumentException("EnableIdempotence requires Acks.All (set EnableIdempotence = false to use other acks).", nameof(Acks));
        }
        if (TransactionalId is not null && !EnableIdempotence)
        {
            throw new ArgumentException("A transactional producer must be idempotent (EnableIdempotence = true).", nameof(TransactionalId));
        }
        if (TransactionalId is { Length: 0 })
        {
            throw new ArgumentException("TransactionalId must not be empty (null means not transactional).", nameof(TransactionalId));
        }
        if (EnableIdempotence && MaxInFlightRequestsPerConnection > 5)
        {
            throw new ArgumentException("EnableIdempotence allows at most 5 requests in flight per connection.", nameof(MaxInFlightRequestsPerConnection));
        }
        if (BatchSize < 1 || MaxRequestSize < 1024 || BufferMemory < MaxRequestSize)
        {
            throw new ArgumentException("BatchSize must be positive, MaxRequestSize at least 1 KiB, BufferMemory at least MaxRequestSize.");
        }
        if (!CompressionCodecs.IsKnown(Compression))
        {
            throw new ArgumentOutOfRangeException(nameof(Compression), Compression, "Unknown compression type.");
        }
        // Here, not when the first batch is closed: a bad level fails the constructor, not every send.
        CompressionCodecs.Get(Compression).CheckLevel(CompressionLevel);
        if (Linger < TimeSpan.Zero || DeliveryTimeout < Linger + RequestTimeout)
        {
            throw new ArgumentException("Linger must not be negative, and DeliveryTimeout must be at least Linger + RequestTimeout (Java enforces the same).", nameof(DeliveryTimeout));
        }
    }
}
