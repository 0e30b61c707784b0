using KafkaClient.Diagnostics;

namespace KafkaClient.Consumer;

public sealed partial class KafkaConsumer<TKey, TValue>
{
    private CancellationTokenSource? _runnerStopping;
    private int _runnerActive;

    /// <inheritdoc/>
    public Task RunAsync(Func<ConsumeResult<TKey, TValue>, CancellationToken, ValueTask> handler, RunnerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return RunCoreAsync(options ?? new RunnerOptions(), (chunk, token) => ProcessRecordsAsync(chunk, handler, token), cancellationToken);
    }

    /// <inheritdoc/>
    public Task RunBatchesAsync(Func<ConsumeBatch<TKey, TValue>, CancellationToken, ValueTask> handler, RunnerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var resolved = options ?? new RunnerOptions();
        return RunCoreAsync(resolved, (chunk, token) => ProcessBatchesAsync(chunk, handler, resolved, token), cancellationToken);
    }

    /// <summary>
    /// The dispatcher: takes fetched chunks, decodes them, and queues them per partition; up to
    /// <see cref="RunnerOptions.MaxConcurrentPartitions"/> workers each drain one partition's queue at a time, so a
    /// partition's records are processed in order while different partitions proceed concurrently. Chunks waiting
    /// in the queues still count against the prefetch limits, so a slow handler slows fetching (nothing is dropped).
    /// </summary>
    private async Task RunCoreAsync(RunnerOptions options, Func<FetchedChunk, CancellationToken, ValueTask> process, CancellationToken cancellationToken)
    {
        options.Validate();
        ThrowIfClosed();
        if (Interlocked.CompareExchange(ref _runnerActive, 1, 0) != 0)
        {
            throw new InvalidOperationException("The consumer is already running a handler; one runner per consumer.");
        }
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        _runnerStopping = stopping;
        var token = stopping.Token;
        var queues = new Dictionary<PartitionState, Queue<FetchedChunk>>();
        var waiting = new Queue<PartitionState>();
        var active = new HashSet<PartitionState>();
        var workers = new List<Task>();
        var wake = new AsyncSignal(_time);
        Exception? failure = null;
        try
        {
            while (!token.IsCancellationRequested && Volatile.Read(ref failure) is null)
            {
                if (_fatal is { } fatal)
                {
                    throw fatal;
                }
                lock (queues)
                {
                    while (NextChunk(adopt: false) is { } chunk)
                    {
                        // The worker adopts the chunk (as the partition's active chunk) when it starts on it.
                        var state = chunk.State;
                        if (!queues.TryGetValue(state, out var queue))
                        {
                            queues[state] = queue = new Queue<FetchedChunk>();
                        }
                        queue.Enqueue(chunk);
                        if (!active.Contains(state) && !waiting.Contains(state))
                        {
                            waiting.Enqueue(state);
                        }
                    }
                    while (active.Count < options.MaxConcurrentPartitions && waiting.TryDequeue(out var next))
                    {
                        active.Add(next);
                        workers.Add(WorkAsync(next));
                    }
                    workers.RemoveAll(w => w.IsCompleted);
                }
                var readable = _ready.Reader.WaitToReadAsync(token).AsTask();
                await Task.WhenAny(readable, wake.WaitAsync(Timeout.InfiniteTimeSpan, token)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            stopping.Cancel();
            Task[] remaining;
            lock (queues)
            {
                remaining = [.. workers];
            }
            try
            {
                await Task.WhenAll(remaining).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A worker's failure is reported through `failure`.
            }
            lock (queues)
            {
                foreach (var queue in queues.Values)
                {
                    while (queue.TryDequeue(out var chunk))
                    {
                        lock (_sync)
                        {
                            if (chunk.Version == chunk.State.Version && !chunk.State.Removed)
                            {
                                // Fetched, never processed: fetch it again from the position when consuming resumes.
                                chunk.State.Invalidate();
                            }
                            FinishChunkLocked(chunk, stale: true);
                        }
                    }
                }
            }
            ReleaseFinished();
            _runnerStopping = null;
            Volatile.Write(ref _runnerActive, 0);
            _fetchWake.Set();
        }
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        async Task WorkAsync(PartitionState state)
        {
            await Task.Yield();
            try
            {
                while (!token.IsCancellationRequested)
                {
                    FetchedChunk? chunk;
                    lock (queues)
                    {
                        if (!queues[state].TryDequeue(out chunk))
                        {
                            active.Remove(state);
                            break;
                        }
                    }
                    lock (_sync)
                    {
                        state.Processing++;
                        state.ActiveChunk = chunk;
                    }
                    try
                    {
                        await process(chunk, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        lock (_sync)
                        {
                            if (chunk.Index < chunk.Count && chunk.Version == state.Version && !state.Removed)
                            {
                                // Stopped part-way (the runner is stopping, or the partition is being revoked): the
                                // position stays after the last record handed out and the rest is fetched again.
                                state.Invalidate();
                            }
                            FinishChunkLocked(chunk, stale: chunk.Version != state.Version);
                            chunk.Release(ReturnBuffer);
                            _finished.Remove(chunk);
                            state.Processing--;
                            if (state.Processing == 0 && state.IdleWaiter is { } idle)
                            {
                                state.IdleWaiter = null;
                                idle.TrySetResult();
                            }
                        }
                        _fetchWake.Set();
                    }
                    lock (queues)
                    {
                        if (waiting.Count > 0)
                        {
                            // Take turns: a partition whose queue the fetcher keeps supplied would otherwise hold
                            // this worker forever. The finally block queues it again behind the waiting ones.
                            active.Remove(state);
                            break;
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
                lock (queues)
                {
                    active.Remove(state);
                }
            }
            finally
            {
                lock (queues)
                {
                    if (!active.Contains(state) && queues[state].Count > 0 && !waiting.Contains(state))
                    {
                        waiting.Enqueue(state);
                    }
                }
                wake.Set();
            }
        }
    }

    private bool ShouldStop(PartitionState state, FetchedChunk chunk) => state.Revoking || state.Removed || chunk.Version != state.Version;

    /// <summary>
    /// Hands <paramref name="count"/> records of <paramref name="chunk"/> to a handler unless the partition was paused,
    /// revoked, sought or revalidated meanwhile, with the consume path's protocol: <see cref="PartitionState.HandingOut"/>
    /// is set before the check, so a version bump either sees these records in the position it folds or they are not
    /// handed out (checking first and publishing after let a bump fold the position without them, and the same member
    /// was handed the record again from the refetch).
    /// </summary>
    private static bool TryHandOut(PartitionState state, FetchedChunk chunk, int count, long nextOffset, int leaderEpoch)
    {
        Interlocked.Exchange(ref state.HandingOut, 1);
        try
        {
            if (state.Revoking || state.Removed || chunk.Version != Volatile.Read(ref state.VersionField))
            {
                return false;
            }
            chunk.Index += count;
            chunk.PublishDelivered(nextOffset, leaderEpoch);
            return true;
        }
        finally
        {
            Volatile.Write(ref state.HandingOut, 0);
        }
    }

    private async ValueTask ProcessRecordsAsync(FetchedChunk chunk, Func<ConsumeResult<TKey, TValue>, CancellationToken, ValueTask> handler, CancellationToken token)
    {
        var state = chunk.State;
        while (chunk.Index < chunk.Count && !token.IsCancellationRequested)
        {
            var result = Deserialize(state.Topic, state.Partition, chunk[chunk.Index]);
            if (KafkaDiagnostics.ActivitySource.HasListeners())
            {
                ConsumerTracing.RecordReceived(state.TopicPartition, chunk[chunk.Index].Record, _options.GroupId);
            }
            if (!TryHandOut(state, chunk, 1, result.Offset + 1, result.LeaderEpoch))
            {
                return;
            }
            try
            {
                await handler(result, token).ConfigureAwait(false);
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                RewindTo(state, chunk, result.Offset, result.LeaderEpoch);
                throw;
            }
            chunk.PublishProcessed(result.Offset + 1, result.LeaderEpoch);
        }
    }

    private async ValueTask ProcessBatchesAsync(FetchedChunk chunk, Func<ConsumeBatch<TKey, TValue>, CancellationToken, ValueTask> handler, RunnerOptions options, CancellationToken token)
    {
        var state = chunk.State;
        while (chunk.Index < chunk.Count && !token.IsCancellationRequested)
        {
            int take = Math.Min(options.MaxBatchRecords, chunk.Count - chunk.Index);
            var records = new ConsumeResult<TKey, TValue>[take];
            for (int i = 0; i < take; i++)
            {
                records[i] = Deserialize(state.Topic, state.Partition, chunk[chunk.Index + i]);
            }
            var last = records[^1];
            long highWatermark;
            lock (_sync)
            {
                highWatermark = state.HighWatermark;
            }
            if (KafkaDiagnostics.ActivitySource.HasListeners())
            {
                for (int i = 0; i < take; i++)
                {
                    ConsumerTracing.RecordReceived(state.TopicPartition, chunk[chunk.Index + i].Record, _options.GroupId);
                }
            }
            if (!TryHandOut(state, chunk, take, last.Offset + 1, last.LeaderEpoch))
            {
                return;
            }
            var batch = new ConsumeBatch<TKey, TValue>(state.TopicPartition, records, highWatermark,
                isStale: () => ShouldStop(state, chunk),
                isRunning: () => !token.IsCancellationRequested,
                store: offset => chunk.PublishProcessed(offset.Offset, -1),
                heartbeat: HeartbeatNowAsync);
            try
            {
                await handler(batch, token).ConfigureAwait(false);
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                long resume = batch.LastResolvedOffset is { } resolved ? resolved + 1 : records[0].Offset;
                RewindTo(state, chunk, resume, -1);
                throw;
            }
            if (batch.IsStale)
            {
                RewindStaleBatch(state, batch.LastResolvedOffset is { } resolved ? resolved + 1 : records[0].Offset, last.Offset + 1);
                return;
            }
            if (options.AutoResolveBatch)
            {
                batch.ResolveOffset(last.Offset);
            }
        }
    }

    /// <summary>
    /// A batch went stale while its handler ran (a pause, or a position validation) and the handler may have stopped
    /// early, as <see cref="ConsumeBatch{TKey, TValue}.IsStale"/> invites: the staleness folded the position past the whole
    /// batch, so records after the last resolved one would never be handed out again. The partition resumes at
    /// <paramref name="resume"/> instead, as after a failed handler. Not after a seek (the position is elsewhere: the
    /// application chose it) or a revocation (the next owner starts at the commit, which holds only resolved records).
    /// </summary>
    private void RewindStaleBatch(PartitionState state, long resume, long batchEnd)
    {
        lock (_sync)
        {
            if (resume < batchEnd && state.Position == batchEnd && !state.Removed && !state.Revoking && !state.AwaitingValidation)
            {
                state.MoveTo(resume, -1);
            }
        }
        _fetchWake.Set();
    }

    /// <summary>After a handler failed: the next consumer of the partition starts again at <paramref name="offset"/>.</summary>
    private void RewindTo(PartitionState state, FetchedChunk chunk, long offset, int epoch)
    {
        lock (_sync)
        {
            if (chunk.Version == state.Version && !state.Removed)
            {
                state.MoveTo(offset, epoch);
            }
        }
    }

    /// <summary>Before revoking: stop the runner taking further records of <paramref name="partitions"/> and wait (up to the rebalance timeout) for the records in its handlers.</summary>
    private async Task WaitForProcessingAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken ct)
    {
        var waits = new List<Task>();
        lock (_sync)
        {
            foreach (var tp in partitions)
            {
                if (_partitions.TryGetValue(tp, out var state))
                {
                    state.Revoking = true;
                    if (state.Processing > 0)
                    {
                        state.IdleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        waits.Add(state.IdleWaiter.Task);
                    }
                }
            }
        }
        if (waits.Count == 0)
        {
            return;
        }
        try
        {
            await Task.WhenAll(waits).WaitAsync(_options.RebalanceTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.ConsumerLoopError(_logger, "revoke", $"records of {string.Join(", ", partitions)} were still being processed after the rebalance timeout", null);
        }
    }
}
