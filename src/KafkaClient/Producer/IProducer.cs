namespace KafkaClient.Producer;

/// <summary>
/// Sends records to Kafka, batching them per partition. Thread-safe: share one producer per
/// application. Dispose it to flush what is pending (bounded by a timeout) and release connections.
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public interface IProducer<TKey, TValue> : IAsyncDisposable
{
    /// <summary>
    /// Produces <paramref name="message"/> to <paramref name="topic"/> (partition chosen by the
    /// partitioner) and completes when the broker acknowledges it.
    /// </summary>
    /// <remarks>
    /// The record is queued before this method returns (so calls keep their order), unless the
    /// buffer is full or the topic's metadata is unknown: then it waits, up to
    /// <see cref="ProducerOptions.MaxBlock"/> or until <paramref name="cancellationToken"/> is
    /// cancelled. Once queued, cancelling ends only the wait for the result (with an
    /// <see cref="OperationCanceledException"/>): the record may still be written. The returned
    /// <see cref="ValueTask{TResult}"/> is backed by a pooled object: await it once (or call
    /// <see cref="ValueTask{TResult}.AsTask"/> once, e.g. for <c>Task.WhenAll</c>), never twice.
    /// </remarks>
    /// <exception cref="ProduceException{TKey, TValue}">The record could not be delivered.</exception>
    ValueTask<DeliveryResult<TKey, TValue>> ProduceAsync(string topic, Message<TKey, TValue> message, CancellationToken cancellationToken = default);

    /// <summary>Produces <paramref name="message"/> to an explicit partition; see <see cref="ProduceAsync(string, Message{TKey, TValue}, CancellationToken)"/>.</summary>
    /// <exception cref="ProduceException{TKey, TValue}">The record could not be delivered.</exception>
    ValueTask<DeliveryResult<TKey, TValue>> ProduceAsync(TopicPartition partition, Message<TKey, TValue> message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Produces many messages to <paramref name="topic"/> in one call (partitions chosen by the partitioner) and completes
    /// when every one is acknowledged or has failed. All are queued before any result is awaited, so they share batches
    /// and each partition receives them in the order given.
    /// </summary>
    /// <returns>One result per message, in the order given.</returns>
    /// <remarks>
    /// A message that fails (refused before sending, such as one larger than <see cref="ProducerOptions.MaxRequestSize"/>,
    /// or failed by the broker) does not stop the others: once all are settled, a
    /// <see cref="ProduceBatchException{TKey, TValue}"/> reports every result, delivered or not, so the caller can retry
    /// exactly the failed ones. Cancelling <paramref name="cancellationToken"/> ends the wait (for buffer space, metadata
    /// or the results) with an <see cref="OperationCanceledException"/>; messages already queued may still be written.
    /// </remarks>
    /// <exception cref="ProduceBatchException{TKey, TValue}">At least one message could not be delivered.</exception>
    Task<IReadOnlyList<DeliveryResult<TKey, TValue>>> ProduceBatchAsync(string topic, IEnumerable<Message<TKey, TValue>> messages, CancellationToken cancellationToken = default);

    /// <summary>Produces many messages to one explicit partition; see <see cref="ProduceBatchAsync(string, IEnumerable{Message{TKey, TValue}}, CancellationToken)"/>.</summary>
    /// <returns>One result per message, in the order given.</returns>
    /// <exception cref="ProduceBatchException{TKey, TValue}">At least one message could not be delivered.</exception>
    Task<IReadOnlyList<DeliveryResult<TKey, TValue>>> ProduceBatchAsync(TopicPartition partition, IEnumerable<Message<TKey, TValue>> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues <paramref name="message"/> and returns at once (the highest-throughput path);
    /// <paramref name="onDelivery"/> is called with the result, success or failure, on a
    /// background thread. Blocks only while the buffer is full or the topic's metadata is unknown,
    /// up to <see cref="ProducerOptions.MaxBlock"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="onDelivery"/> runs on the thread that handles the broker's response, and a leader's responses are
    /// handled in order (so a partition's deliveries are reported in offset order): keep it short, and never wait in it for
    /// another delivery (for example a blocking <c>ProduceAsync(...).GetAwaiter().GetResult()</c>), which would wait for a
    /// response queued behind this one, as with Java's and librdkafka's callbacks. Start such work without waiting for it.
    /// </remarks>
    void Produce(string topic, Message<TKey, TValue> message, Action<DeliveryResult<TKey, TValue>>? onDelivery = null);

    /// <summary>Queues <paramref name="message"/> for an explicit partition; see <see cref="Produce(string, Message{TKey, TValue}, Action{DeliveryResult{TKey, TValue}}?)"/>.</summary>
    void Produce(TopicPartition partition, Message<TKey, TValue> message, Action<DeliveryResult<TKey, TValue>>? onDelivery = null);

    /// <summary>Registers the transactional id, fencing older producers with it. Transactional producers only; call once, first.</summary>
    Task InitTransactionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens a transaction.</summary>
    void BeginTransaction();

    /// <summary>Adds consumer offsets to the open transaction (consume-transform-produce).</summary>
    Task SendOffsetsToTransactionAsync(IEnumerable<TopicPartitionOffset> offsets, ConsumerGroupMetadata group, CancellationToken cancellationToken = default);

    /// <summary>Sends the open transaction's records and commits them atomically.</summary>
    Task CommitTransactionAsync(CancellationToken cancellationToken = default);

    /// <summary>Aborts the open transaction.</summary>
    Task AbortTransactionAsync(CancellationToken cancellationToken = default);

    /// <summary>Sends everything queued now (ignoring linger) and completes when all of it is acknowledged or failed.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}
