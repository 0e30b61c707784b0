namespace KafkaClient.Consumer;

/// <summary>
/// An auto-reset wake-up for one background loop: <see cref="Set"/> before the loop waits is remembered, so no
/// wake-up is lost between the loop's check and its wait.
/// </summary>
internal sealed class AsyncSignal(TimeProvider time)
{
    private readonly object _lock = new();
    private bool _set;
    private TaskCompletionSource? _waiter;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            if (waiter is null)
            {
                _set = true;
                return;
            }
        }
        waiter.TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Set"/> (or at once if one is pending), or when <paramref name="timeout"/> passes; never throws on timeout.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task task;
        lock (_lock)
        {
            if (_set)
            {
                _set = false;
                return;
            }
            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = _waiter.Task;
        }
        if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            await task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }
}
