namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// Assigns each topic on its own: its partitions in numeric order are cut into contiguous ranges, one per
/// subscribed member, members in order (static members by <c>group.instance.id</c> first, then the others by
/// member id); when the count does not divide evenly the first members get one partition more. Protocol name
/// <c>range</c>, eager only; the same algorithm as Java's <c>RangeAssignor</c> without rack awareness.
/// </summary>
/// <remarks>
/// With two members C0 and C1 and topics t0 and t1 of 3 partitions each: C0 gets t0[0], t0[1], t1[0], t1[1]
/// and C1 gets t0[2], t1[2]. Members subscribed to the same topics get the same partition numbers of each,
/// which suits joins across co-partitioned topics; across many topics the first members carry more load.
/// </remarks>
public sealed class RangeAssignor : IPartitionAssignor
{
    /// <summary>The protocol name, <c>range</c>.</summary>
    public const string AssignorName = "range";

    /// <inheritdoc/>
    public string Name => AssignorName;

    /// <summary>Only <see cref="RebalanceProtocol.Eager"/>.</summary>
    public IReadOnlyList<RebalanceProtocol> SupportedProtocols { get; } = [RebalanceProtocol.Eager];

    /// <summary>None: range needs nothing but the topics.</summary>
    public ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member) => null;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Assignment> Assign(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        ArgumentNullException.ThrowIfNull(partitionCountsByTopic);
        ArgumentNullException.ThrowIfNull(subscriptions);
        var assignment = AssignmentResults.EmptyFor(subscriptions);

        var membersByTopic = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (memberId, subscription) in subscriptions)
        {
            foreach (string topic in subscription.Topics.Distinct())
            {
                if (!membersByTopic.TryGetValue(topic, out var members))
                {
                    membersByTopic[topic] = members = [];
                }
                members.Add(memberId);
            }
        }

        foreach (var (topic, subscribers) in membersByTopic)
        {
            if (!partitionCountsByTopic.TryGetValue(topic, out int partitionCount) || partitionCount <= 0)
            {
                continue;
            }
            var members = MemberOrder.Sort(subscribers, subscriptions);
            int perMember = partitionCount / members.Count;
            int membersWithExtra = partitionCount % members.Count;
            for (int i = 0; i < members.Count; i++)
            {
                int start = perMember * i + Math.Min(i, membersWithExtra);
                int length = perMember + (i < membersWithExtra ? 1 : 0);
                var target = assignment[members[i]];
                for (int partition = start; partition < start + length; partition++)
                {
                    target.Add(new TopicPartition(topic, partition));
                }
            }
        }
        return AssignmentResults.Wrap(assignment);
    }
}
