using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using KafkaClient.Cluster;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.Serialization;

namespace KafkaClient.Producer;

/// <summary>
/// The producer: serializes and partitions records on the caller's thread into the
/// <see cref="RecordAccumulator"/>, and one sender loop drains ready batches into one Produce
/// request per leader broker and handles responses (retries, idempotent sequences, epoch bumps).
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed partial class KafkaProducer<TKey, TValue> : IProducer<TKey, TValue>
{
    [ThreadStatic]
    private static Scratch? t_scratch;

    private readonly ProducerOptions _options;
    private readonly ISerializer<TKey> _keySerializer;
    private readonly ISerializer<TValue> _valueSerializer;
    private readonly Func<string, int, Message<TKey, TValue>, int>? _partitionBy;
    private readonly RecordAccumulator _accumulator;
    private readonly TimeProvider _time;
    private readonly Task<KafkaProtocolClient> _client;
    private readonly Wakeup _wake = new();
    private readonly Signal _progress = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StickyPartitionChoice> _sticky = new(StringComparer.Ordinal);
    private readonly Task _sender;
    private readonly object _producerIdLock = new();
    private readonly Func<long> _bufferAvailable;
    private Task<(long Id, short Epoch)>? _producerId;
    private int _closed;
    private int _slowPathWaiters;
    private readonly SemaphoreSlim _slowPath = new(1, 1);

    /// <summary>
    /// Creates a producer. Connecting starts in the background; the first produce waits for it
    /// (up to <see cref="ProducerOptions.MaxBlock"/>).
    /// </summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="keySerializer">Key serializer, or null for the built-in one of <typeparamref name="TKey"/>.</param>
    /// <param name="valueSerializer">Value serializer, or null for the built-in one of <typeparamref name="TValue"/>.</param>
    /// <param name="partitionBy">
    /// Optional typed partitioner: receives the topic, its partition count and the message, and
    /// returns the partition (or <see cref="Partitioners.NoPreference"/>). Overrides <see cref="ProducerOptions.Partitioner"/>.
    /// </param>
    public KafkaProducer(ProducerOptions options, ISerializer<TKey>? keySerializer = null, ISerializer<TValue>? valueSerializer = null,
        Func<string, int, Message<TKey, TValue>, int>? partitionBy = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _keySerializer = keySerializer ?? Serializers.Default<TKey>()
            ?? throw new ArgumentException($"No built-in serializer for {typeof(TKey).Name}; pass a keySerializer.", nameof(keySerializer));
        _valueSerializer = valueSerializer ?? Serializers.Default<TValue>()
            ?? throw new ArgumentException($"No built-in serializer for {typeof(TValue).Name}; pass a valueSerializer.", nameof(valueSerializer));
        _partitionBy = partitionBy;
        _time = options.TimeProvider;
        _accumulator = new RecordAccumulator(options.BatchSize, options.Linger, _time.TimestampFrequency, options.Compression, options.CompressionLevel, options.BufferMemory,
            options.EnableIdempotence, options.MaxInFlightRequestsPerConnection, options.TransactionalId is not null);
        _client = KafkaProtocolClient.ConnectAsync(options, _stopping.Token);
        _client.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        _bufferAvailable = () => _options.BufferMemory - _accumulator.BufferedBytes;
        ProducerMetrics.RegisterBuffer(_bufferAvailable);
        _sender = Task.Run(SendLoopAsync);
    }

    /// <inheritdoc/>
    public ValueTask<DeliveryResult<TKey, TValue>> ProduceAsync(string topic, Message<TKey, TValue> message, CancellationToken cancellationToken = default) =>
        ProduceCoreAsync(topic, -1, message, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<DeliveryResult<TKey, TValue>> ProduceAsync(TopicPartition partition, Message<TKey, TValue> message, CancellationToken cancellationToken = default) =>
        partition.Partition < 0
            ? throw new ArgumentOutOfRangeException(nameof(partition), "The partition index must not be negative.")
            : ProduceCoreAsync(partition.Topic, partition.Partition, message, cancellationToken);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask<DeliveryResult<TKey, TValue>> ProduceCoreAsync(string topic, int partition, Message<TKey, TValue> message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int partitionCount = TryGetPartitionCount(topic);
        if (CanEnqueueNow(partitionCount))
        {
            // Fast path: enqueued before this method returns, so calls keep their order.
            if (!cancellationToken.CanBeCanceled)
            {
                // Awaited through the batch's completion (one pooled object per batch).
                Enqueue(topic, partition, partitionCount, message, BatchAwaiters.Marker, out var awaiters, out int index);
                return ((BatchCompletion)awaiters!).Task(index);
            }
            // A cancellable wait needs its own completion (pooled: nothing allocated per record).
            var completion = RentCompletion();
            var task = completion.Task;
            try
            {
                Enqueue(topic, partition, partitionCount, message, completion);
            }
            catch
            {
                completion.Discard();
                throw;
            }
            completion.CancelWith(cancellationToken);
            return task;
        }
        return SlowProduceAsync(topic, partition, message, cancellationToken);
    }

    private async ValueTask<DeliveryResult<TKey, TValue>> SlowProduceAsync(string topic, int partition, Message<TKey, TValue> message, CancellationToken cancellationToken)
    {
        var completion = RentCompletion();
        var task = completion.Task;
        try
        {
            await EnqueueWhenReadyAsync(topic, partition, message, completion, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            completion.Discard();
            throw;
        }
        completion.CancelWith(cancellationToken);
        return await task.ConfigureAwait(false);
    }

    /// <summary>True when a record may be enqueued at once: metadata known, buffer room, and nobody waiting ahead of it.</summary>
    private bool CanEnqueueNow(int partitionCount) =>
        partitionCount > 0 && _accumulator.HasRoomFor(256) && Volatile.Read(ref _slowPathWaiters) == 0;

    /// <summary>
    /// Waits (bounded by MaxBlock) for metadata or buffer space, then enqueues. Waiters go through one
    /// FIFO gate and no call takes the fast path while any wait, so records keep the order of the
    /// produce calls. Java's send() blocks here too, bounded by max.block.ms.
    /// </summary>
    private async Task EnqueueWhenReadyAsync(string topic, int partition, Message<TKey, TValue> message, object? target, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.MaxBlock);
        Interlocked.Increment(ref _slowPathWaiters);
        try
        {
            await _slowPath.WaitAsync(deadline.Token).ConfigureAwait(false);
            try
            {
                int partitionCount = await WaitForRoomAsync(topic, deadline.Token).ConfigureAwait(false);
                Enqueue(topic, partition, partitionCount, message, target);
            }
            finally
            {
                _slowPath.Release();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Failed(topic, partition, message, new KafkaTimeoutException($"Topic {topic}'s metadata or buffer space was not available within MaxBlock ({_options.MaxBlock.TotalMilliseconds:0} ms)."));
        }
        catch (KafkaException ex) when (ex is not ProduceException<TKey, TValue>)
        {
            throw Failed(topic, partition, message, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _slowPathWaiters);
        }
    }

    private async Task<int> WaitForRoomAsync(string topic, CancellationToken cancellationToken)
    {
        int partitionCount = await GetPartitionCountAsync(topic, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var signal = _progress.Current;
            if (_accumulator.HasRoomFor(256))
            {
                return partitionCount;
            }
            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public void Produce(string topic, Message<TKey, TValue> message, Action<DeliveryResult<TKey, TValue>>? onDelivery = null) =>
        ProduceCore(topic, -1, message, onDelivery);

    /// <inheritdoc/>
    public void Produce(TopicPartition partition, Message<TKey, TValue> message, Action<DeliveryResult<TKey, TValue>>? onDelivery = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition.Partition);
        ProduceCore(partition.Topic, partition.Partition, message, onDelivery);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProduceCore(string topic, int partition, Message<TKey, TValue> message, Action<DeliveryResult<TKey, TValue>>? onDelivery)
    {
        ArgumentNullException.ThrowIfNull(message);
        int partitionCount = TryGetPartitionCount(topic);
        // The caller's delegate is the record's delivery target as is: nothing is allocated per record for it.
        if (!CanEnqueueNow(partitionCount))
        {
            EnqueueWhenReadyAsync(topic, partition, message, onDelivery, CancellationToken.None).GetAwaiter().GetResult();
            return;
        }
        Enqueue(topic, partition, partitionCount, message, onDelivery);
    }

    private static ProduceException<TKey, TValue> Failed(string topic, int partition, Message<TKey, TValue> message, KafkaException error) =>
        new(new DeliveryResult<TKey, TValue> { Topic = topic, Partition = partition, Message = message, Status = PersistenceStatus.NotPersisted, Error = error }, error);

    private void Enqueue(string topic, int partition, int partitionCount, Message<TKey, TValue> message, object? target) =>
        Enqueue(topic, partition, partitionCount, message, target, out _, out _);

    /// <summary>
    /// Serializes, partitions and appends one record. With <see cref="BatchAwaiters.Marker"/> as
    /// <paramref name="target"/>, the record is awaited through its batch's completion:
    /// <paramref name="awaiters"/> and <paramref name="index"/> say where.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Enqueue(string topic, int partition, int partitionCount, Message<TKey, TValue> message, object? target, out BatchAwaiters? awaiters, out int index)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            throw Failed(topic, partition, message, new KafkaException(ErrorCode.UnknownServerError, "The producer is closed."));
        }
        CheckCanProduce();
        var scratch = t_scratch ??= new Scratch();
        scratch.Key.Reset();
        scratch.Value.Reset();
        bool keyIsNull = message.Key is null;
        bool valueIsNull = message.Value is null;
        if (!keyIsNull)
        {
            _keySerializer.Serialize(message.Key!, scratch.Key, new SerializationContext(topic, IsKey: true));
        }
        if (!valueIsNull)
        {
            _valueSerializer.Serialize(message.Value!, scratch.Value, new SerializationContext(topic, IsKey: false));
        }
        var headers = scratch.Headers(message.Headers);
        long timestampMs = message.Timestamp?.ToUnixTimeMilliseconds() ?? _time.GetUtcNow().ToUnixTimeMilliseconds();
        int approximateSize = scratch.Key.WrittenCount + scratch.Value.WrittenCount + RecordBatchWriter.BatchHeaderSize + 32;
        foreach (var header in headers)
        {
            approximateSize += header.Key.Length * 3 + header.Value.Length + 8;
        }
        if (approximateSize > _options.MaxRequestSize)
        {
            throw Failed(topic, partition, message, new KafkaException(ErrorCode.MessageTooLarge,
                $"The record is about {approximateSize} bytes, more than MaxRequestSize ({_options.MaxRequestSize})."));
        }

        StickyPartitionChoice? sticky = null;
        if (partition < 0)
        {
            partition = _partitionBy?.Invoke(topic, partitionCount, message)
                ?? _options.Partitioner.Partition(topic, partitionCount, scratch.Key.WrittenSpan, keyIsNull);
            if (partition == Partitioners.NoPreference)
            {
                sticky = StickyChoice(topic);
                lock (sticky)
                {
                    partition = sticky.Choose(partitionCount);
                }
            }
        }
        if (partition >= partitionCount)
        {
            throw Failed(topic, partition, message, new KafkaException(ErrorCode.UnknownTopicOrPartition,
                $"Partition {partition} does not exist: topic {topic} has {partitionCount} partitions."));
        }

        Activity? activity = null;
        if (KafkaDiagnostics.ActivitySource.HasListeners())
        {
            // One span per record, its W3C trace context written into the record's headers so a
            // consumer can link to it.
            var caller = Activity.Current;
            activity = KafkaDiagnostics.ActivitySource.StartActivity($"{topic} publish", ActivityKind.Producer);
            Activity.Current = caller; // the span ends at delivery, not in the caller's scope
            if (activity is not null)
            {
                activity.SetTag("messaging.system", "kafka");
                activity.SetTag("messaging.operation.type", "publish");
                activity.SetTag("messaging.destination.name", topic);
                activity.SetTag("messaging.destination.partition.id", partition);
                headers = scratch.WithTraceContext(headers, activity);
            }
        }
        var entry = new DeliveryEntry(target, message, timestampMs, activity);
        NullableBytes key = keyIsNull ? NullableBytes.Null : scratch.Key.WrittenSpan;
        NullableBytes value = valueIsNull ? NullableBytes.Null : scratch.Value.WrittenSpan;
        bool wake = _accumulator.Append(new TopicPartition(topic, partition), timestampMs, key, value, headers, entry, _time.GetTimestamp(),
            ReferenceEquals(target, BatchAwaiters.Marker) ? RentBatchCompletionFactory : null, out int appendedBytes, out bool batchFull, out awaiters, out index);
        if (sticky is not null)
        {
            lock (sticky)
            {
                sticky.OnAppended(partition, partitionCount, appendedBytes, batchFull);
            }
        }
        if (wake && !TrySendInline())
        {
            _wake.Set();
        }
    }

    private StickyPartitionChoice StickyChoice(string topic) =>
        _sticky.GetOrAdd(topic, static (_, batchSize) => new StickyPartitionChoice(batchSize), _options.BatchSize);

    private int TryGetPartitionCount(string topic)
    {
        if (!_client.IsCompletedSuccessfully)
        {
            return -1;
        }
        return _client.Result.Metadata.Topics.TryGetValue(topic, out var t) && t.Error == ErrorCode.None ? t.Partitions.Count : -1;
    }

    private async Task<int> GetPartitionCountAsync(string topic, CancellationToken cancellationToken)
    {
        var client = await _client.WaitAsync(cancellationToken).ConfigureAwait(false);
        int count = TryGetPartitionCount(topic);
        var backoff = _options.RetryBackoff;
        while (count <= 0)
        {
            var metadata = await client.RefreshMetadataAsync([topic], cancellationToken, allowAutoTopicCreation: true).ConfigureAwait(false);
            if (metadata.Topics.TryGetValue(topic, out var t))
            {
                if (t.Error == ErrorCode.None && t.Partitions.Count > 0)
                {
                    return t.Partitions.Count;
                }
                if (!ErrorCodes.IsRetriable(t.Error) && t.Error != ErrorCode.UnknownTopicOrPartition)
                {
                    throw KafkaException.FromErrorCode(t.Error, $"Topic {topic} cannot be produced to.");
                }
            }
            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.RetryBackoffMax.Ticks));
        }
        return count;
    }

    /// <inheritdoc/>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        _accumulator.BeginFlush();
        try
        {
            _wake.Set();
            while (true)
            {
                var signal = _progress.Current;
                if (_accumulator.IsEmpty)
                {
                    break;
                }
                await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _accumulator.EndFlush();
        }
    }

    /// <summary>
    /// Flushes what is queued (waiting at most <see cref="KafkaClientOptions.RequestTimeout"/> plus
    /// linger), fails whatever is left, and closes connections. Never hangs.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        using (var bound = new CancellationTokenSource(_options.RequestTimeout + _options.Linger))
        {
            try
            {
                if (_client.IsCompletedSuccessfully)
                {
                    await FlushAsync(bound.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _wake.Set();
        try
        {
            await _sender.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        var closed = new KafkaException(ErrorCode.UnknownServerError, "The producer was closed before the record was sent.");
        foreach (var batch in _accumulator.TakeAllUnsent())
        {
            FailBatch(batch, closed, PersistenceStatus.NotPersisted);
        }
        if (_client.IsCompletedSuccessfully)
        {
            await _client.Result.DisposeAsync().ConfigureAwait(false);
        }
        _wake.Dispose();
        _stopping.Dispose();
    }

    /// <summary>Per-thread buffers for serializing a record before it is copied into its batch.</summary>
    private sealed class Scratch
    {
        private RecordHeader[] _headers = new RecordHeader[4];

        public PooledBufferWriter Key { get; } = new(256);

        public PooledBufferWriter Value { get; } = new(1024);

        public ReadOnlySpan<RecordHeader> Headers(IReadOnlyList<Header>? headers)
        {
            if (headers is null || headers.Count == 0)
            {
                return default;
            }
            if (_headers.Length < headers.Count)
            {
                _headers = new RecordHeader[headers.Count * 2];
            }
            for (int i = 0; i < headers.Count; i++)
            {
                var h = headers[i];
                _headers[i] = h.Value is { } v ? new RecordHeader(h.Key, v) : new RecordHeader(h.Key, (byte[]?)null);
            }
            return _headers.AsSpan(0, headers.Count);
        }

        public ReadOnlySpan<RecordHeader> WithTraceContext(ReadOnlySpan<RecordHeader> headers, Activity activity)
        {
            var list = new List<RecordHeader>(headers.Length + 2);
            list.AddRange(headers);
            DistributedContextPropagator.Current.Inject(activity, list, static (carrier, name, value) =>
            {
                if (carrier is List<RecordHeader> l && value is not null)
                {
                    l.Add(new RecordHeader(name, Encoding.UTF8.GetBytes(value)));
                }
            });
            return list.ToArray();
        }
    }

    private static DeliveryResult<TKey, TValue> ToResult(object message, in DeliveryOutcome outcome) => new()
    {
        Topic = outcome.Topic,
        Partition = outcome.Partition,
        Offset = outcome.Offset,
        Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(outcome.TimestampMs),
        Status = outcome.Status,
        Error = outcome.Error,
        Message = (Message<TKey, TValue>)message,
    };
}
