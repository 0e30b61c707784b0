namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// The sticky assignment (see <see cref="StickyAssignor"/>) under the cooperative rebalance protocol: members
/// keep consuming their partitions while the group rebalances, and only partitions that move are revoked.
/// Protocol name <c>cooperative-sticky</c>; compatible with Java's <c>CooperativeStickyAssignor</c> (owned
/// partitions and generation from the subscription, the generation also as user data for older readers).
/// </summary>
/// <remarks>
/// A partition that must move from one member to another is left out of everyone's assignment in the rebalance
/// that decides the move: its owner sees it missing and revokes it, then rejoins, and the follow-up rebalance
/// gives it to its new owner. So no partition is ever held by two members at once. Every member of a group must
/// use this assignor (or another cooperative one) before the group switches to cooperative rebalancing.
/// </remarks>
public sealed class CooperativeStickyAssignor : IPartitionAssignor
{
    /// <summary>The protocol name, <c>cooperative-sticky</c>.</summary>
    public const string AssignorName = "cooperative-sticky";

    /// <inheritdoc/>
    public string Name => AssignorName;

    /// <summary><see cref="RebalanceProtocol.Cooperative"/>, then <see cref="RebalanceProtocol.Eager"/> (for upgrades from eager groups).</summary>
    public IReadOnlyList<RebalanceProtocol> SupportedProtocols { get; } = [RebalanceProtocol.Cooperative, RebalanceProtocol.Eager];

    /// <summary>The generation of the member's last assignment as an int32 (-1 before the first), as Java sends it.</summary>
    public ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member)
    {
        ArgumentNullException.ThrowIfNull(member);
        return StickyUserData.WriteGeneration(member.GenerationId);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Assignment> Assign(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        ArgumentNullException.ThrowIfNull(partitionCountsByTopic);
        ArgumentNullException.ThrowIfNull(subscriptions);
        var history = subscriptions.ToDictionary(s => s.Key, s => HistoryOf(s.Value), StringComparer.Ordinal);
        var result = StickyAssignmentBuilder.Build(partitionCountsByTopic, subscriptions, history);
        var assignment = result.PartitionsByMember;

        foreach (var (partition, newOwner) in PartitionsChangingOwner(subscriptions, assignment, result.ClaimedByMoreThanOneMember))
        {
            assignment[newOwner].Remove(partition);
        }
        return AssignmentResults.Wrap(assignment);
    }

    /// <summary>
    /// Subscriptions of version 2 and later carry the generation; older ones have it in the user data.
    /// </summary>
    private static StickyMemberHistory HistoryOf(Subscription subscription) =>
        subscription.GenerationId >= 0
            ? new StickyMemberHistory(subscription.OwnedPartitions, subscription.GenerationId)
            : new StickyMemberHistory(subscription.OwnedPartitions, StickyUserData.ReadGeneration(subscription.UserData));

    /// <summary>
    /// Partitions given to a member that does not own them while some other member still does (and will lose
    /// them), and partitions whose ownership is unknown because two members claimed them; each with its new owner.
    /// </summary>
    private static List<(TopicPartition Partition, string NewOwner)> PartitionsChangingOwner(
        IReadOnlyDictionary<string, Subscription> subscriptions,
        Dictionary<string, List<TopicPartition>> assignment,
        HashSet<TopicPartition> claimedTwice)
    {
        var revoked = new HashSet<TopicPartition>();
        foreach (var (member, partitions) in assignment)
        {
            var assigned = partitions.ToHashSet();
            revoked.UnionWith(subscriptions[member].OwnedPartitions.Where(tp => !assigned.Contains(tp)));
        }

        var moving = new List<(TopicPartition, string)>();
        foreach (var (member, partitions) in assignment)
        {
            var ownedBefore = subscriptions[member].OwnedPartitions.ToHashSet();
            foreach (var tp in partitions)
            {
                if (claimedTwice.Contains(tp) || (!ownedBefore.Contains(tp) && revoked.Contains(tp)))
                {
                    moving.Add((tp, member));
                }
            }
        }
        return moving;
    }
}
