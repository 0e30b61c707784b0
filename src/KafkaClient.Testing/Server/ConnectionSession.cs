using KafkaClient.Testing.Security;

namespace KafkaClient.Testing.Server;

/// <summary>Where a connection is in Kafka's SASL state machine (<c>SaslServerAuthenticator</c>).</summary>
internal enum SaslState
{
    /// <summary>Not a SASL listener: requests are served as <c>User:ANONYMOUS</c>.</summary>
    None,

    /// <summary>Only ApiVersions and SaslHandshake are accepted.</summary>
    AwaitingHandshake,

    /// <summary>After SaslHandshake v1: SaslAuthenticate requests carry the tokens.</summary>
    AwaitingAuthenticate,

    /// <summary>After SaslHandshake v0: the next frames are bare SASL tokens, not Kafka requests.</summary>
    AwaitingRawToken,

    /// <summary>Authenticated: every API is served.</summary>
    Authenticated,
}

/// <summary>
/// Who is on the other end of one connection: the SASL state, the exchange in progress and the
/// principal. Touched only by the connection's own loop (requests are handled one at a time).
/// </summary>
internal sealed class ConnectionSession
{
    /// <summary>Kafka's principal for unauthenticated connections.</summary>
    public const string Anonymous = "User:ANONYMOUS";

    public ConnectionSession(SaslCredentialStore? sasl, string clientAddress)
    {
        Credentials = sasl;
        ClientAddress = clientAddress;
        State = sasl is null ? SaslState.None : SaslState.AwaitingHandshake;
    }

    /// <summary>The SASL users, or null when the listener does not use SASL.</summary>
    public SaslCredentialStore? Credentials { get; }

    /// <summary>The client's IP address (ACL host matching).</summary>
    public string ClientAddress { get; }

    public SaslState State { get; set; }

    /// <summary>The mechanism chosen by SaslHandshake.</summary>
    public string? Mechanism { get; set; }

    /// <summary>The exchange in progress after a successful SaslHandshake.</summary>
    public ISaslServerExchange? Exchange { get; set; }

    /// <summary><c>User:name</c> once authenticated; <see cref="Anonymous"/> on listeners without SASL.</summary>
    public string Principal { get; private set; } = Anonymous;

    /// <summary>Whether requests other than ApiVersions and the SASL ones may be served.</summary>
    public bool IsAuthenticated => State is SaslState.None or SaslState.Authenticated;

    /// <summary>Whether a request of <paramref name="apiKey"/> may be served now (Kafka closes the connection otherwise).</summary>
    public bool Allows(KafkaClient.Protocol.ApiKey apiKey) => State switch
    {
        SaslState.None or SaslState.Authenticated => true,
        SaslState.AwaitingHandshake => apiKey is KafkaClient.Protocol.ApiKey.ApiVersions or KafkaClient.Protocol.ApiKey.SaslHandshake,
        SaslState.AwaitingAuthenticate => apiKey == KafkaClient.Protocol.ApiKey.SaslAuthenticate,
        _ => false,
    };

    public void Authenticated(string user)
    {
        Principal = "User:" + user;
        State = SaslState.Authenticated;
        Exchange = null;
    }
}
