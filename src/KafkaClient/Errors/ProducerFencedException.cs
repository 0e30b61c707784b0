namespace KafkaClient.Errors;

/// <summary>
/// A transactional producer has been fenced: another producer with the same transactional id has started
/// (<see cref="ErrorCode.ProducerFenced"/>), or the broker rejected the producer's epoch during a transaction
/// (<see cref="ErrorCode.InvalidProducerEpoch"/>). Not retriable: this producer instance cannot continue and
/// must be closed.
/// </summary>
public sealed class ProducerFencedException : KafkaException
{
    /// <summary>Creates a fencing exception with <see cref="ErrorCode.ProducerFenced"/> as code.</summary>
    /// <param name="message">What was fenced; null uses the code's description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public ProducerFencedException(string? message = null, Exception? innerException = null)
        : this(ErrorCode.ProducerFenced, message, innerException)
    {
    }

    /// <summary>Creates a fencing exception for <see cref="ErrorCode.ProducerFenced"/> or <see cref="ErrorCode.InvalidProducerEpoch"/>.</summary>
    /// <param name="errorCode">The code the broker returned.</param>
    /// <param name="message">What was fenced; null uses the code's description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="errorCode"/> is neither fencing code.</exception>
    public ProducerFencedException(ErrorCode errorCode, string? message = null, Exception? innerException = null)
        : base(Check(errorCode), message, isRetriable: false, innerException)
    {
    }

    private static ErrorCode Check(ErrorCode errorCode) =>
        errorCode is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch
            ? errorCode
            : throw new ArgumentOutOfRangeException(nameof(errorCode), errorCode, "Not a producer fencing error code.");
}
