using KafkaClient.Errors;

namespace KafkaClient.Producer;

/// <summary>A record header: a key and a byte value (null allowed). A key may appear more than once.</summary>
/// <param name="Key">Header key.</param>
/// <param name="Value">Header value; null is distinct from empty.</param>
public readonly record struct Header(string Key, ReadOnlyMemory<byte>? Value);

/// <summary>A record to produce.</summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed class Message<TKey, TValue>
{
    /// <summary>The key: decides the partition under the default partitioner. Null for no key.</summary>
    public TKey? Key { get; init; }

    /// <summary>The value. Null is a tombstone on compacted topics.</summary>
    public TValue? Value { get; init; }

    /// <summary>Headers, in order; keys may repeat.</summary>
    public IReadOnlyList<Header>? Headers { get; init; }

    /// <summary>The record's create time; null means "now" when it is produced.</summary>
    public DateTimeOffset? Timestamp { get; init; }
}

/// <summary>Whether a record is known to be stored by the broker.</summary>
public enum PersistenceStatus
{
    /// <summary>The broker acknowledged the record.</summary>
    Persisted = 0,

    /// <summary>The record was sent but no acknowledgement arrived (acks=0, or the connection failed with the outcome unknown).</summary>
    PossiblyPersisted = 1,

    /// <summary>The record was never written.</summary>
    NotPersisted = 2,
}

/// <summary>
/// Where a record was written, or why it was not. A value: each delivery callback and each
/// <c>ProduceAsync</c> gets its own copy, and nothing is allocated for it.
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public readonly record struct DeliveryResult<TKey, TValue>
{
    /// <summary>An empty result: partition and offset -1. Set <see cref="Topic"/> and <see cref="Message"/>.</summary>
    public DeliveryResult()
    {
    }

    /// <summary>The topic.</summary>
    public required string Topic { get; init; }

    /// <summary>The partition, or -1 when none was chosen.</summary>
    public int Partition { get; init; } = -1;

    /// <summary>The record's offset, or -1 when unknown (acks=0, or not written).</summary>
    public long Offset { get; init; } = -1;

    /// <summary>The record's timestamp (the broker's log-append time on topics configured for it).</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Whether the record is stored.</summary>
    public PersistenceStatus Status { get; init; }

    /// <summary>The message produced.</summary>
    public required Message<TKey, TValue> Message { get; init; }

    /// <summary>The failure, when <see cref="Status"/> is not <see cref="PersistenceStatus.Persisted"/> because of an error.</summary>
    public KafkaException? Error { get; init; }
}

/// <summary>A produce that failed, carrying the delivery result (topic, partition, status).</summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed class ProduceException<TKey, TValue> : KafkaException
{
    /// <summary>Creates the exception from the failed delivery and its cause.</summary>
    public ProduceException(DeliveryResult<TKey, TValue> result, KafkaException cause)
        : base(cause.ErrorCode, cause.Message, cause.IsRetriable, cause)
    {
        DeliveryResult = result;
    }

    /// <summary>What is known of the failed delivery.</summary>
    public DeliveryResult<TKey, TValue> DeliveryResult { get; }
}

/// <summary>
/// A <c>ProduceBatchAsync</c> in which at least one message could not be delivered. <see cref="Results"/> holds every
/// message's result in the order given, delivered or not, so exactly the failed ones can be retried.
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed class ProduceBatchException<TKey, TValue> : KafkaException
{
    /// <summary>Creates the exception from every message's result; <paramref name="failedCount"/> of them have an error.</summary>
    public ProduceBatchException(IReadOnlyList<DeliveryResult<TKey, TValue>> results, int failedCount)
        : base(FirstError(results).ErrorCode, $"{failedCount} of {results.Count} messages could not be delivered; the first failure: {FirstError(results).Message}", FirstError(results).IsRetriable, FirstError(results))
    {
        Results = results;
        FailedCount = failedCount;
    }

    /// <summary>Every message's result, in the order the messages were given; failed ones have <see cref="DeliveryResult{TKey, TValue}.Error"/> set.</summary>
    public IReadOnlyList<DeliveryResult<TKey, TValue>> Results { get; }

    /// <summary>How many of <see cref="Results"/> failed.</summary>
    public int FailedCount { get; }

    private static KafkaException FirstError(IReadOnlyList<DeliveryResult<TKey, TValue>> results)
    {
        foreach (var result in results)
        {
            if (result.Error is { } error)
            {
                return error;
            }
        }
        throw new ArgumentException("No result has an error.", nameof(results));
    }
}
