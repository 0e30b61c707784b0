namespace KafkaClient.Testing;

/// <summary>One broker of an <see cref="EmbeddedKafkaCluster"/>: its id and where it listens.</summary>
public sealed class EmbeddedBroker
{
    private readonly Server.BrokerServer _server;

    internal EmbeddedBroker(Server.BrokerServer server) => _server = server;

    /// <summary>The broker id (Kafka: <c>node.id</c>).</summary>
    public int NodeId => _server.NodeId;

    /// <summary>The address the broker listens on and advertises.</summary>
    public string Host => _server.Host;

    /// <summary>The TCP port; stays the same across stop and start.</summary>
    public int Port => _server.Port;

    /// <summary><c>host:port</c>.</summary>
    public string Address => $"{Host}:{Port}";

    /// <summary>Whether the broker is accepting connections (false after <see cref="EmbeddedKafkaCluster.StopBrokerAsync"/>).</summary>
    public bool IsRunning => _server.IsRunning;

    internal Server.BrokerServer Server => _server;

    /// <inheritdoc />
    public override string ToString() => $"broker {NodeId} at {Address}{(IsRunning ? "" : " (stopped)")}";
}

/// <summary>A snapshot of one partition: leadership and log offsets.</summary>
/// <param name="Topic">The topic name.</param>
/// <param name="Partition">The partition index.</param>
/// <param name="LeaderId">The leading broker, or -1 when none runs.</param>
/// <param name="LeaderEpoch">The leader epoch, bumped by every leadership change.</param>
/// <param name="Replicas">The replica set, leader first when created.</param>
/// <param name="LogStartOffset">The first offset still held.</param>
/// <param name="HighWatermark">The high watermark (replication is simulated: the log end offset).</param>
/// <param name="LastStableOffset">The first offset of the oldest open transaction, or the high watermark.</param>
public readonly record struct EmbeddedPartitionInfo(
    string Topic, int Partition, int LeaderId, int LeaderEpoch, IReadOnlyList<int> Replicas,
    long LogStartOffset, long HighWatermark, long LastStableOffset);
