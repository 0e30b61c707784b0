namespace KafkaClient.Testing;

/// <summary>
/// How clients talk to the brokers of an <see cref="EmbeddedKafkaCluster"/> (Kafka:
/// <c>listener.security.protocol.map</c>; clients: <c>security.protocol</c>). Every broker has
/// one listener with this protocol.
/// </summary>
public enum EmbeddedSecurityProtocol
{
    /// <summary>Plain TCP, no authentication: every client is <c>User:ANONYMOUS</c>. The default.</summary>
    Plaintext = 0,

    /// <summary>Plain TCP, then SASL authentication with one of <see cref="EmbeddedKafkaClusterOptions.SaslUsers"/>.</summary>
    SaslPlaintext = 1,

    /// <summary>TLS with the cluster's generated certificate (<see cref="EmbeddedKafkaCluster.CaCertificate"/>); clients are <c>User:ANONYMOUS</c>.</summary>
    Ssl = 2,

    /// <summary>TLS, then SASL authentication inside it.</summary>
    SaslSsl = 3,
}

/// <summary>The SASL mechanisms a user of an <see cref="EmbeddedKafkaCluster"/> may authenticate with.</summary>
[Flags]
public enum EmbeddedSaslMechanisms
{
    /// <summary>None: the user cannot log in.</summary>
    None = 0,

    /// <summary><c>PLAIN</c> (RFC 4616): the password is sent as it is.</summary>
    Plain = 1,

    /// <summary><c>SCRAM-SHA-256</c> (RFC 5802, RFC 7677, KIP-84).</summary>
    ScramSha256 = 2,

    /// <summary><c>SCRAM-SHA-512</c> (RFC 5802, KIP-84).</summary>
    ScramSha512 = 4,

    /// <summary>Both SCRAM mechanisms.</summary>
    Scram = ScramSha256 | ScramSha512,

    /// <summary>Every mechanism the embedded cluster serves.</summary>
    All = Plain | Scram,
}

/// <summary>
/// A SASL user of an <see cref="EmbeddedKafkaCluster"/>: what Kafka keeps in the PLAIN login
/// module's <c>user_&lt;name&gt;</c> options and, for SCRAM, in the credentials
/// <c>kafka-configs --alter --add-config 'SCRAM-SHA-256=[password=...]'</c> creates. An
/// authenticated client's principal is <c>User:</c><see cref="Name"/>.
/// </summary>
/// <param name="Name">The user name.</param>
/// <param name="Password">The password. For SCRAM the cluster keeps only a salted verifier (4096 iterations, as Kafka's default).</param>
/// <param name="Mechanisms">The mechanisms this user may authenticate with. Default: all of them.</param>
public sealed record EmbeddedSaslUser(string Name, string Password, EmbeddedSaslMechanisms Mechanisms = EmbeddedSaslMechanisms.All)
{
    /// <summary>Describes the user without the password.</summary>
    public override string ToString() => $"EmbeddedSaslUser {{ Name = {Name}, Mechanisms = {Mechanisms}, Password = *** }}";
}
