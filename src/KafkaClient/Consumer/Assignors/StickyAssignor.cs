namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// Balances partitions across members as evenly as possible and, when the group changes, moves as few of
/// them as it can. Protocol name <c>sticky</c>, eager only: every member still gives up all its partitions at
/// each rebalance, but most get the same ones back. Compatible with Java's <c>StickyAssignor</c>: each member
/// sends its previous assignment and generation as user data in Java's format.
/// </summary>
/// <remarks>
/// Balanced means the partition counts differ by at most one, or, when members subscribe to different topics,
/// that no member with two or more fewer partitions than another could take one of that member's partitions.
/// Prefer <see cref="CooperativeStickyAssignor"/>, which keeps members consuming during a rebalance.
/// </remarks>
public sealed class StickyAssignor : IPartitionAssignor
{
    /// <summary>The protocol name, <c>sticky</c>.</summary>
    public const string AssignorName = "sticky";

    /// <inheritdoc/>
    public string Name => AssignorName;

    /// <summary>Only <see cref="RebalanceProtocol.Eager"/>.</summary>
    public IReadOnlyList<RebalanceProtocol> SupportedProtocols { get; } = [RebalanceProtocol.Eager];

    /// <summary>
    /// The member's last assignment and its generation, in Java's <c>StickyAssignor</c> format; null before the
    /// member's first assignment.
    /// </summary>
    public ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (member.LastAssignment is not { } last)
        {
            return null;
        }
        return StickyUserData.WritePreviousAssignment(last, member.GenerationId);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Assignment> Assign(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        ArgumentNullException.ThrowIfNull(partitionCountsByTopic);
        ArgumentNullException.ThrowIfNull(subscriptions);
        // Eager members own nothing while they rejoin: their history is in the user data.
        var history = subscriptions.ToDictionary(
            s => s.Key, s => StickyUserData.ReadPreviousAssignment(s.Value.UserData), StringComparer.Ordinal);
        var result = StickyAssignmentBuilder.Build(partitionCountsByTopic, subscriptions, history);
        return AssignmentResults.Wrap(result.PartitionsByMember);
    }
}
