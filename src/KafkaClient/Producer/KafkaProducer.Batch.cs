using KafkaClient.Errors;

namespace KafkaClient.Producer;

public sealed partial class KafkaProducer<TKey, TValue>
{
    /// <inheritdoc/>
    public Task<IReadOnlyList<DeliveryResult<TKey, TValue>>> ProduceBatchAsync(string topic, IEnumerable<Message<TKey, TValue>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(messages);
        return ProduceBatchCoreAsync(topic, -1, messages, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<DeliveryResult<TKey, TValue>>> ProduceBatchAsync(TopicPartition partition, IEnumerable<Message<TKey, TValue>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition.Partition);
        ArgumentNullException.ThrowIfNull(messages);
        return ProduceBatchCoreAsync(partition.Topic, partition.Partition, messages, cancellationToken);
    }

    private async Task<IReadOnlyList<DeliveryResult<TKey, TValue>>> ProduceBatchCoreAsync(string topic, int partition, IEnumerable<Message<TKey, TValue>> messages, CancellationToken cancellationToken)
    {
        var list = messages as IReadOnlyList<Message<TKey, TValue>> ?? [.. messages];
        var pending = new ValueTask<DeliveryResult<TKey, TValue>>[list.Count];
        // A message refused at enqueue gets its (failed) result at once; the others get theirs when awaited below.
        var results = new DeliveryResult<TKey, TValue>[list.Count];
        int queued = 0;
        try
        {
            // Every record is queued before any result is awaited: they share batches, and each partition keeps the
            // messages' order.
            for (; queued < list.Count; queued++)
            {
                var message = list[queued] ?? throw new ArgumentException($"Message {queued} is null.", nameof(messages));
                try
                {
                    pending[queued] = ProduceCoreAsync(topic, partition, message, cancellationToken);
                }
                catch (KafkaException ex)
                {
                    // Refused before it was queued (serialization, size): this record fails, the others go on.
                    results[queued] = ToFailedResult(topic, partition, message, ex);
                }
            }
        }
        catch
        {
            // Cancelled while waiting for buffer space or metadata, disposed, or a null message: what is queued may still
            // be written; its results are observed (each pooled completion is read once) but no longer reported.
            ObserveRemaining(pending, results, 0, queued);
            throw;
        }

        int failed = 0;
        for (int i = 0; i < list.Count; i++)
        {
            if (results[i].Error is not null)
            {
                failed++;
                continue;
            }
            try
            {
                results[i] = await pending[i].ConfigureAwait(false);
            }
            catch (KafkaException ex)
            {
                results[i] = ToFailedResult(topic, partition, list[i], ex);
                failed++;
            }
            catch
            {
                // The wait was cancelled: the records may still be written, as with ProduceAsync.
                ObserveRemaining(pending, results, i + 1, list.Count);
                throw;
            }
        }
        return failed == 0 ? results : throw new ProduceBatchException<TKey, TValue>(results, failed);
    }

    private static DeliveryResult<TKey, TValue> ToFailedResult(string topic, int partition, Message<TKey, TValue> message, KafkaException error) =>
        error is ProduceException<TKey, TValue> produce
            ? produce.DeliveryResult with { Error = produce.DeliveryResult.Error ?? produce.InnerException as KafkaException ?? produce }
            : new DeliveryResult<TKey, TValue> { Topic = topic, Partition = partition, Message = message, Status = PersistenceStatus.NotPersisted, Error = error };

    private static void ObserveRemaining(ValueTask<DeliveryResult<TKey, TValue>>[] pending, DeliveryResult<TKey, TValue>[] results, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            if (results[i].Error is null)
            {
                _ = ObserveAsync(pending[i]);
            }
        }

        static async Task ObserveAsync(ValueTask<DeliveryResult<TKey, TValue>> result)
        {
            try
            {
                await result.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Reported to nobody: the batch call has already thrown.
            }
        }
    }
}
