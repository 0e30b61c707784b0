namespace KafkaClient.Errors;

/// <summary>
/// An operation's deadline passed before it completed: the client's own timeout ran out, or a broker
/// answered <see cref="ErrorCode.RequestTimedOut"/>. Retriable, though a request that was already sent may
/// still have taken effect on the broker.
/// </summary>
public sealed class KafkaTimeoutException : KafkaException
{
    /// <summary>Creates a timeout exception.</summary>
    /// <param name="message">What timed out and after how long.</param>
    /// <param name="innerException">The underlying failure, if any (for example an <see cref="OperationCanceledException"/>).</param>
    public KafkaTimeoutException(string message, Exception? innerException = null)
        : base(ErrorCode.RequestTimedOut, message, isRetriable: true, innerException)
    {
    }
}
