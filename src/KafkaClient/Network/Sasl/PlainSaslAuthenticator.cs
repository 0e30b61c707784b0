using System.Text;
using KafkaClient.Errors;

namespace KafkaClient.Network.Sasl;

/// <summary>
/// SASL <c>PLAIN</c> (RFC 4616): a single message <c>authzid NUL authcid NUL passwd</c> with an empty
/// authorization id, as Kafka's Java client sends it. The broker answers with empty bytes.
/// </summary>
internal sealed class PlainSaslAuthenticator : ISaslAuthenticator
{
    private readonly string _username;
    private readonly string _password;
    private State _state;

    /// <summary>Creates the authenticator.</summary>
    /// <exception cref="ArgumentException">The user name is empty, or either value contains NUL.</exception>
    public PlainSaslAuthenticator(string username, string password)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        if (username.Length == 0)
        {
            throw new ArgumentException("The SASL/PLAIN user name must not be empty.", nameof(username));
        }

        // RFC 4616: NUL separates the fields, so neither may contain it. Never echo the values.
        if (username.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("The SASL/PLAIN user name must not contain NUL characters.", nameof(username));
        }

        if (password.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("The SASL/PLAIN password must not contain NUL characters.", nameof(password));
        }

        _username = username;
        _password = password;
    }

    private enum State
    {
        Initial,
        AwaitingServer,
        Complete,
    }

    /// <inheritdoc />
    public string MechanismName => "PLAIN";

    /// <inheritdoc />
    public bool IsComplete => _state == State.Complete;

    /// <inheritdoc />
    public ValueTask<byte[]> CreateInitialResponseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_state != State.Initial)
        {
            throw new InvalidOperationException("The initial SASL/PLAIN message has already been created.");
        }

        int userBytes = Encoding.UTF8.GetByteCount(_username);
        int passwordBytes = Encoding.UTF8.GetByteCount(_password);
        byte[] message = new byte[1 + userBytes + 1 + passwordBytes];
        message[0] = 0; // empty authzid
        Encoding.UTF8.GetBytes(_username, message.AsSpan(1, userBytes));
        message[1 + userBytes] = 0;
        Encoding.UTF8.GetBytes(_password, message.AsSpan(2 + userBytes));
        _state = State.AwaitingServer;
        return ValueTask.FromResult(message);
    }

    /// <inheritdoc />
    public byte[]? EvaluateChallenge(ReadOnlySpan<byte> serverMessage)
    {
        if (_state != State.AwaitingServer)
        {
            throw new InvalidOperationException(_state == State.Initial
                ? "CreateInitialResponseAsync must be called before EvaluateChallenge."
                : "The SASL/PLAIN exchange is already complete.");
        }

        // PLAIN has no server data; a broker that accepts the credentials answers with no bytes.
        if (!serverMessage.IsEmpty)
        {
            throw SaslErrors.AuthenticationFailed("SASL/PLAIN: the broker sent unexpected data after the credentials.");
        }

        _state = State.Complete;
        return null;
    }

    /// <inheritdoc />
    public KafkaException CreateFailure(string? brokerErrorMessage)
        => SaslErrors.BrokerRejected(MechanismName, brokerErrorMessage);
}
