namespace KafkaClient.Errors;

/// <summary>
/// A connection to a broker could not be opened or was lost: a socket error, a failed TLS handshake
/// (other than an authentication failure) or the broker closing the connection. Retriable, on the same
/// broker or after a metadata refresh. When <see cref="OutcomeUnknown"/> is true a request had already been
/// sent, so the broker may have acted on it; retrying a non-idempotent request may then repeat it.
/// </summary>
public sealed class KafkaConnectionException : KafkaException
{
    /// <summary>Creates a connection exception.</summary>
    /// <param name="endpoint">The broker endpoint, such as <c>broker-1:9092</c>.</param>
    /// <param name="message">What failed.</param>
    /// <param name="outcomeUnknown">True when a request had been written (fully or partly) before the failure, so the broker may have received it.</param>
    /// <param name="innerException">The underlying socket, TLS or I/O failure, if any.</param>
    public KafkaConnectionException(string endpoint, string message, bool outcomeUnknown = false, Exception? innerException = null)
        : base(ErrorCode.NetworkException, Compose(endpoint, message, outcomeUnknown), isRetriable: true, innerException)
    {
        Endpoint = endpoint;
        OutcomeUnknown = outcomeUnknown;
    }

    /// <summary>The broker endpoint the connection was for, such as <c>broker-1:9092</c>.</summary>
    public string Endpoint { get; }

    /// <summary>
    /// True when a request had been sent before the connection failed, so whether the broker acted on it is
    /// unknown; false when nothing reached the broker.
    /// </summary>
    public bool OutcomeUnknown { get; }

    private static string Compose(string endpoint, string message, bool outcomeUnknown)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        string text = $"{endpoint}: {message}";
        return outcomeUnknown ? text + " The request may have reached the broker." : text;
    }
}
