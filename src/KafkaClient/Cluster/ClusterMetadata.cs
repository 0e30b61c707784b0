using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Cluster;

/// <summary>A broker as metadata describes it.</summary>
/// <param name="NodeId">The broker's node id.</param>
/// <param name="Host">Advertised host.</param>
/// <param name="Port">Advertised port.</param>
/// <param name="Rack">Rack, when configured.</param>
public sealed record BrokerMetadata(int NodeId, string Host, int Port, string? Rack)
{
    /// <summary>The broker's address with its node id.</summary>
    public BrokerEndpoint Endpoint => new(Host, Port, NodeId);
}

/// <summary>One partition as metadata describes it.</summary>
/// <param name="Partition">Partition index.</param>
/// <param name="LeaderId">Node id of the leader, or -1 when leaderless.</param>
/// <param name="LeaderEpoch">The leader's epoch (-1 when the broker does not say).</param>
/// <param name="Replicas">Node ids of all replicas.</param>
/// <param name="InSyncReplicas">Node ids of the in-sync replicas.</param>
/// <param name="Error">The partition-level error, <see cref="ErrorCode.None"/> normally.</param>
public sealed record PartitionMetadata(int Partition, int LeaderId, int LeaderEpoch, IReadOnlyList<int> Replicas, IReadOnlyList<int> InSyncReplicas, ErrorCode Error);

/// <summary>One topic as metadata describes it.</summary>
/// <param name="Name">Topic name.</param>
/// <param name="TopicId">Topic id (Kafka 2.8+), or <see cref="Guid.Empty"/>.</param>
/// <param name="IsInternal">True for internal topics such as <c>__consumer_offsets</c>.</param>
/// <param name="Error">The topic-level error, e.g. <see cref="ErrorCode.UnknownTopicOrPartition"/>.</param>
/// <param name="Partitions">Partitions ordered by index.</param>
public sealed record TopicMetadata(string Name, Guid TopicId, bool IsInternal, ErrorCode Error, IReadOnlyList<PartitionMetadata> Partitions);

/// <summary>An immutable snapshot of what the cluster said about itself in one Metadata response.</summary>
public sealed class ClusterMetadata
{
    /// <summary>A snapshot that knows nothing yet.</summary>
    public static ClusterMetadata Empty { get; } = new(null, -1, [], new Dictionary<string, TopicMetadata>(), DateTimeOffset.MinValue);

    /// <summary>Creates a snapshot.</summary>
    public ClusterMetadata(string? clusterId, int controllerId, IReadOnlyList<BrokerMetadata> brokers, IReadOnlyDictionary<string, TopicMetadata> topics, DateTimeOffset fetchedAt)
    {
        ClusterId = clusterId;
        ControllerId = controllerId;
        Brokers = brokers;
        Topics = topics;
        FetchedAt = fetchedAt;
    }

    /// <summary>The cluster id, when the broker reports one.</summary>
    public string? ClusterId { get; }

    /// <summary>The controller's node id, or -1.</summary>
    public int ControllerId { get; }

    /// <summary>Live brokers, ordered by node id.</summary>
    public IReadOnlyList<BrokerMetadata> Brokers { get; }

    /// <summary>Topics by name (only those the request asked for, or all).</summary>
    public IReadOnlyDictionary<string, TopicMetadata> Topics { get; }

    /// <summary>When this snapshot was taken.</summary>
    public DateTimeOffset FetchedAt { get; }

    /// <summary>The broker with <paramref name="nodeId"/>, or null.</summary>
    public BrokerMetadata? Broker(int nodeId)
    {
        var brokers = Brokers;
        for (int i = 0; i < brokers.Count; i++) // no enumerator: the producer asks once per batch
        {
            if (brokers[i].NodeId == nodeId)
            {
                return brokers[i];
            }
        }
        return null;
    }

    /// <summary>The partition's metadata, or null when the topic or partition is unknown.</summary>
    public PartitionMetadata? Partition(string topic, int partition) =>
        Topics.TryGetValue(topic, out var t) && partition >= 0 && partition < t.Partitions.Count && t.Partitions[partition].Partition == partition
            ? t.Partitions[partition]
            : Topics.TryGetValue(topic, out t) ? t.Partitions.FirstOrDefault(p => p.Partition == partition) : null;

    internal static ClusterMetadata FromResponse(MetadataResponse response, DateTimeOffset now)
    {
        var brokers = response.Brokers
            .Select(b => new BrokerMetadata(b.NodeId, b.Host, b.Port, b.Rack))
            .OrderBy(b => b.NodeId)
            .ToList();
        var topics = new Dictionary<string, TopicMetadata>(response.Topics.Count, StringComparer.Ordinal);
        foreach (var t in response.Topics)
        {
            if (t.Name is null)
            {
                continue;
            }
            var partitions = t.Partitions
                .Select(p => new PartitionMetadata(p.PartitionIndex, p.LeaderId, p.LeaderEpoch, p.ReplicaNodes, p.IsrNodes, (ErrorCode)p.ErrorCode))
                .OrderBy(p => p.Partition)
                .ToList();
            topics[t.Name] = new TopicMetadata(t.Name, t.TopicId, t.IsInternal, (ErrorCode)t.ErrorCode, partitions);
        }
        return new ClusterMetadata(response.ClusterId, response.ControllerId, brokers, topics, now);
    }

    /// <summary>This snapshot with the topics of <paramref name="newer"/> merged over its own (brokers and controller from <paramref name="newer"/>).</summary>
    internal ClusterMetadata MergeTopics(ClusterMetadata newer)
    {
        var topics = new Dictionary<string, TopicMetadata>(Topics, StringComparer.Ordinal);
        foreach (var (name, topic) in newer.Topics)
        {
            topics[name] = topic;
        }
        return new ClusterMetadata(newer.ClusterId, newer.ControllerId, newer.Brokers, topics, newer.FetchedAt);
    }
}
