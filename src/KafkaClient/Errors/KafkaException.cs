namespace KafkaClient.Errors;

/// <summary>
/// The base of every error KafkaClient raises for a Kafka-level failure. Carries the protocol
/// <see cref="ErrorCode"/> (or <see cref="ErrorCode.UnknownServerError"/> when the failure has no
/// protocol code) and whether retrying the same operation may succeed.
/// </summary>
public class KafkaException : Exception
{
    /// <summary>Creates an exception for a protocol error code, with the code's own description as message.</summary>
    public KafkaException(ErrorCode errorCode)
        : this(errorCode, ErrorCodes.Describe(errorCode))
    {
    }

    /// <summary>Creates an exception for a protocol error code with a specific message.</summary>
    public KafkaException(ErrorCode errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        IsRetriable = ErrorCodes.IsRetriable(errorCode);
    }

    /// <summary>Creates an exception with an explicit retriable flag (for failures that are not a broker error code).</summary>
    protected KafkaException(ErrorCode errorCode, string message, bool isRetriable, Exception? innerException)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        IsRetriable = isRetriable;
    }

    /// <summary>The Kafka protocol error code behind this failure.</summary>
    public ErrorCode ErrorCode { get; }

    /// <summary>True when the same operation may succeed if retried (for example after a metadata refresh).</summary>
    public bool IsRetriable { get; }
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
