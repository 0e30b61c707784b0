namespace KafkaClient.Errors;

/// <summary>
/// The client could not authenticate to a broker: the SASL exchange failed
/// (<see cref="ErrorCode.SaslAuthenticationFailed"/>, <see cref="ErrorCode.IllegalSaslState"/>,
/// <see cref="ErrorCode.UnsupportedSaslMechanism"/>) or TLS client authentication was refused. Not retriable:
/// the credentials or the security settings must change first.
/// </summary>
public sealed class KafkaAuthenticationException : KafkaException
{
    /// <summary>
    /// Creates an authentication exception with <see cref="ErrorCode.SaslAuthenticationFailed"/> as code;
    /// also used for TLS authentication failures, which have no code of their own.
    /// </summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public KafkaAuthenticationException(string message, Exception? innerException = null)
        : this(ErrorCode.SaslAuthenticationFailed, message, innerException)
    {
    }

    /// <summary>Creates an authentication exception for one of the SASL error codes.</summary>
    /// <param name="errorCode"><see cref="ErrorCode.SaslAuthenticationFailed"/>, <see cref="ErrorCode.IllegalSaslState"/> or <see cref="ErrorCode.UnsupportedSaslMechanism"/>.</param>
    /// <param name="message">What failed; null uses the code's description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="errorCode"/> is not an authentication code.</exception>
    public KafkaAuthenticationException(ErrorCode errorCode, string? message = null, Exception? innerException = null)
        : base(Check(errorCode), message, isRetriable: false, innerException)
    {
    }

    private static ErrorCode Check(ErrorCode errorCode) =>
        ErrorCodes.IsAuthenticationError(errorCode)
            ? errorCode
            : throw new ArgumentOutOfRangeException(nameof(errorCode), errorCode, "Not an authentication error code.");
}
