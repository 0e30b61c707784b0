namespace KafkaClient.Consumer;

/// <summary>What happened in the consumer's group.</summary>
public enum RebalanceEventKind
{
    /// <summary>A rebalance started: the member is (re)joining the group (kafkajs: <c>REBALANCING</c>).</summary>
    Rebalancing = 0,

    /// <summary>The member joined a new generation of the group (kafkajs: <c>GROUP_JOIN</c>); <see cref="RebalanceEvent.Partitions"/> is the whole assignment.</summary>
    GroupJoined = 1,

    /// <summary>Partitions were added to the assignment; their positions are resolved next.</summary>
    PartitionsAssigned = 2,

    /// <summary>Partitions are being taken away in an orderly rebalance; their offsets were committed just before.</summary>
    PartitionsRevoked = 3,

    /// <summary>Partitions were lost without a chance to commit (the member was thrown out of the group, or its session expired); another member may already own them.</summary>
    PartitionsLost = 4,
}

/// <summary>A group event delivered to <see cref="ConsumerOptions.OnRebalance"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Partitions">The partitions concerned (empty for <see cref="RebalanceEventKind.Rebalancing"/>).</param>
/// <param name="GenerationId">The group generation the member is in, or -1 before the first join.</param>
/// <param name="MemberId">This member's id, or empty before the first join.</param>
/// <param name="IsLeader">Whether this member computed the assignment (only meaningful for <see cref="RebalanceEventKind.GroupJoined"/>).</param>
public sealed record RebalanceEvent(RebalanceEventKind Kind, IReadOnlyList<TopicPartition> Partitions, int GenerationId, string MemberId, bool IsLeader = false)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kind}(generation {GenerationId}, member {MemberId}{(IsLeader ? ", leader" : "")}, [{string.Join(", ", Partitions)}])";
}
