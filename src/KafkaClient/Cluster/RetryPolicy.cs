using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace KafkaClient.Cluster;

/// <summary>
/// Retries an operation on retriable Kafka errors with exponential backoff and jitter (Polly),
/// never on a connection failure whose outcome is unknown, bounded by a deadline. Errors that
/// mean stale metadata run a refresh callback before the next attempt.
/// </summary>
internal sealed class RetryPolicy
{
    private readonly ResiliencePipeline _pipeline;

    public RetryPolicy(KafkaClientOptions options, ILogger logger)
    {
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = options.TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsSafelyRetriable(ex)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBackoff,
                MaxDelay = options.RetryBackoffMax,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    Log.Retrying(logger, "request", (long)args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>
    /// True when retrying cannot duplicate an effect: a retriable error, except a connection
    /// failure after the request may have reached the broker.
    /// </summary>
    public static bool IsSafelyRetriable(Exception ex) => ex is KafkaException { IsRetriable: true } kafka
        && kafka is not KafkaConnectionException { OutcomeUnknown: true };

    /// <summary>Runs <paramref name="operation"/> until it succeeds, fails for good, or <paramref name="timeout"/> passes.</summary>
    /// <exception cref="KafkaTimeoutException">The deadline passed; the last error is the inner exception.</exception>
    public async Task<T> ExecuteAsync<T>(
        Func<CancellationToken, Task<T>> operation,
        TimeSpan timeout,
        Func<CancellationToken, Task>? refreshMetadata,
        CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Exception? last = null;
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                try
                {
                    return await operation(token).ConfigureAwait(false);
                }
                catch (KafkaException ex)
                {
                    last = ex;
                    if (refreshMetadata is not null && ErrorCodes.IsInvalidMetadata(ex.ErrorCode))
                    {
                        await refreshMetadata(token).ConfigureAwait(false);
                    }
                    throw;
                }
            }, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KafkaTimeoutException(
                $"The operation did not succeed within {timeout.TotalMilliseconds:0} ms{(last is null ? "." : $"; last error: {last.Message}")}", last);
        }
    }
}
