using KafkaClient.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaClient;

/// <summary>
/// Connection settings shared by every KafkaClient client: where the cluster is, how to reach and
/// authenticate to it, and how patiently to wait. Validated once, when a client is built.
/// Start from <see cref="Default"/> and use <c>with</c> to change what you need.
/// </summary>
public record KafkaClientOptions
{
    /// <summary>The defaults: every property at its documented default value, no bootstrap servers.</summary>
    public static KafkaClientOptions Default { get; } = new();

    /// <summary>
    /// Comma-separated <c>host:port</c> list of brokers to start from (Java: <c>bootstrap.servers</c>).
    /// Only one needs to answer; the rest of the cluster is learned from metadata.
    /// </summary>
    public string BootstrapServers { get; init; } = "";

    /// <summary>Logical name of this application sent with every request (Java: <c>client.id</c>). Default <c>kafkaclient</c>.</summary>
    public string ClientId { get; init; } = "kafkaclient";

    /// <summary>How long a TCP connection (and TLS and SASL set-up) may take (Java: <c>socket.connection.setup.timeout.ms</c>). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for a broker's response before the connection is considered dead (Java: <c>request.timeout.ms</c>). Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests sent on one connection before waiting for responses (Java: <c>max.in.flight.requests.per.connection</c>). Default 5.</summary>
    public int MaxInFlightRequestsPerConnection { get; init; } = 5;

    /// <summary>
    /// The largest response frame accepted (Java: <c>socket.receive.buffer.bytes</c> is different; this mirrors the broker's
    /// <c>socket.request.max.bytes</c> guard). A length prefix above it is treated as a corrupt stream. Default 100 MiB.
    /// </summary>
    public int MaxResponseSize { get; init; } = 100 * 1024 * 1024;

    /// <summary>How long metadata is trusted before a refresh (Java: <c>metadata.max.age.ms</c>). Default 5 min.</summary>
    public TimeSpan MetadataMaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First delay before retrying a failed request (Java: <c>retry.backoff.ms</c>). Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the exponential retry delay (Java: <c>retry.backoff.max.ms</c>). Default 1 s.</summary>
    public TimeSpan RetryBackoffMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>First delay before reconnecting to a broker that failed (Java: <c>reconnect.backoff.ms</c>). Default 50 ms.</summary>
    public TimeSpan ReconnectBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Negotiate API versions the spec marks unstable (never done by default; for testing against
    /// a broker that enables them).
    /// </summary>
    public bool EnableUnstableApiVersions { get; init; }

    /// <summary>TLS settings (Java: <c>security.protocol=SSL</c> and <c>ssl.*</c>). Default: plaintext.</summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary>SASL settings, or null for no SASL (Java: <c>security.protocol=SASL_*</c> and <c>sasl.*</c>). Default null.</summary>
    public SaslOptions? Sasl { get; init; }

    /// <summary>Where logs go. Default: nowhere (<see cref="NullLoggerFactory"/>).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The clock used for timeouts and backoff; replaceable in tests. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> describing the first invalid setting.</summary>
    public virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            throw new ArgumentException("BootstrapServers is required (for example \"localhost:9092\").", nameof(BootstrapServers));
        }
        _ = BrokerEndpoint.ParseList(BootstrapServers);
        if (MaxInFlightRequestsPerConnection < 1)
        {
            throw new ArgumentException("MaxInFlightRequestsPerConnection must be at least 1.", nameof(MaxInFlightRequestsPerConnection));
        }
        if (MaxResponseSize < 1024)
        {
            throw new ArgumentException("MaxResponseSize must be at least 1 KiB.", nameof(MaxResponseSize));
        }
        if (RequestTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("RequestTimeout and ConnectTimeout must be positive.");
        }
        if (Sasl is not null)
        {
            Network.Sasl.SaslAuthenticatorFactory.Validate(Sasl);
        }
    }
}
