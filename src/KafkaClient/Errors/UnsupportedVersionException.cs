namespace KafkaClient.Errors;

/// <summary>
/// A request cannot be carried at any version both sides support: the broker does not support the API or
/// version (<see cref="ErrorCode.UnsupportedVersion"/>), or the version that would be used cannot express a
/// field the caller set. Not retriable against the same broker.
/// </summary>
public sealed class UnsupportedVersionException : KafkaException
{
    /// <summary>Creates an unsupported-version exception.</summary>
    /// <param name="message">Which API, version or field could not be carried.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public UnsupportedVersionException(string message, Exception? innerException = null)
        : base(ErrorCode.UnsupportedVersion, message, isRetriable: false, innerException)
    {
    }
}
