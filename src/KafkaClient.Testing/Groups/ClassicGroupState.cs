namespace KafkaClient.Testing.Groups;

/// <summary>States of a classic group, named as Kafka reports them in DescribeGroups and ListGroups.</summary>
internal enum ClassicGroupState
{
    /// <summary>No members; the group may still hold committed offsets.</summary>
    Empty,

    /// <summary>A rebalance is under way: members must (re)join.</summary>
    PreparingRebalance,

    /// <summary>Join responses are out; waiting for the leader's SyncGroup with the assignment.</summary>
    CompletingRebalance,

    /// <summary>Assignment distributed; members heartbeat.</summary>
    Stable,

    /// <summary>Deleted; any holder of this instance must look the group up again.</summary>
    Dead,
}
