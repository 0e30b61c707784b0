using KafkaClient.Errors;

namespace KafkaClient.Network.Sasl;

/// <summary>
/// The client side of one SASL exchange, free of I/O. A connection drives it through Kafka's
/// <c>SaslHandshake</c> v1 and <c>SaslAuthenticate</c> requests:
/// <code>
/// SaslHandshake(authenticator.MechanismName)
/// byte[]? message = await authenticator.CreateInitialResponseAsync(ct);
/// while (message is not null)
/// {
///     response = SaslAuthenticate(message);
///     if (response.ErrorCode != 0) throw authenticator.CreateFailure(response.ErrorMessage);
///     message = authenticator.EvaluateChallenge(response.AuthBytes);
/// }
/// // authenticator.IsComplete is now true.
/// </code>
/// An instance serves a single exchange and is not thread-safe. Every failure it raises is a
/// <see cref="KafkaException"/> with the SASL authentication failure code, and no message it
/// creates contains a password, token or other secret.
/// </summary>
internal interface ISaslAuthenticator
{
    /// <summary>The mechanism name to announce in <c>SaslHandshake</c>, e.g. <c>SCRAM-SHA-256</c>.</summary>
    string MechanismName { get; }

    /// <summary>True once the exchange has succeeded from the client's point of view.</summary>
    bool IsComplete { get; }

    /// <summary>
    /// Creates the first client message (asynchronous because a mechanism may first have to obtain
    /// a credential, as OAUTHBEARER does). Call once, before <see cref="EvaluateChallenge"/>.
    /// </summary>
    /// <exception cref="KafkaException">The credential could not be obtained or is unusable.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    ValueTask<byte[]> CreateInitialResponseAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Processes the broker's reply (the <c>auth_bytes</c> of a successful <c>SaslAuthenticate</c>
    /// response) and returns the next client message, or <see langword="null"/> when the exchange
    /// is over and <see cref="IsComplete"/> is true.
    /// </summary>
    /// <exception cref="KafkaException">The broker's message is malformed, reports an error, or fails verification.</exception>
    byte[]? EvaluateChallenge(ReadOnlySpan<byte> serverMessage);

    /// <summary>
    /// Creates the exception to throw when the broker rejects the exchange with an error code,
    /// combining the broker's error message with anything the mechanism learned (for example the
    /// OAUTHBEARER error status).
    /// </summary>
    KafkaException CreateFailure(string? brokerErrorMessage);
}
