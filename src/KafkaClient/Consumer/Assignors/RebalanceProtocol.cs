namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// How a group hands partitions over when its membership changes (Java's
/// <c>ConsumerPartitionAssignor.RebalanceProtocol</c>). The group uses the most capable protocol
/// that every member's chosen assignor supports.
/// </summary>
public enum RebalanceProtocol
{
    /// <summary>
    /// Every member gives up all of its partitions before rejoining, and receives a fresh set
    /// afterwards. Simple, but nothing is consumed during the rebalance.
    /// </summary>
    Eager = 0,

    /// <summary>
    /// Members keep consuming the partitions they own while the group rebalances; only partitions that
    /// move to another member are revoked, and they are handed to their new owner in a follow-up
    /// rebalance (KIP-429).
    /// </summary>
    Cooperative = 1,
}
