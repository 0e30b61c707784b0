namespace KafkaClient.Errors;

/// <summary>
/// The base of every error KafkaClient raises for a Kafka-level failure. Carries the protocol
/// <see cref="ErrorCode"/> (or the closest code when the failure did not come from a broker) and whether
/// retrying the same operation may succeed. The message always starts with the code's protocol name and
/// number, as in <c>NOT_LEADER_OR_FOLLOWER (6): ...</c>.
/// </summary>
/// <remarks>
/// Callers usually need to tell apart only a few cases, each with its own subtype:
/// <see cref="KafkaTimeoutException"/>, <see cref="KafkaConnectionException"/>,
/// <see cref="KafkaAuthenticationException"/>, <see cref="KafkaAuthorizationException"/>,
/// <see cref="ProducerFencedException"/>, <see cref="UnsupportedVersionException"/>,
/// <see cref="LogTruncationException"/> and <see cref="KafkaProtocolException"/>. Every other broker error arrives as a plain
/// <see cref="KafkaException"/>; inspect <see cref="ErrorCode"/> and <see cref="IsRetriable"/>.
/// Use <see cref="FromErrorCode"/> to turn a response's error code into the right type.
/// </remarks>
public class KafkaException : Exception
{
    /// <summary>Creates an exception for a protocol error code, with the code's own description as message.</summary>
    public KafkaException(ErrorCode errorCode)
        : this(errorCode, null)
    {
    }

    /// <summary>Creates an exception for a protocol error code with a specific message.</summary>
    /// <param name="errorCode">The protocol error code.</param>
    /// <param name="message">What went wrong; null or blank uses the code's description. The code's name and number are prefixed.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public KafkaException(ErrorCode errorCode, string? message, Exception? innerException = null)
        : base(ErrorCodes.FormatMessage(errorCode, message), innerException)
    {
        ErrorCode = errorCode;
        IsRetriable = ErrorCodes.IsRetriable(errorCode);
    }

    /// <summary>Creates an exception with an explicit retriable flag (for failures that are not a broker error code).</summary>
    /// <param name="errorCode">The protocol error code closest to the failure.</param>
    /// <param name="message">What went wrong; null or blank uses the code's description. The code's name and number are prefixed.</param>
    /// <param name="isRetriable">Whether the same operation may succeed if retried.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    protected KafkaException(ErrorCode errorCode, string? message, bool isRetriable, Exception? innerException)
        : base(ErrorCodes.FormatMessage(errorCode, message), innerException)
    {
        ErrorCode = errorCode;
        IsRetriable = isRetriable;
    }

    /// <summary>The Kafka protocol error code behind this failure.</summary>
    public ErrorCode ErrorCode { get; }

    /// <summary>True when the same operation may succeed if retried (for example after a metadata refresh).</summary>
    public bool IsRetriable { get; }

    /// <summary>
    /// Creates the exception a caller should see for an error code a broker returned:
    /// <see cref="KafkaTimeoutException"/> for <see cref="ErrorCode.RequestTimedOut"/>,
    /// <see cref="UnsupportedVersionException"/> for <see cref="ErrorCode.UnsupportedVersion"/>,
    /// <see cref="ProducerFencedException"/> for <see cref="ErrorCode.ProducerFenced"/> and
    /// <see cref="ErrorCode.InvalidProducerEpoch"/>, <see cref="KafkaAuthenticationException"/> for the SASL
    /// codes, <see cref="KafkaAuthorizationException"/> for the <c>*_AUTHORIZATION_FAILED</c> codes, and a
    /// plain <see cref="KafkaException"/> for every other code, including codes this client does not know.
    /// </summary>
    /// <param name="code">The error code from the response; must not be <see cref="ErrorCode.None"/>.</param>
    /// <param name="message">The broker's error message, if the response carried one; otherwise the code's description is used.</param>
    /// <remarks>
    /// <see cref="ErrorCode.InvalidProducerEpoch"/> is treated as fencing because that is what it means to a
    /// transactional producer; an idempotent producer recovers from it by bumping its epoch and should not
    /// surface it through this method.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="code"/> is <see cref="ErrorCode.None"/>.</exception>
    public static KafkaException FromErrorCode(ErrorCode code, string? message = null)
    {
        if (code == ErrorCode.None)
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "NONE (0) means success; there is no exception for it.");
        }

        return code switch
        {
            ErrorCode.RequestTimedOut => new KafkaTimeoutException(message ?? ErrorCodes.Describe(code)),
            ErrorCode.UnsupportedVersion => new UnsupportedVersionException(message ?? ErrorCodes.Describe(code)),
            ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch => new ProducerFencedException(code, message),
            _ when ErrorCodes.IsAuthenticationError(code) => new KafkaAuthenticationException(code, message),
            _ when ErrorCodes.IsAuthorizationError(code) => new KafkaAuthorizationException(code, message),
            _ => new KafkaException(code, message),
        };
    }
}

/// <summary>
/// Bytes received from a broker (or handed to the codec) could not be decoded: a truncated or
/// malformed frame, an impossible length, a record batch whose CRC does not match. Never retriable
/// on the same bytes; the connection that produced them is closed.
/// </summary>
public sealed class KafkaProtocolException : KafkaException
{
    /// <summary>Creates a protocol exception.</summary>
    public KafkaProtocolException(string message, Exception? innerException = null)
        : base(ErrorCode.CorruptMessage, message, isRetriable: false, innerException)
    {
    }
}
