using System.Net.Security;
using KafkaClient.Testing.Security;

namespace KafkaClient.Testing.Server;

/// <summary>What every broker listener of a cluster does before serving requests: TLS, SASL, both or neither.</summary>
/// <param name="Tls">The TLS server options, or null for plain TCP.</param>
/// <param name="Sasl">The SASL users, or null when the listener does not authenticate.</param>
internal sealed record ListenerSecurity(SslServerAuthenticationOptions? Tls, SaslCredentialStore? Sasl)
{
    public static ListenerSecurity None { get; } = new(null, null);
}
