using System.Text;
using System.Text.Json;
using KafkaClient.Errors;

namespace KafkaClient.Network.Sasl;

/// <summary>
/// SASL <c>OAUTHBEARER</c> (RFC 7628) as Kafka uses it (KIP-255, extensions from KIP-342). The client
/// sends <c>n,,\x01auth=Bearer &lt;token&gt;[\x01key=value]*\x01\x01</c>; a broker that accepts the token
/// answers with empty bytes. A broker that rejects it answers with a JSON error
/// (<c>{"status":"invalid_token",...}</c>), to which the client replies with a lone <c>\x01</c>
/// (RFC 7628 section 3.2.3) and the exchange then fails with the status.
/// </summary>
internal sealed class OAuthBearerSaslAuthenticator : ISaslAuthenticator
{
    private const byte Separator = 0x01;

    private readonly Func<CancellationToken, ValueTask<OAuthBearerToken>> _tokenProvider;
    private readonly string _extensions;
    private State _state;
    private string? _serverError;

    /// <summary>Creates the authenticator.</summary>
    /// <param name="tokenProvider">Supplies the bearer token.</param>
    /// <param name="extensions">KIP-342 SASL extensions; keys letters only and not <c>auth</c>, values printable ASCII.</param>
    /// <exception cref="ArgumentException">An extension is malformed.</exception>
    public OAuthBearerSaslAuthenticator(
        Func<CancellationToken, ValueTask<OAuthBearerToken>> tokenProvider,
        IReadOnlyDictionary<string, string>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(tokenProvider);
        _tokenProvider = tokenProvider;
        _extensions = FormatExtensions(extensions);
    }

    private enum State
    {
        Initial,
        ObtainingToken,
        AwaitingServer,
        AwaitingFailure,
        Complete,
        Failed,
    }

    /// <inheritdoc />
    public string MechanismName => "OAUTHBEARER";

    /// <inheritdoc />
    public bool IsComplete => _state == State.Complete;

    /// <summary>The token sent in the initial response, once obtained (for diagnostics and re-authentication timing).</summary>
    public OAuthBearerToken? Token { get; private set; }

    /// <inheritdoc />
    public async ValueTask<byte[]> CreateInitialResponseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_state != State.Initial)
        {
            throw new InvalidOperationException("The OAUTHBEARER initial response has already been created.");
        }

        _state = State.ObtainingToken;
        OAuthBearerToken? token;
        try
        {
            token = await _tokenProvider(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _state = State.Failed;
            throw;
        }
        catch (Exception ex)
        {
            _state = State.Failed;
            throw SaslErrors.AuthenticationFailed("SASL/OAUTHBEARER authentication failed: the token provider threw an exception.", ex);
        }

        if (token is null)
        {
            _state = State.Failed;
            throw SaslErrors.AuthenticationFailed("SASL/OAUTHBEARER authentication failed: the token provider returned no token.");
        }

        Token = token;
        _state = State.AwaitingServer;
        // The token is validated as an RFC 6750 b64token by OAuthBearerToken, so it is ASCII.
        return Encoding.UTF8.GetBytes("n,,\u0001auth=Bearer " + token.Value + _extensions + "\u0001\u0001");
    }

    /// <inheritdoc />
    public byte[]? EvaluateChallenge(ReadOnlySpan<byte> serverMessage)
    {
        switch (_state)
        {
            case State.AwaitingServer when serverMessage.IsEmpty:
                _state = State.Complete;
                return null;

            case State.AwaitingServer:
                // RFC 7628 3.2.2: an error is a JSON object; the client must answer with %x01 and the
                // server then fails the exchange (Kafka: SaslAuthenticate error SASL_AUTHENTICATION_FAILED).
                _serverError = DescribeServerError(serverMessage);
                _state = State.AwaitingFailure;
                return [Separator];

            case State.AwaitingFailure:
                // The broker should have failed the exchange by now; it did not, so the client does.
                _state = State.Failed;
                throw SaslErrors.AuthenticationFailed($"SASL/OAUTHBEARER authentication failed: the broker rejected the token ({_serverError}).");

            case State.Initial:
            case State.ObtainingToken:
                throw new InvalidOperationException("CreateInitialResponseAsync must complete before EvaluateChallenge.");

            default:
                throw new InvalidOperationException("The OAUTHBEARER exchange is already over.");
        }
    }

    /// <inheritdoc />
    public KafkaException CreateFailure(string? brokerErrorMessage)
    {
        _state = State.Failed;
        return SaslErrors.BrokerRejected(MechanismName, brokerErrorMessage, _serverError);
    }

    /// <summary>
    /// Turns an RFC 7628 error challenge into text for exception messages: its <c>status</c>, and
    /// <c>scope</c> and <c>openid-configuration</c> when present.
    /// </summary>
    internal static string DescribeServerError(ReadOnlySpan<byte> serverMessage)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(serverMessage.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return "the broker's error challenge is not a JSON object";
            }

            var description = new StringBuilder("status '");
            description.Append(Property(document.RootElement, "status") ?? "unknown").Append('\'');
            if (Property(document.RootElement, "scope") is { } scope)
            {
                description.Append(", scope '").Append(scope).Append('\'');
            }

            if (Property(document.RootElement, "openid-configuration") is { } configuration)
            {
                description.Append(", openid-configuration '").Append(configuration).Append('\'');
            }

            return description.ToString();
        }
        catch (JsonException)
        {
            return "the broker's error challenge is not valid JSON";
        }
    }

    private static string? Property(JsonElement element, string name)
        => element.TryGetProperty(name, out JsonElement value)
            ? SaslErrors.Sanitize(value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : value.GetRawText(), 128)
            : null;

    private static string FormatExtensions(IReadOnlyDictionary<string, string>? extensions)
    {
        if (extensions is null || extensions.Count == 0)
        {
            return string.Empty;
        }

        var builder = new StringBuilder();
        foreach ((string key, string value) in extensions.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            // KIP-342: keys are ALPHA+, "auth" is reserved; values are %x21-7E / SP / HTAB / CR / LF.
            if (key is null || key.Length == 0 || !key.All(char.IsAsciiLetter))
            {
                throw new ArgumentException("OAUTHBEARER extension names must be one or more ASCII letters.", nameof(extensions));
            }

            if (key == "auth")
            {
                throw new ArgumentException("'auth' is reserved and cannot be used as an OAUTHBEARER extension name.", nameof(extensions));
            }

            if (string.IsNullOrEmpty(value) || !value.All(c => c is (>= '\x21' and <= '\x7E') or ' ' or '\t' or '\r' or '\n'))
            {
                throw new ArgumentException($"The value of OAUTHBEARER extension '{key}' must be non-empty printable ASCII.", nameof(extensions));
            }

            builder.Append('\u0001').Append(key).Append('=').Append(value);
        }

        return builder.ToString();
    }
}
