using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using KafkaClient.Cluster;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Producer;

/// <summary>The sender: drains ready batches into Produce requests, one per leader, and settles responses.</summary>
public sealed partial class KafkaProducer<TKey, TValue>
{
    private async Task SendLoopAsync()
    {
        KafkaProtocolClient client;
        try
        {
            client = await _client.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await FailEverythingWhenConnectFailsAsync(ex).ConfigureAwait(false);
            return;
        }
        // Reused every round: the sender is one loop, and a round hands its batches on before the next.
        var drained = new List<ProducerBatch>();
        var byLeader = new Dictionary<int, List<ProducerBatch>>();
        while (!_stopping.IsCancellationRequested)
        {
            // Take the signal before draining: a wake-up that arrives while we drain is not lost.
            _wake.Reset();
            // One drainer at a time (see TrySendInline): drain order is sequence order, and batches
            // must reach the connection in that order.
            await AcquireDrainAsync().ConfigureAwait(false);
            TimeSpan? wait;
            try
            {
                wait = await SendRoundAsync(client, drained, byLeader).ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref _draining, 0);
            }
            if (wait is not { } timeout)
            {
                continue;
            }
            if (timeout == TimeSpan.Zero)
            {
                break;
            }
            await _wake.WaitAsync(timeout).ConfigureAwait(false);
        }
    }

    private int _draining;

    private async ValueTask AcquireDrainAsync()
    {
        while (Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
        {
            // A produce call is sending inline; it holds the drain for a synchronous moment.
            await Task.Yield();
        }
    }

    /// <summary>
    /// An idle producer (nothing in flight) sends a new batch from the produce call itself rather
    /// than waking the sender loop: the hop to the loop's thread would add to a lone record's
    /// latency. Only when that is synchronous: not transactional (AddPartitionsToTxn may wait), the
    /// producer id known, and no other drain running. Returns false to leave it to the loop.
    /// </summary>
    private bool TrySendInline()
    {
        if (IsTransactional || _accumulator.InFlightCount != 0 || !_client.IsCompletedSuccessfully
            || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
        {
            return false;
        }
        try
        {
            var producer = ProducerStamp.None;
            if (_options.EnableIdempotence && !TryGetKnownProducerId(out producer))
            {
                return false;
            }
            var inline = t_inline ??= new InlineLists();
            _accumulator.Drain(_time.GetTimestamp(), producer, inline.Drained, out _);
            if (inline.Drained.Count == 0)
            {
                return false;
            }
            var dispatch = DispatchAsync(_client.Result, inline.Drained, inline.ByLeader, producer);
            // Not transactional: nothing in DispatchAsync waits, so it is complete here.
            Debug.Assert(dispatch.IsCompleted);
            dispatch.GetAwaiter().GetResult();
            inline.Drained.Clear();
            return true;
        }
        finally
        {
            Volatile.Write(ref _draining, 0);
        }
    }

    [ThreadStatic]
    private static InlineLists? t_inline;

    private sealed class InlineLists
    {
        public List<ProducerBatch> Drained { get; } = [];

        public Dictionary<int, List<ProducerBatch>> ByLeader { get; } = [];
    }

    /// <summary>One drain and dispatch; returns how long to wait for the next wake-up, null to go again at once, or zero to stop.</summary>
    private async ValueTask<TimeSpan?> SendRoundAsync(KafkaProtocolClient client, List<ProducerBatch> drained, Dictionary<int, List<ProducerBatch>> byLeader)
    {
        {
            var producer = ProducerStamp.None;
            KafkaException? producerIdFailure = null;
            if (_options.EnableIdempotence && !TryGetKnownProducerId(out producer) && !_accumulator.IsEmpty)
            {
                // Sequences are assigned at drain time, so the producer id comes first.
                try
                {
                    var (id, epoch) = await GetProducerIdAsync(client).ConfigureAwait(false);
                    producer = new ProducerStamp(id, epoch);
                }
                catch (KafkaException ex)
                {
                    producerIdFailure = ex;
                }
                catch (InvalidOperationException ex)
                {
                    producerIdFailure = new KafkaException(ErrorCode.UnknownServerError, ex.Message, ex);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return TimeSpan.Zero;
                }
            }
            long now = _time.GetTimestamp();
            _accumulator.Drain(now, producer, drained, out long nextCheck);
            if (drained.Count > 0)
            {
                if (producerIdFailure is not null)
                {
                    // No producer id: nothing can be sent; the batches wait (or fail past DeliveryTimeout).
                    foreach (var batch in drained)
                    {
                        RetryOrFail(batch, producerIdFailure);
                    }
                    return null;
                }
                await DispatchAsync(client, drained, byLeader, producer).ConfigureAwait(false);
                return null;
            }
            // At least a millisecond: a shorter timer fires at once, and the loop would spin until
            // the linger deadline.
            return nextCheck == long.MaxValue
                ? TimeSpan.FromMilliseconds(100)
                : TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling((nextCheck - now) * 1000.0 / _time.TimestampFrequency)));
        }
    }

    private async Task FailEverythingWhenConnectFailsAsync(Exception ex)
    {
        var error = ex as KafkaException ?? new KafkaConnectionException(_options.BootstrapServers, $"The producer could not connect: {ex.Message}", false, ex);
        while (!_stopping.IsCancellationRequested)
        {
            foreach (var batch in _accumulator.TakeAllUnsent())
            {
                FailBatch(batch, error, PersistenceStatus.NotPersisted);
            }
            await _wake.WaitAsync(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    private async Task DispatchAsync(KafkaProtocolClient client, List<ProducerBatch> batches, Dictionary<int, List<ProducerBatch>> byLeader, ProducerStamp producer)
    {
        if (IsTransactional && !await AddPartitionsToTransactionAsync(client, batches, (producer.Id, producer.Epoch)).ConfigureAwait(false))
        {
            return;
        }
        var metadata = client.Metadata;
        foreach (var list in byLeader.Values)
        {
            list.Clear();
        }
        bool needMetadata = false;
        foreach (var batch in batches)
        {
            var partition = metadata.Partition(batch.Partition.Topic, batch.Partition.Partition);
            if (partition is null || partition.LeaderId < 0 || metadata.Broker(partition.LeaderId) is null)
            {
                needMetadata = true;
                RetryOrFail(batch, new KafkaException(ErrorCode.LeaderNotAvailable, $"No leader is known for {batch.Partition}."));
                continue;
            }
            if (!byLeader.TryGetValue(partition.LeaderId, out var list))
            {
                byLeader[partition.LeaderId] = list = [];
            }
            list.Add(batch);
        }
        if (needMetadata)
        {
            RefreshMetadataInBackground(client);
        }
        foreach (var (leader, list) in byLeader)
        {
            if (list.Count == 0)
            {
                continue;
            }
            // Requests to one connection are written in the order they are handed over, which keeps
            // a partition's batches in sequence order on the wire. A connection still being opened
            // gives no such promise: then a partition sends one batch at a time until it is up.
            bool connected = client.HasLiveConnection(leader, ConnectionPurpose.Produce);
            int size = 0;
            int first = 0;
            int count = 0;
            for (int i = 0; i < list.Count; i++)
            {
                var batch = list[i];
                if (!connected && _accumulator.HasUnresolvedBefore(batch))
                {
                    _accumulator.Requeue(batch, retryNotBefore: 0);
                    continue;
                }
                // Finished once per send: the header (producer fields) and CRC are final here.
                batch.Encoded = batch.Writer.Finish();
                int batchSize = batch.Encoded.Length;
                if (count > 0 && size + batchSize > _options.MaxRequestSize)
                {
                    _ = SendAsync(client, leader, Slice(list, first, count));
                    first += count;
                    count = 0;
                    size = 0;
                }
                // Compacted in place (a requeued batch drops out); the request takes a copy.
                list[first + count++] = batch;
                size += batchSize;
            }
            if (count > 0)
            {
                _ = SendAsync(client, leader, Slice(list, first, count));
            }
        }
    }

    private static ProducerBatch[] Slice(List<ProducerBatch> list, int start, int count)
    {
        var batches = new ProducerBatch[count];
        list.CopyTo(start, batches, 0, count);
        return batches;
    }

    private async Task SendAsync(KafkaProtocolClient client, int leader, ProducerBatch[] batches)
    {
        var request = new ProduceRequest
        {
            Acks = (short)_options.Acks,
            TimeoutMs = (int)_options.RequestTimeout.TotalMilliseconds,
        };
        foreach (var batch in batches)
        {
            batch.Attempts++;
            var topic = FindTopic(request.TopicData, batch.Partition.Topic);
            if (topic is null)
            {
                topic = new ProduceRequest.TopicProduceData { Name = batch.Partition.Topic };
                request.TopicData.Add(topic);
            }
            topic.PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = batch.Partition.Partition, Records = batch.Encoded });
        }
        long bytes = 0;
        foreach (var batch in batches)
        {
            bytes += batch.Encoded.Length;
        }
        ProducerMetrics.BytesSent.Add(bytes);
        long started = Stopwatch.GetTimestamp();
        var (previous, handled) = TakeResponseTurn(leader);
        try
        {
            if (_options.Acks == Acks.None)
            {
                await client.SendWithoutResponseAsync(request, leader, ConnectionPurpose.Produce, _stopping.Token).ConfigureAwait(false);
                await AwaitTurnAsync(previous).ConfigureAwait(false);
                foreach (var batch in batches)
                {
                    CompleteBatch(batch, baseOffset: -1, logAppendTimeMs: -1, PersistenceStatus.PossiblyPersisted);
                }
                return;
            }
            var response = await client.SendAsync(request, leader, ConnectionPurpose.Produce, _stopping.Token).ConfigureAwait(false);
            ProducerMetrics.RequestLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            await AwaitTurnAsync(previous).ConfigureAwait(false);
            // The last ProduceAsync completed by this response resumes its caller here, at the
            // end, instead of through one more thread-pool hop (see RunDeferredDelivery).
            t_deferDelivery = true;
            try
            {
                HandleResponse(client, batches, response);
            }
            finally
            {
                t_deferDelivery = false;
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            await AwaitTurnAsync(previous).ConfigureAwait(false);
            foreach (var batch in batches)
            {
                FailBatch(batch, new KafkaException(ErrorCode.UnknownServerError, "The producer was closed while the record was in flight."), PersistenceStatus.PossiblyPersisted);
            }
        }
        catch (KafkaException ex)
        {
            await AwaitTurnAsync(previous).ConfigureAwait(false);
            foreach (var batch in batches)
            {
                RetryOrFail(batch, ex);
            }
            if (ex is KafkaConnectionException)
            {
                RefreshMetadataInBackground(client);
            }
        }
        finally
        {
            // The loop has work only if something is left (a batch held back by the in-flight
            // limit, a retry). When nothing is, waking it would only race an awaiting caller's
            // next record for the drain and push that record through the loop, one thread hop later.
            if (!_accumulator.IsEmpty)
            {
                _wake.Set();
            }
            // Before the held-back delivery runs the caller's code: the next response must not wait for that.
            handled.SetResult();
            RunDeferredDelivery();
        }
    }

    /// <summary>Per leader: the handling of the last request sent to it, which the next request's handling waits for.</summary>
    private readonly Dictionary<int, Task> _lastResponseHandled = [];

    /// <summary>
    /// Takes the next turn to handle a response from <paramref name="leader"/>. Responses arrive in send order on a
    /// connection, but each completes on the thread pool, so two of one partition could otherwise be handled at once and
    /// its deliveries reported out of offset order (and a retry decided before an earlier batch's outcome). Called in
    /// send order (under the drain), before the request is written. <c>handled</c> runs its waiter on the thread pool: the
    /// waiter must not run inside this handler's deferred-delivery window.
    /// </summary>
    private (Task Previous, TaskCompletionSource Handled) TakeResponseTurn(int leader)
    {
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lastResponseHandled)
        {
            var previous = _lastResponseHandled.GetValueOrDefault(leader) ?? Task.CompletedTask;
            _lastResponseHandled[leader] = handled.Task;
            return (previous, handled);
        }
    }

    /// <summary>Waits until the response sent before this one is handled; usually it already is.</summary>
    private static ValueTask AwaitTurnAsync(Task previous) => previous.IsCompleted ? ValueTask.CompletedTask : new ValueTask(previous);

    [ThreadStatic]
    private static bool t_deferDelivery;

    [ThreadStatic]
    private static Completion? t_deferredCompletion;

    [ThreadStatic]
    private static DeliveryResult<TKey, TValue> t_deferredResult;

    [ThreadStatic]
    private static KafkaException? t_deferredError;

    [ThreadStatic]
    private static Action<object?>? t_deferredContinuation;

    [ThreadStatic]
    private static object? t_deferredState;

    /// <summary>
    /// Completes the <c>ProduceAsync</c> held back while a response was handled, running its
    /// caller's continuation on this thread: the response's work is done and this thread-pool
    /// thread has nothing else to do, so the caller resumes one hop sooner (what an awaited lone
    /// record's latency is made of). Every other completion of the response ran its continuation
    /// asynchronously, so no caller's code delays the handling of a response.
    /// </summary>
    private static void RunDeferredDelivery()
    {
        if (t_deferredContinuation is { } continuation)
        {
            // A batch completion's caller (BatchCompletion.Resume held it back).
            var state = t_deferredState;
            t_deferredContinuation = null;
            t_deferredState = null;
            continuation(state);
            return;
        }
        if (t_deferredCompletion is not { } completion)
        {
            return;
        }
        var result = t_deferredResult;
        var error = t_deferredError;
        t_deferredCompletion = null;
        t_deferredResult = default;
        t_deferredError = null;
        completion.Deliver(result, error, runContinuationInline: true);
    }

    /// <summary>
    /// Lets go of what the response handling held back so far (a completion, or a batch
    /// completion's caller), asynchronously: a later one of the same response is held instead.
    /// </summary>
    private static void ReleaseHeldDelivery()
    {
        if (t_deferredContinuation is { } continuation)
        {
            ThreadPool.UnsafeQueueUserWorkItem(continuation, t_deferredState, preferLocal: false);
            t_deferredContinuation = null;
            t_deferredState = null;
        }
        if (t_deferredCompletion is { } completion)
        {
            completion.Deliver(t_deferredResult, t_deferredError);
            t_deferredCompletion = null;
            t_deferredResult = default;
            t_deferredError = null;
        }
    }

    private static ProduceRequest.TopicProduceData? FindTopic(List<ProduceRequest.TopicProduceData> topics, string name)
    {
        foreach (var topic in topics)
        {
            if (string.Equals(topic.Name, name, StringComparison.Ordinal))
            {
                return topic;
            }
        }
        return null;
    }

    /// <summary>The response's entry for <paramref name="partition"/> (a request holds one batch per partition, and few topics).</summary>
    private static ProduceResponse.PartitionProduceResponse? FindResult(ProduceResponse response, TopicPartition partition)
    {
        foreach (var topic in response.Responses)
        {
            if (!string.Equals(topic.Name, partition.Topic, StringComparison.Ordinal))
            {
                continue;
            }
            foreach (var p in topic.PartitionResponses)
            {
                if (p.Index == partition.Partition)
                {
                    return p;
                }
            }
        }
        return null;
    }

    private void HandleResponse(KafkaProtocolClient client, ProducerBatch[] batches, ProduceResponse response)
    {
        // Small requests are matched by scanning; a request to a leader of many partitions gets a lookup table.
        Dictionary<TopicPartition, ProduceResponse.PartitionProduceResponse>? results = null;
        if (batches.Length > 16)
        {
            results = [];
            foreach (var topic in response.Responses)
            {
                foreach (var p in topic.PartitionResponses)
                {
                    results[new TopicPartition(topic.Name, p.Index)] = p;
                }
            }
        }
        bool refresh = false;
        foreach (var batch in batches)
        {
            var result = results is null ? FindResult(response, batch.Partition) : results.GetValueOrDefault(batch.Partition);
            if (result is null)
            {
                RetryOrFail(batch, new KafkaException(ErrorCode.UnknownServerError, $"The broker's response did not mention {batch.Partition}."));
                continue;
            }
            var error = (ErrorCode)result.ErrorCode;
            switch (error)
            {
                case ErrorCode.None:
                    CompleteBatch(batch, result.BaseOffset, result.LogAppendTimeMs, PersistenceStatus.Persisted);
                    break;
                case ErrorCode.DuplicateSequenceNumber:
                    // An older retry already stored this batch; its offsets are no longer known.
                    CompleteBatch(batch, -1, -1, PersistenceStatus.Persisted);
                    break;
                case ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId or ErrorCode.InvalidProducerEpoch
                    when (!IsTransactional || error != ErrorCode.InvalidProducerEpoch) && _accumulator.HasUnresolvedBefore(batch):
                    // An earlier batch of the partition is in flight or waiting to be retried: the
                    // broker refused this one because that one was not written (yet). Send it again
                    // after it, with its original sequence; no epoch bump.
                    RetryOrFail(batch, new KafkaException(error, $"Produce to {batch.Partition} failed behind an earlier batch: {result.ErrorMessage}"), retriableOverride: true);
                    break;
                case ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId or ErrorCode.InvalidProducerEpoch or ErrorCode.ProducerFenced when IsTransactional:
                    // In a transaction the epoch belongs to the coordinator: these make the
                    // transaction abortable (or the producer fenced), never an epoch bump.
                    RetryOrFail(batch, KafkaException.FromErrorCode(error, DescribeFailure(batch, result)));
                    break;
                case ErrorCode.OutOfOrderSequenceNumber:
                case ErrorCode.UnknownProducerId:
                case ErrorCode.InvalidProducerEpoch:
                    // KIP-360: a real gap (the first unresolved batch of the partition is refused),
                    // or the broker lost or rejects our producer state: the partition starts over at
                    // sequence 0 under a bumped epoch, and the batch is sent again.
                    _accumulator.Resequence(batch.Partition, batch.Producer);
                    BumpEpoch(client, batch.Producer);
                    RetryOrFail(batch, new KafkaException(error, $"Produce to {batch.Partition} failed: {result.ErrorMessage}"), retriableOverride: true);
                    break;
                default:
                    refresh |= ErrorCodes.IsInvalidMetadata(error);
                    if (result.RecordErrors.Count > 0)
                    {
                        // KIP-467: the broker refused these records of the batch (and so the whole batch); each gets its
                        // own error, the others one saying they were not refused and can be produced again.
                        FailWithRecordErrors(batch, error, result);
                        break;
                    }
                    RetryOrFail(batch, KafkaException.FromErrorCode(error, DescribeFailure(batch, result)));
                    break;
            }
        }
        if (refresh)
        {
            RefreshMetadataInBackground(client);
        }
    }

    private static string DescribeFailure(ProducerBatch batch, ProduceResponse.PartitionProduceResponse result)
    {
        string message = $"Produce to {batch.Partition} failed";
        if (!string.IsNullOrEmpty(result.ErrorMessage))
        {
            message += ": " + result.ErrorMessage;
        }
        return message + ".";
    }

    private void FailWithRecordErrors(ProducerBatch batch, ErrorCode error, ProduceResponse.PartitionProduceResponse result)
    {
        var recordErrors = new Dictionary<int, KafkaException>(result.RecordErrors.Count);
        foreach (var record in result.RecordErrors)
        {
            string reason = record.BatchIndexErrorMessage ?? result.ErrorMessage ?? "";
            recordErrors[record.BatchIndex] = KafkaException.FromErrorCode(error,
                $"Produce to {batch.Partition} refused this record (#{record.BatchIndex} of its batch){(reason.Length > 0 ? ": " + reason : "")}.");
        }
        var others = new BatchMateRefusedException(error,
            $"Produce to {batch.Partition} failed: the broker refused other records of this record's batch ({string.Join(", ", recordErrors.Keys.Order().Select(i => "#" + i))}), " +
            "so none of it was written; this record itself was not refused and can be produced again.");
        if (IsTransactional)
        {
            EnterErrorState(others);
        }
        FailBatch(batch, others, PersistenceStatus.NotPersisted, recordErrors);
    }

    /// <summary>A record not refused itself, failed with its batch because the broker refused another record of it (KIP-467).</summary>
    private sealed class BatchMateRefusedException(ErrorCode errorCode, string message)
        : KafkaException(errorCode, message, isRetriable: true, innerException: null);

    private void RetryOrFail(ProducerBatch batch, KafkaException error, bool retriableOverride = false)
    {
        long now = _time.GetTimestamp();
        long deadline = batch.CreatedTimestamp + (long)(_options.DeliveryTimeout.TotalSeconds * _time.TimestampFrequency);
        bool retriable = (retriableOverride || error.IsRetriable) && !_stopping.IsCancellationRequested;
        if (retriable && now < deadline)
        {
            // RetryBackoff before the first retry, doubling per further attempt up to RetryBackoffMax, ±20% jitter (as Java).
            double backoffMs = Math.Min(_options.RetryBackoff.TotalMilliseconds * Math.Pow(2, Math.Clamp(batch.Attempts - 1, 0, 16)), _options.RetryBackoffMax.TotalMilliseconds);
            backoffMs *= 0.8 + Random.Shared.NextDouble() * 0.4;
            _accumulator.Requeue(batch, now + (long)(backoffMs / 1000 * _time.TimestampFrequency));
            ProducerMetrics.Retries.Add(1);
            return;
        }
        var status = error is KafkaConnectionException { OutcomeUnknown: true } || batch.Attempts > 1 && error is KafkaTimeoutException
            ? PersistenceStatus.PossiblyPersisted
            : PersistenceStatus.NotPersisted;
        if (IsTransactional)
        {
            EnterErrorState(error);
        }
        if (retriable)
        {
            error = new KafkaTimeoutException($"Delivery did not succeed within DeliveryTimeout ({_options.DeliveryTimeout.TotalMilliseconds:0} ms); last error: {error.Message}", error);
        }
        FailBatch(batch, error, status);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CompleteBatch(ProducerBatch batch, long baseOffset, long logAppendTimeMs, PersistenceStatus status)
    {
        // Callbacks and per-record completions below; records awaited through the batch (target
        // BatchAwaiters.Marker) all at once here.
        batch.Awaiters?.Complete(batch, baseOffset, logAppendTimeMs, status, error: null);
        var entries = batch.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            var outcome = new DeliveryOutcome(batch.Partition.Topic, batch.Partition.Partition, baseOffset < 0 ? -1 : baseOffset + i,
                logAppendTimeMs >= 0 ? logAppendTimeMs : entry.TimestampMs, status, null);
            Deliver(entry, outcome);
        }
        ProducerMetrics.RecordsSent.Add(entries.Length, new KeyValuePair<string, object?>("messaging.destination.name", batch.Partition.Topic));
        ProducerMetrics.BatchRecords.Record(entries.Length);
        _accumulator.Complete(batch);
        _progress.Set();
    }

    private void FailBatch(ProducerBatch batch, KafkaException error, PersistenceStatus status, IReadOnlyDictionary<int, KafkaException>? recordErrors = null)
    {
        batch.Awaiters?.Complete(batch, baseOffset: -1, logAppendTimeMs: -1, status, error, recordErrors);
        var entries = batch.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var own = recordErrors is not null && recordErrors.TryGetValue(i, out var refused) ? refused : error;
            Deliver(entries[i], new DeliveryOutcome(batch.Partition.Topic, batch.Partition.Partition, -1, entries[i].TimestampMs, status, own));
        }
        ProducerMetrics.Errors.Add(batch.RecordCount, new KeyValuePair<string, object?>("error.type", ErrorCodes.ProtocolName(error.ErrorCode)));
        _accumulator.Complete(batch, acknowledged: false);
        _progress.Set();
    }

    private static void Deliver(in DeliveryEntry entry, in DeliveryOutcome outcome)
    {
        if (entry.Activity is { } activity)
        {
            activity.SetTag("messaging.destination.partition.id", outcome.Partition);
            if (outcome.Offset >= 0)
            {
                activity.SetTag("messaging.kafka.offset", outcome.Offset);
            }
            if (outcome.Error is { } error)
            {
                activity.SetStatus(ActivityStatusCode.Error, error.Message);
                activity.SetTag("error.type", ErrorCodes.ProtocolName(error.ErrorCode));
            }
            activity.Dispose();
        }
        switch (entry.Target)
        {
            case Action<DeliveryResult<TKey, TValue>> callback:
                try
                {
                    callback(ToResult(entry.Message, outcome));
                }
#pragma warning disable CA1031 // A user's delivery callback must not break the sender.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
                break;
            case Completion completion when t_deferDelivery:
                // Held back until the response is handled; the one held before goes now.
                ReleaseHeldDelivery();
                t_deferredCompletion = completion;
                t_deferredResult = ToResult(entry.Message, outcome);
                t_deferredError = outcome.Error;
                break;
            case Completion completion:
                completion.Deliver(ToResult(entry.Message, outcome), outcome.Error);
                break;
        }
    }

    private int _refreshing;

    private void RefreshMetadataInBackground(KafkaProtocolClient client)
    {
        if (Interlocked.Exchange(ref _refreshing, 1) != 0)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await client.RefreshMetadataAsync(client.Metadata.Topics.Keys.ToList(), _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
            {
            }
            finally
            {
                Volatile.Write(ref _refreshing, 0);
                _wake.Set();
            }
        });
    }

    private Task<(long Id, short Epoch)> GetProducerIdAsync(KafkaProtocolClient client)
    {
        lock (_producerIdLock)
        {
            if (IsTransactional)
            {
                return _producerId ?? throw new InvalidOperationException("Call InitTransactionsAsync before producing with a transactional producer.");
            }
            if (_producerId is null || _producerId.IsFaulted || _producerId.IsCanceled)
            {
                _producerId = InitProducerIdAsync(client, current: null);
            }
            return _producerId;
        }
    }

    /// <summary>The producer id and epoch, when known without waiting.</summary>
    private bool TryGetKnownProducerId(out ProducerStamp producer)
    {
        lock (_producerIdLock)
        {
            if (_producerId is { IsCompletedSuccessfully: true } done)
            {
                producer = new ProducerStamp(done.Result.Id, done.Result.Epoch);
                return true;
            }
        }
        producer = ProducerStamp.None;
        return false;
    }

    /// <summary>Bumps the epoch (InitProducerId with the current id and epoch) unless <paramref name="failed"/> is already outdated.</summary>
    private void BumpEpoch(KafkaProtocolClient client, ProducerStamp failed)
    {
        lock (_producerIdLock)
        {
            if (!IsTransactional && _producerId is { IsCompletedSuccessfully: true } done && new ProducerStamp(done.Result.Id, done.Result.Epoch) == failed)
            {
                _producerId = InitProducerIdAsync(client, done.Result);
                _wake.Set();
            }
        }
    }

    private Task<(long Id, short Epoch)> InitProducerIdAsync(KafkaProtocolClient client, (long Id, short Epoch)? current) =>
        client.RetryAsync(async ct =>
        {
            var response = await client.SendAsync(new InitProducerIdRequest
            {
                TransactionalId = null,
                TransactionTimeoutMs = int.MaxValue,
                ProducerId = current?.Id ?? -1,
                ProducerEpoch = current?.Epoch ?? -1,
            }, ct).ConfigureAwait(false);
            var error = (ErrorCode)response.ErrorCode;
            if (error != ErrorCode.None)
            {
                throw KafkaException.FromErrorCode(error, "InitProducerId failed.");
            }
            return (response.ProducerId, response.ProducerEpoch);
        }, _options.MaxBlock, _stopping.Token);

    /// <summary>
    /// A broadcast signal: <see cref="Current"/> completes at the next <see cref="Set"/>. Take it
    /// before checking the condition, then await it. Nothing is allocated while nobody waits.
    /// </summary>
    private sealed class Signal
    {
        private TaskCompletionSource? _next;

        /// <summary>Completes at the next <see cref="Set"/>.</summary>
        public Task Current
        {
            get
            {
                var next = Volatile.Read(ref _next);
                if (next is null)
                {
                    var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    next = Interlocked.CompareExchange(ref _next, fresh, null) ?? fresh;
                }
                return next.Task;
            }
        }

        /// <summary>Wakes every current waiter.</summary>
        public void Set() => Interlocked.Exchange(ref _next, null)?.TrySetResult();
    }

    /// <summary>
    /// The sender loop's wake-up: an auto-reset event for one waiter with a timeout, reusing one
    /// timer and one completion (no allocation per wait or per <see cref="Set"/>).
    /// </summary>
    private sealed class Wakeup : IValueTaskSource, IDisposable
    {
        private readonly object _lock = new();
        private readonly ITimer _timer;
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private bool _set;
        private bool _waiting;

        public Wakeup()
        {
            _timer = TimeProvider.System.CreateTimer(static state => ((Wakeup)state!).Set(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Forgets earlier wake-ups: take it before looking for work, so one arriving meanwhile is kept.</summary>
        public void Reset()
        {
            lock (_lock)
            {
                _set = false;
            }
        }

        /// <summary>Wakes the waiter, or the next wait if nobody waits now.</summary>
        public void Set()
        {
            lock (_lock)
            {
                if (!_waiting)
                {
                    _set = true;
                    return;
                }
                _waiting = false;
            }
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _core.SetResult(true);
        }

        /// <summary>Completes at the next <see cref="Set"/> (or at once if one came since <see cref="Reset"/>), or after <paramref name="timeout"/>.</summary>
        public ValueTask WaitAsync(TimeSpan timeout)
        {
            lock (_lock)
            {
                if (_set)
                {
                    _set = false;
                    return ValueTask.CompletedTask;
                }
                _core.Reset();
                _waiting = true;
                _timer.Change(timeout, Timeout.InfiniteTimeSpan);
                return new ValueTask(this, _core.Version);
            }
        }

        public void Dispose() => _timer.Dispose();

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
