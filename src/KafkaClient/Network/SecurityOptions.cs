using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KafkaClient.Network;

/// <summary>The SASL mechanisms KafkaClient can authenticate with.</summary>
public enum SaslMechanism
{
    /// <summary>
    /// <c>PLAIN</c> (RFC 4616): user name and password sent as they are. Use it only over TLS.
    /// </summary>
    Plain = 0,

    /// <summary><c>SCRAM-SHA-256</c> (RFC 5802, RFC 7677, KIP-84): salted challenge-response; the password never leaves the client.</summary>
    ScramSha256 = 1,

    /// <summary><c>SCRAM-SHA-512</c> (RFC 5802, KIP-84): as <see cref="ScramSha256"/> with SHA-512.</summary>
    ScramSha512 = 2,

    /// <summary><c>OAUTHBEARER</c> (RFC 7628, KIP-255): a bearer token obtained from <see cref="SaslOptions.OAuthBearerTokenProvider"/>.</summary>
    OAuthBearer = 3,
}

/// <summary>
/// How a client authenticates to brokers with SASL (the Java client's <c>security.protocol</c>
/// <c>SASL_PLAINTEXT</c> or, with <see cref="TlsOptions.Enabled"/>, <c>SASL_SSL</c>).
/// </summary>
/// <remarks>
/// <see cref="ToString"/> never shows <see cref="Password"/>, extension values or anything the
/// token provider returns.
/// </remarks>
public sealed record SaslOptions
{
    /// <summary>
    /// The mechanism to authenticate with. Java: <c>sasl.mechanism</c>. Default
    /// <see cref="SaslMechanism.Plain"/> (the Java default, <c>GSSAPI</c>, is not supported).
    /// </summary>
    public SaslMechanism Mechanism { get; init; } = SaslMechanism.Plain;

    /// <summary>
    /// The user name for <see cref="SaslMechanism.Plain"/> and the SCRAM mechanisms (for SCRAM with
    /// a delegation token, the token id). Java: the <c>username</c> option of
    /// <c>sasl.jaas.config</c> (<c>PlainLoginModule</c>, <c>ScramLoginModule</c>). Default
    /// <see langword="null"/>; required by those mechanisms.
    /// </summary>
    public string? Username { get; init; }

    /// <summary>
    /// The password for <see cref="SaslMechanism.Plain"/> and the SCRAM mechanisms (for SCRAM with a
    /// delegation token, the token's HMAC). Java: the <c>password</c> option of
    /// <c>sasl.jaas.config</c>. Default <see langword="null"/>; required by those mechanisms.
    /// Never shown by <see cref="ToString"/>, logs or exception messages.
    /// </summary>
    public string? Password { get; init; }

    /// <summary>
    /// Supplies the bearer token for <see cref="SaslMechanism.OAuthBearer"/>; called once per
    /// authentication (each new connection and each re-authentication), so it should cache and
    /// refresh tokens itself. Java: <c>sasl.login.callback.handler.class</c> (the callback handler
    /// that answers <c>OAuthBearerTokenCallback</c>). Default <see langword="null"/>; required by
    /// <see cref="SaslMechanism.OAuthBearer"/>.
    /// </summary>
    public Func<CancellationToken, ValueTask<OAuthBearerToken>>? OAuthBearerTokenProvider { get; init; }

    /// <summary>
    /// SASL extensions sent to the broker. With <see cref="SaslMechanism.OAuthBearer"/> they are
    /// the KIP-342 key/value pairs (keys letters only, not <c>auth</c>; values printable ASCII).
    /// With the SCRAM mechanisms they are appended to the client-first message, as KIP-48 does
    /// with <c>tokenauth=true</c> for delegation tokens (keys of two or more letters, values
    /// without commas). Not allowed with <see cref="SaslMechanism.Plain"/>. Java: the
    /// <c>extension_&lt;key&gt;</c> options of <c>OAuthBearerLoginModule</c> and the
    /// <c>tokenauth</c> option of <c>ScramLoginModule</c> in <c>sasl.jaas.config</c>. Default
    /// <see langword="null"/> (none). <see cref="ToString"/> shows only the keys.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Extensions { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Mechanism = ").Append(Mechanism);
        builder.Append(", Username = ").Append(Username ?? "null");
        builder.Append(", Password = ").Append(Password is null ? "null" : "***");
        builder.Append(", OAuthBearerTokenProvider = ").Append(OAuthBearerTokenProvider is null ? "null" : "set");
        builder.Append(", Extensions = ");
        if (Extensions is null)
        {
            builder.Append("null");
        }
        else
        {
            builder.Append('[').AppendJoin(", ", Extensions.Keys.Order(StringComparer.Ordinal)).Append(']');
        }

        return true;
    }
}

/// <summary>
/// A bearer token for <see cref="SaslMechanism.OAuthBearer"/>, as returned by
/// <see cref="SaslOptions.OAuthBearerTokenProvider"/> (Java: <c>OAuthBearerToken</c>).
/// <see cref="ToString"/> never shows <see cref="Value"/>.
/// </summary>
public sealed class OAuthBearerToken
{
    /// <summary>Creates a token.</summary>
    /// <param name="value">
    /// The token itself (usually a JWT); must be an RFC 6750 <c>b64token</c>: letters, digits,
    /// <c>-._~+/</c>, optionally followed by <c>=</c> padding.
    /// </param>
    /// <param name="expiresAt">When the token stops being valid.</param>
    /// <param name="principalName">The principal the token identifies (used for diagnostics only).</param>
    /// <param name="startTime">When the token was issued, if known.</param>
    /// <exception cref="ArgumentException">The value is not a valid bearer token or the principal name is empty.</exception>
    public OAuthBearerToken(string value, DateTimeOffset expiresAt, string principalName, DateTimeOffset? startTime = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentException.ThrowIfNullOrEmpty(principalName);
        if (!IsB64Token(value))
        {
            // The value itself must never appear in the message.
            throw new ArgumentException(
                "The token value is not an RFC 6750 b64token (letters, digits, '-', '.', '_', '~', '+', '/', then optional '=' padding).",
                nameof(value));
        }

        Value = value;
        ExpiresAt = expiresAt;
        PrincipalName = principalName;
        StartTime = startTime;
    }

    /// <summary>The token itself, sent to the broker as <c>auth=Bearer &lt;value&gt;</c>. A secret.</summary>
    public string Value { get; }

    /// <summary>When the token stops being valid (Java: <c>lifetimeMs</c>).</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>The principal the token identifies (Java: <c>principalName</c>).</summary>
    public string PrincipalName { get; }

    /// <summary>When the token was issued, if known (Java: <c>startTimeMs</c>).</summary>
    public DateTimeOffset? StartTime { get; }

    /// <summary>Describes the token without its value.</summary>
    public override string ToString()
        => $"OAuthBearerToken {{ PrincipalName = {PrincipalName}, ExpiresAt = {ExpiresAt:O}, StartTime = {(StartTime is { } s ? s.ToString("O", System.Globalization.CultureInfo.InvariantCulture) : "null")}, Value = *** }}";

    private static bool IsB64Token(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        int end = value.Length;
        while (end > 0 && value[end - 1] == '=')
        {
            end--;
        }

        if (end == 0)
        {
            return false;
        }

        for (int i = 0; i < end; i++)
        {
            char c = value[i];
            bool ok = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '+' or '/';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// TLS for connections to brokers (the Java client's <c>security.protocol</c> <c>SSL</c>, or
/// <c>SASL_SSL</c> together with <see cref="SaslOptions"/>). The broker's certificate is validated by
/// default: its chain must lead to a trusted root (the operating system's, or
/// <see cref="CaCertificates"/> when given) and it must be issued for the broker's host name.
/// </summary>
public sealed record TlsOptions
{
    /// <summary>
    /// Whether connections use TLS. Java: <c>security.protocol</c> (<c>SSL</c> or
    /// <c>SASL_SSL</c> rather than <c>PLAINTEXT</c> or <c>SASL_PLAINTEXT</c>). Default
    /// <see langword="false"/>, as Java's default <c>PLAINTEXT</c>.
    /// </summary>
    public bool Enabled { get; init; }

    /// <summary>
    /// The host name to send as SNI and to check the broker's certificate against, instead of the
    /// host name the broker is reached by (useful behind a proxy or when brokers advertise IP
    /// addresses). No Java key (Java always uses the advertised host). Default
    /// <see langword="null"/>: the broker's host name.
    /// </summary>
    public string? TargetHost { get; init; }

    /// <summary>
    /// Whether the broker certificate must be issued for the host name (RFC 6125 matching of the
    /// subject alternative names). Java: <c>ssl.endpoint.identification.algorithm</c>
    /// (<c>https</c>, or empty to disable). Default <see langword="true"/>.
    /// </summary>
    public bool VerifyHostName { get; init; } = true;

    /// <summary>
    /// Certificate authorities to trust instead of the operating system's trust store; when given,
    /// only chains ending at one of these certificates are accepted. Java:
    /// <c>ssl.truststore.location</c> / <c>ssl.truststore.certificates</c>. Default
    /// <see langword="null"/>: the operating system's trusted roots.
    /// </summary>
    public X509Certificate2Collection? CaCertificates { get; init; }

    /// <summary>
    /// The client certificate for mutual TLS: the first certificate that has a private key is
    /// presented, the others are sent as its chain (intermediates). Java:
    /// <c>ssl.keystore.location</c> / <c>ssl.keystore.certificate.chain</c> with
    /// <c>ssl.keystore.key</c>. Default <see langword="null"/>: no client certificate.
    /// </summary>
    public X509Certificate2Collection? ClientCertificates { get; init; }

    /// <summary>
    /// An escape hatch that decides whether to accept the broker's certificate. It is called after
    /// the built-in checks, whose outcome it receives as the <see cref="SslPolicyErrors"/> argument
    /// (already reflecting <see cref="CaCertificates"/> and <see cref="VerifyHostName"/>), and its
    /// answer is final: returning <see langword="true"/> accepts a certificate the built-in checks
    /// rejected. Java: no key (a custom <c>ssl.trustmanager.algorithm</c> or
    /// <c>ssl.engine.factory.class</c>). Default <see langword="null"/>: accept only when there are
    /// no errors.
    /// </summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>
    /// Whether to check the broker's certificate chain for revocation (online, CRL or OCSP). No Java
    /// key (the JVM uses the <c>com.sun.net.ssl.checkRevocation</c> system property, off by
    /// default). Default <see langword="false"/>.
    /// </summary>
    public bool CheckCertificateRevocation { get; init; }

    /// <summary>
    /// The TLS versions allowed. Java: <c>ssl.enabled.protocols</c> / <c>ssl.protocol</c>. Default
    /// <see cref="SslProtocols.None"/>: let the operating system choose (TLS 1.2 and 1.3 on current
    /// systems).
    /// </summary>
    public SslProtocols EnabledSslProtocols { get; init; } = SslProtocols.None;

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Enabled = ").Append(Enabled);
        builder.Append(", TargetHost = ").Append(TargetHost ?? "null");
        builder.Append(", VerifyHostName = ").Append(VerifyHostName);
        builder.Append(", CaCertificates = ");
        AppendCertificates(builder, CaCertificates);
        builder.Append(", ClientCertificates = ");
        AppendCertificates(builder, ClientCertificates);
        builder.Append(", ServerCertificateValidation = ").Append(ServerCertificateValidation is null ? "null" : "set");
        builder.Append(", CheckCertificateRevocation = ").Append(CheckCertificateRevocation);
        builder.Append(", EnabledSslProtocols = ").Append(EnabledSslProtocols);
        return true;
    }

    private static void AppendCertificates(StringBuilder builder, X509Certificate2Collection? certificates)
    {
        if (certificates is null)
        {
            builder.Append("null");
            return;
        }

        builder.Append('[');
        for (int i = 0; i < certificates.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(certificates[i].Subject);
        }

        builder.Append(']');
    }
}
