using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using KafkaClient.Errors;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Producer;

/// <summary>
/// <c>ProduceAsync</c>'s completions: one reusable <see cref="IValueTaskSource{TResult}"/> per
/// outstanding record, taken from a pool and given back once the caller has read the result, so a
/// warm producer allocates nothing per <c>ProduceAsync</c> (a task and its completion source would
/// be about 180 bytes a record, most of it surviving a collection while the record is in flight).
/// </summary>
public sealed partial class KafkaProducer<TKey, TValue>
{
    private readonly IdlePool<Completion> _idleCompletions = new();

    /// <summary>
    /// How many idle completions the pool keeps: about what the buffer can hold of small records, so
    /// a producer kept as busy as its buffer allows stops allocating them; at most about
    /// <see cref="ProducerOptions.BufferMemory"/> of memory once that many were outstanding at once.
    /// </summary>
    private int MaxPooledCompletions => (int)Math.Clamp(_options.BufferMemory / 128, 1024, 1 << 20);

    private Completion RentCompletion() => _idleCompletions.TryTake() ?? new Completion(this);

    private void ReturnCompletion(Completion completion) => _idleCompletions.Return(completion, MaxPooledCompletions);

    /// <summary>Idle objects kept for reuse (at most as many as the caller allows), one lock around them.</summary>
    private sealed class IdlePool<T>
        where T : class
    {
        private readonly Stack<T> _idle = new();

        public T? TryTake()
        {
            lock (_idle)
            {
                return _idle.TryPop(out var item) ? item : null;
            }
        }

        public void Return(T item, int max)
        {
            lock (_idle)
            {
                if (_idle.Count < max)
                {
                    _idle.Push(item);
                }
            }
        }
    }

    /// <summary>
    /// One <c>ProduceAsync</c>'s result: completed once, by the delivery or by the caller's
    /// cancellation (whichever comes first), read once by the caller's await, then back to the pool.
    /// A completion whose caller stopped waiting (cancelled) is still referenced by its batch and is
    /// never reused; neither is one whose task is never awaited (it is simply collected).
    /// </summary>
    private sealed class Completion : IValueTaskSource<DeliveryResult<TKey, TValue>>
    {
        private readonly KafkaProducer<TKey, TValue> _owner;
        private ManualResetValueTaskSourceCore<DeliveryResult<TKey, TValue>> _core = new() { RunContinuationsAsynchronously = true };
        private CancellationTokenRegistration _cancellation;
        private int _completed;
        private bool _cancelled;

        public Completion(KafkaProducer<TKey, TValue> owner)
        {
            _owner = owner;
        }

        public ValueTask<DeliveryResult<TKey, TValue>> Task => new(this, _core.Version);

        /// <summary>Lets <paramref name="cancellationToken"/> end the caller's wait (the record itself may still be delivered).</summary>
        public void CancelWith(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((Completion)state!).Cancel(token), this);
            }
        }

        /// <summary>
        /// Completes with the record's outcome, unless the caller's wait was cancelled first. The
        /// caller's continuation runs on the thread pool, or here with <paramref name="runContinuationInline"/>
        /// (a captured synchronization context is still honoured).
        /// </summary>
        public void Deliver(in DeliveryResult<TKey, TValue> result, KafkaException? error, bool runContinuationInline = false)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0)
            {
                return;
            }
            _core.RunContinuationsAsynchronously = !runContinuationInline;
            if (error is null)
            {
                _core.SetResult(result);
            }
            else
            {
                _core.SetException(new ProduceException<TKey, TValue>(result, error));
            }
        }

        private void Cancel(CancellationToken token)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0)
            {
                return;
            }
            _cancelled = true;
            _core.SetException(new OperationCanceledException(token));
        }

        /// <summary>Back to the pool unused (the record was never enqueued).</summary>
        public void Discard()
        {
            _core.Reset();
            _owner.ReturnCompletion(this);
        }

        public DeliveryResult<TKey, TValue> GetResult(short token)
        {
            bool current = token == _core.Version; // a stale token throws below and must not recycle the current use
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                if (current)
                {
                    // Waits for a cancellation callback that is running, so none can touch the next use.
                    _cancellation.Dispose();
                    _cancellation = default;
                    if (!_cancelled)
                    {
                        _completed = 0;
                        _core.RunContinuationsAsynchronously = true;
                        _core.Reset();
                        _owner.ReturnCompletion(this);
                    }
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private readonly IdlePool<BatchCompletion> _idleBatchCompletions = new();
    private Func<BatchAwaiters>? _rentBatchCompletion;

    /// <summary>The accumulator's factory for a batch's awaiters (one delegate for the producer's lifetime).</summary>
    private Func<BatchAwaiters> RentBatchCompletionFactory => _rentBatchCompletion ??= RentBatchCompletion;

    /// <summary>How many idle batch completions the pool keeps: one per batch the buffer can hold.</summary>
    private int MaxPooledBatchCompletions => (int)Math.Clamp(_options.BufferMemory / Math.Max(_options.BatchSize, 1), 64, 1 << 16);

    private BatchCompletion RentBatchCompletion() => _idleBatchCompletions.TryTake() ?? new BatchCompletion(this);

    private void ReturnBatchCompletion(BatchCompletion completion) => _idleBatchCompletions.Return(completion, MaxPooledBatchCompletions);

    /// <summary>
    /// The <c>ProduceAsync</c> results of one batch: one pooled object per batch instead of one per
    /// record. Each awaited record is a slot; its <c>ValueTask</c>'s token is the slot's index
    /// (low 11 bits) and the object's use count (high 4 bits, so a result read twice, or a task
    /// kept across a reuse, fails instead of reading another record's result). The batch's outcome
    /// is set once for all slots; each slot's continuation, when one was registered before, runs
    /// on the thread pool (the last of a response may run inline, see RunDeferredDelivery). The
    /// object goes back to the pool once every slot's result was read; a task never awaited keeps
    /// it out of the pool (it is simply collected).
    /// </summary>
    /// <remarks>
    /// A <c>ProduceAsync</c> whose cancellation token can be cancelled uses its own
    /// <see cref="Completion"/> instead: only a per-record source can end one caller's wait early.
    /// </remarks>
    private sealed class BatchCompletion : BatchAwaiters, IValueTaskSource<DeliveryResult<TKey, TValue>>
    {
        private const int IndexBits = 11;
        private const int IndexMask = (1 << IndexBits) - 1;
        private const int UseMask = 0xF;

        /// <summary>Stands for "completed" in a slot's continuation field.</summary>
        private static readonly Action<object?> s_completed = static _ => { };

        private readonly KafkaProducer<TKey, TValue> _owner;
        private Slot[] _slots = [];

        /// <summary>Where awaiting callers asked to resume (a synchronization context, a task scheduler or an execution context): rare, so apart from the slots.</summary>
        private ResumeContext[]? _contexts;
        private int _expected;
        private int _unread;
        private int _use;
        private volatile bool _completed;
        private string _topic = "";
        private int _partition = -1;
        private long _baseOffset = -1;
        private long _logAppendTimeMs = -1;
        private PersistenceStatus _status;
        private KafkaException? _error;
        private IReadOnlyDictionary<int, KafkaException>? _recordErrors;

        public BatchCompletion(KafkaProducer<TKey, TValue> owner)
        {
            _owner = owner;
        }

        /// <summary>The task of the record at <paramref name="index"/>.</summary>
        public ValueTask<DeliveryResult<TKey, TValue>> Task(int index) => new(this, (short)((_use << IndexBits) | index));

        public override void Expect(int index, int capacityHint)
        {
            if (index >= _slots.Length)
            {
                Array.Resize(ref _slots, Math.Min(Math.Max(Math.Max(_slots.Length * 2, index + 1), capacityHint), MaxRecords));
            }
            _slots[index].Awaited = true;
            _expected = Math.Max(_expected, index + 1);
            _unread++;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Complete(ProducerBatch batch, long baseOffset, long logAppendTimeMs, PersistenceStatus status, KafkaException? error,
            IReadOnlyDictionary<int, KafkaException>? recordErrors = null)
        {
            var entries = batch.Entries;
            var slots = _slots;
            for (int i = 0; i < _expected; i++)
            {
                if (slots[i].Awaited)
                {
                    slots[i].Message = entries[i].Message;
                    slots[i].TimestampMs = entries[i].TimestampMs;
                }
            }
            _topic = batch.Partition.Topic;
            _partition = batch.Partition.Partition;
            _baseOffset = baseOffset;
            _logAppendTimeMs = logAppendTimeMs;
            _status = status;
            _error = error;
            _recordErrors = error is null ? null : recordErrors;
            _unread++; // this method's own hold: no reuse before its last slot is resumed
            _completed = true;
            for (int i = 0; i < _expected; i++)
            {
                if (!slots[i].Awaited)
                {
                    continue;
                }
                var continuation = Interlocked.Exchange(ref slots[i].Continuation, s_completed);
                if (continuation is not null)
                {
                    Resume(continuation, slots[i].State, _contexts is { } contexts ? contexts[i] : default, mayDefer: true);
                }
            }
            if (Interlocked.Decrement(ref _unread) == 0)
            {
                Recycle();
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public ValueTaskSourceStatus GetStatus(short token)
        {
            CheckUse(token);
            if (!_completed)
            {
                return ValueTaskSourceStatus.Pending;
            }
            return _error is null ? ValueTaskSourceStatus.Succeeded : ValueTaskSourceStatus.Faulted;
        }

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            int index = CheckUse(token);
            ref var slot = ref _slots[index];
            slot.State = state;
            var context = CaptureContext(flags);
            if (context.IsSome)
            {
                (_contexts ??= new ResumeContext[MaxRecords])[index] = context;
            }
            var previous = Interlocked.CompareExchange(ref slot.Continuation, continuation, null);
            if (previous is not null)
            {
                if (!ReferenceEquals(previous, s_completed))
                {
                    throw new InvalidOperationException("A ProduceAsync task was awaited twice at the same time.");
                }
                // Completed meanwhile: the caller is not to be resumed on its own stack.
                Resume(continuation, state, context, mayDefer: false);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public DeliveryResult<TKey, TValue> GetResult(short token)
        {
            int index = CheckUse(token);
            if (!_completed)
            {
                throw new InvalidOperationException("The ProduceAsync result was read before the record's delivery completed.");
            }
            ref var slot = ref _slots[index];
            // The outcome CompleteBatch or FailBatch gives a record delivered one by one.
            var error = _recordErrors is { } recordErrors && recordErrors.TryGetValue(index, out var own) ? own : _error;
            var result = ToResult(slot.Message!, new DeliveryOutcome(_topic, _partition,
                error is null && _baseOffset >= 0 ? _baseOffset + index : -1,
                error is null && _logAppendTimeMs >= 0 ? _logAppendTimeMs : slot.TimestampMs,
                _status, error));
            slot.Awaited = false; // read: a second read of this token fails
            slot.Message = null;
            if (Interlocked.Decrement(ref _unread) == 0)
            {
                Recycle();
            }
            return error is null ? result : throw new ProduceException<TKey, TValue>(result, error);
        }

        private int CheckUse(short token)
        {
            int index = token & IndexMask;
            if (((token >> IndexBits) & UseMask) != _use || index >= _expected || !_slots[index].Awaited)
            {
                throw new InvalidOperationException("This ProduceAsync task's result was already read (a ValueTask may be awaited only once).");
            }
            return index;
        }

        private void Recycle()
        {
            Array.Clear(_slots, 0, _expected);
            if (_contexts is { } contexts)
            {
                Array.Clear(contexts, 0, _expected);
            }
            _use = (_use + 1) & UseMask;
            _expected = 0;
            _completed = false;
            _topic = "";
            _partition = -1;
            _baseOffset = -1;
            _logAppendTimeMs = -1;
            _error = null;
            _recordErrors = null;
            _owner.ReturnBatchCompletion(this);
        }

        private static ResumeContext CaptureContext(ValueTaskSourceOnCompletedFlags flags)
        {
            object? scheduling = null;
            if ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0)
            {
                if (SynchronizationContext.Current is { } context && context.GetType() != typeof(SynchronizationContext))
                {
                    scheduling = context;
                }
                else if (TaskScheduler.Current is { } scheduler && scheduler != TaskScheduler.Default)
                {
                    scheduling = scheduler;
                }
            }
            var execution = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
            return new ResumeContext(scheduling, execution);
        }

        private static void Resume(Action<object?> continuation, object? state, ResumeContext resumeContext, bool mayDefer)
        {
            var executionContext = resumeContext.Execution;
            switch (resumeContext.Scheduling)
            {
                case SynchronizationContext synchronizationContext:
                    synchronizationContext.Post(static s =>
                    {
                        var (c, st) = ((Action<object?>, object?))s!;
                        c(st);
                    }, (continuation, state));
                    return;
                case TaskScheduler scheduler:
                    _ = System.Threading.Tasks.Task.Factory.StartNew(continuation, state, CancellationToken.None, TaskCreationOptions.DenyChildAttach, scheduler);
                    return;
            }
            if (executionContext is not null)
            {
                ThreadPool.QueueUserWorkItem(static s =>
                {
                    var (c, st, ec) = s;
                    ExecutionContext.Run(ec, static x =>
                    {
                        var (c2, st2) = ((Action<object?>, object?))x!;
                        c2(st2);
                    }, (c, st));
                }, (continuation, state, executionContext), preferLocal: false);
                return;
            }
            if (mayDefer && t_deferDelivery)
            {
                // Held back until the response is handled; the one held before goes now.
                ReleaseHeldDelivery();
                t_deferredContinuation = continuation;
                t_deferredState = state;
                return;
            }
            ThreadPool.UnsafeQueueUserWorkItem(continuation, state, preferLocal: false);
        }

        private struct Slot
        {
            public Action<object?>? Continuation;
            public object? State;
            public object? Message;
            public long TimestampMs;
            public bool Awaited;
        }

        /// <summary>A scheduling context (synchronization context or task scheduler) and an execution context to resume a caller in.</summary>
        private readonly record struct ResumeContext(object? Scheduling, ExecutionContext? Execution)
        {
            public bool IsSome => Scheduling is not null || Execution is not null;
        }
    }
}
