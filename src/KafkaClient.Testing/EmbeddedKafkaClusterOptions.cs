using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaClient.Testing;

/// <summary>
/// Settings of an <see cref="EmbeddedKafkaCluster"/>. Start from <see cref="Default"/> and use
/// <c>with</c> to change what you need. Where a setting mirrors a Kafka broker config, the key is named.
/// </summary>
public sealed record EmbeddedKafkaClusterOptions
{
    /// <summary>Every property at its documented default.</summary>
    public static EmbeddedKafkaClusterOptions Default { get; } = new();

    /// <summary>
    /// Number of brokers, each with its own TCP listener. Default 3, so that leadership, replica
    /// sets and coordinators are spread as on a real cluster. Broker ids are
    /// <see cref="FirstBrokerId"/>, <see cref="FirstBrokerId"/> + 1, ...
    /// </summary>
    public int BrokerCount { get; init; } = 3;

    /// <summary>The id of the first broker (Kafka: <c>node.id</c>); the others follow consecutively. Default 1.</summary>
    public int FirstBrokerId { get; init; } = 1;

    /// <summary>The address every listener binds to and advertises. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>
    /// Port of the first broker; the others use the following ports. 0 (the default) gives every
    /// broker an ephemeral port chosen by the operating system. A stopped broker restarts on the
    /// port it had.
    /// </summary>
    public int Port { get; init; }

    /// <summary>The cluster id reported in Metadata and DescribeCluster. Default: a new random id per cluster.</summary>
    public string? ClusterId { get; init; }

    /// <summary>
    /// Whether a Metadata request that allows it creates unknown topics (Kafka:
    /// <c>auto.create.topics.enable</c>). Default true, as in Kafka.
    /// </summary>
    public bool AutoCreateTopics { get; init; } = true;

    /// <summary>Partitions of auto-created topics and of CreateTopics requests that leave the count to the broker (Kafka: <c>num.partitions</c>). Default 1, as in Kafka.</summary>
    public int DefaultPartitions { get; init; } = 1;

    /// <summary>
    /// Replication factor of auto-created topics and of CreateTopics requests that leave it to the
    /// broker (Kafka: <c>default.replication.factor</c>). Default 1, as in Kafka. Replication is
    /// simulated: every write counts as replicated to the whole replica set at once.
    /// </summary>
    public short DefaultReplicationFactor { get; init; } = 1;

    /// <summary>The largest record batch a Produce request may carry (Kafka: <c>message.max.bytes</c>; per topic <c>max.message.bytes</c>). Default 1,048,588 bytes, as in Kafka.</summary>
    public int MaxMessageBytes { get; init; } = 1_048_588;

    /// <summary>The largest request frame a broker accepts; larger frames close the connection (Kafka: <c>socket.request.max.bytes</c>). Default 100 MiB.</summary>
    public int MaxRequestSize { get; init; } = 100 * 1024 * 1024;

    /// <summary>The clock used for timestamps and fetch waits. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the brokers log connections and failures. Default <see cref="NullLoggerFactory.Instance"/>.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>How long <see cref="EmbeddedKafkaCluster.DisposeAsync"/> and broker stops wait for connections to finish. Default 5 s.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a new (empty) consumer group waits for more members before its first rebalance
    /// completes (Kafka: <c>group.initial.rebalance.delay.ms</c>). Default 0 so that tests do not
    /// wait; Kafka's default is 3 s.
    /// </summary>
    public TimeSpan GroupInitialRebalanceDelay { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The shortest session timeout a group member may ask for (Kafka: <c>group.min.session.timeout.ms</c>);
    /// shorter ones get INVALID_SESSION_TIMEOUT. Default 6 s, as in Kafka; lower it for tests
    /// that want members to expire quickly.
    /// </summary>
    public TimeSpan GroupMinSessionTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>The longest session timeout a group member may ask for (Kafka: <c>group.max.session.timeout.ms</c>). Default 30 minutes, as in Kafka.</summary>
    public TimeSpan GroupMaxSessionTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The security protocol of every broker's listener (Kafka: <c>listener.security.protocol.map</c>).
    /// Default <see cref="EmbeddedSecurityProtocol.Plaintext"/>. With <see cref="EmbeddedSecurityProtocol.Ssl"/>
    /// or <see cref="EmbeddedSecurityProtocol.SaslSsl"/> the cluster generates a certificate authority
    /// and a broker certificate for <c>localhost</c>, <c>127.0.0.1</c>, <c>::1</c> and <see cref="Host"/>;
    /// clients trust <see cref="EmbeddedKafkaCluster.CaCertificate"/> (or the PEM in
    /// <see cref="EmbeddedKafkaCluster.CaCertificatePem"/>).
    /// </summary>
    public EmbeddedSecurityProtocol SecurityProtocol { get; init; } = EmbeddedSecurityProtocol.Plaintext;

    /// <summary>
    /// The users SASL listeners accept (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; Kafka:
    /// <c>sasl.enabled.mechanisms</c> with every one of them). Needs
    /// <see cref="SecurityProtocol"/> <see cref="EmbeddedSecurityProtocol.SaslPlaintext"/> or
    /// <see cref="EmbeddedSecurityProtocol.SaslSsl"/>. Default: none.
    /// </summary>
    public IReadOnlyList<EmbeddedSaslUser> SaslUsers { get; init; } = [];

    /// <summary>
    /// Whether requests are checked against ACLs (Kafka: <c>authorizer.class.name</c> set to
    /// <c>StandardAuthorizer</c>). The principal is the SASL user (<c>User:alice</c>) or
    /// <c>User:ANONYMOUS</c>. Default false: everything is allowed and the ACL APIs answer
    /// SECURITY_DISABLED, as a Kafka broker without an authorizer does.
    /// </summary>
    public bool EnableAuthorization { get; init; }

    /// <summary>
    /// Principals allowed everything whatever the ACLs say, e.g. <c>User:admin</c> (Kafka:
    /// <c>super.users</c>). Default: none.
    /// </summary>
    public IReadOnlyList<string> SuperUsers { get; init; } = [];

    /// <summary>
    /// Whether a resource no ACL applies to is open to everyone (Kafka:
    /// <c>allow.everyone.if.no.acl.found</c>). Default false, as in Kafka: without an ACL, only super users.
    /// </summary>
    public bool AllowEveryoneIfNoAclFound { get; init; }

    /// <summary>
    /// How long records are kept in topics without their own <c>retention.ms</c> (Kafka:
    /// <c>log.retention.ms</c>); <see cref="Timeout.InfiniteTimeSpan"/> keeps them forever. A batch
    /// goes when its largest record timestamp is older than this, as Kafka deletes a segment.
    /// Default 7 days, as in Kafka.
    /// </summary>
    public TimeSpan LogRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The partition size above which the oldest batches are deleted, for topics without their own
    /// <c>retention.bytes</c> (Kafka: <c>log.retention.bytes</c>). Default -1: no limit, as in Kafka.
    /// </summary>
    public long LogRetentionBytes { get; init; } = -1;

    /// <summary>
    /// How often retention is enforced, on <see cref="TimeProvider"/> (Kafka:
    /// <c>log.retention.check.interval.ms</c>, 5 minutes there). Default 1 s.
    /// </summary>
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><see cref="LogRetention"/> in Kafka's terms: milliseconds, -1 for none.</summary>
    internal long LogRetentionMs => LogRetention == Timeout.InfiniteTimeSpan ? -1 : (long)LogRetention.TotalMilliseconds;

    internal void Validate()
    {
        if (GroupInitialRebalanceDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(GroupInitialRebalanceDelay), GroupInitialRebalanceDelay, "The delay cannot be negative.");
        }
        if (GroupMinSessionTimeout < TimeSpan.Zero || GroupMaxSessionTimeout < GroupMinSessionTimeout || GroupMaxSessionTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(GroupMinSessionTimeout), GroupMinSessionTimeout, "Session timeouts must satisfy 0 <= min <= max <= int.MaxValue ms.");
        }
        if (BrokerCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BrokerCount), BrokerCount, "At least one broker is needed.");
        }
        if (FirstBrokerId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(FirstBrokerId), FirstBrokerId, "Broker ids are not negative.");
        }
        if (Port < 0 || Port > 65535 || (Port > 0 && Port + BrokerCount - 1 > 65535))
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "Ports must be 0 (ephemeral) or leave room for every broker below 65536.");
        }
        if (DefaultPartitions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultPartitions), DefaultPartitions, "A topic has at least one partition.");
        }
        if (DefaultReplicationFactor < 1 || DefaultReplicationFactor > BrokerCount)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultReplicationFactor), DefaultReplicationFactor, "The replication factor must be between 1 and the broker count.");
        }
        if (MaxMessageBytes < 64)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageBytes), MaxMessageBytes, "Too small for any record batch.");
        }
        if (MaxRequestSize < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequestSize), MaxRequestSize, "Too small for any request.");
        }
        if (RetentionCheckInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RetentionCheckInterval), RetentionCheckInterval, "The retention check interval must be positive.");
        }
        if (LogRetention < TimeSpan.Zero && LogRetention != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(LogRetention), LogRetention, "Retention is positive, or Timeout.InfiniteTimeSpan for none.");
        }
        if (LogRetentionBytes < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(LogRetentionBytes), LogRetentionBytes, "Retention bytes are -1 (no limit) or more.");
        }
        ArgumentNullException.ThrowIfNull(SaslUsers);
        ArgumentNullException.ThrowIfNull(SuperUsers);
        if (!Enum.IsDefined(SecurityProtocol))
        {
            throw new ArgumentOutOfRangeException(nameof(SecurityProtocol), SecurityProtocol, "Unknown security protocol.");
        }
        if (SaslUsers.Count > 0 && SecurityProtocol is not (EmbeddedSecurityProtocol.SaslPlaintext or EmbeddedSecurityProtocol.SaslSsl))
        {
            throw new ArgumentException("SaslUsers need SecurityProtocol SaslPlaintext or SaslSsl.", nameof(SaslUsers));
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var user in SaslUsers)
        {
            if (user is null || string.IsNullOrEmpty(user.Name) || user.Password is null)
            {
                throw new ArgumentException("Every SASL user needs a name and a password.", nameof(SaslUsers));
            }
            if (!names.Add(user.Name))
            {
                throw new ArgumentException($"SASL user '{user.Name}' is listed twice.", nameof(SaslUsers));
            }
        }
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentException.ThrowIfNullOrWhiteSpace(Host);
    }
}
