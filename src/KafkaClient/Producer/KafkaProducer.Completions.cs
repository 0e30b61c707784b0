using System.Threading.Tasks.Sources;
using KafkaClient.Errors;

namespace KafkaClient.Producer;

/// <summary>
/// <c>ProduceAsync</c>'s completions: one reusable <see cref="IValueTaskSource{TResult}"/> per
/// outstanding record, taken from a pool and given back once the caller has read the result, so a
/// warm producer allocates nothing per <c>ProduceAsync</c> (a task and its completion source would
/// be about 180 bytes a record, most of it surviving a collection while the record is in flight).
/// </summary>
public sealed partial class KafkaProducer<TKey, TValue>
{
    private readonly object _completionPoolLock = new();
    private Completion? _freeCompletions;
    private int _freeCompletionCount;

    /// <summary>
    /// How many idle completions the pool keeps: about what the buffer can hold of small records, so
    /// a producer kept as busy as its buffer allows stops allocating them; at most about
    /// <see cref="ProducerOptions.BufferMemory"/> of memory once that many were outstanding at once.
    /// </summary>
    private int MaxPooledCompletions => (int)Math.Clamp(_options.BufferMemory / 128, 1024, 1 << 20);

    private Completion RentCompletion()
    {
        lock (_completionPoolLock)
        {
            if (_freeCompletions is { } free)
            {
                _freeCompletions = free.NextFree;
                free.NextFree = null;
                _freeCompletionCount--;
                return free;
            }
        }
        return new Completion(this);
    }

    private void ReturnCompletion(Completion completion)
    {
        lock (_completionPoolLock)
        {
            if (_freeCompletionCount >= MaxPooledCompletions)
            {
                return;
            }
            completion.NextFree = _freeCompletions;
            _freeCompletions = completion;
            _freeCompletionCount++;
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

        /// <summary>The next idle completion in the pool.</summary>
        public Completion? NextFree { get; set; }

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
}
