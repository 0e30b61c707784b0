namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// Lays out every partition of every subscribed topic (topics by name, partitions by number) and deals them
/// out one at a time to the members in turn (static members by <c>group.instance.id</c> first, then the
/// others by member id), skipping a member not subscribed to the partition's topic. Protocol name
/// <c>roundrobin</c>, eager only; the same algorithm as Java's <c>RoundRobinAssignor</c>.
/// </summary>
/// <remarks>
/// With two members C0 and C1 and topics t0 and t1 of 3 partitions each: C0 gets t0[0], t0[2], t1[1] and
/// C1 gets t0[1], t1[0], t1[2]. Balanced (counts differ by at most one) when all members subscribe to the
/// same topics; with different subscriptions it can be lopsided, where <see cref="StickyAssignor"/> is not.
/// </remarks>
public sealed class RoundRobinAssignor : IPartitionAssignor
{
    /// <summary>The protocol name, <c>roundrobin</c>.</summary>
    public const string AssignorName = "roundrobin";

    /// <inheritdoc/>
    public string Name => AssignorName;

    /// <summary>Only <see cref="RebalanceProtocol.Eager"/>.</summary>
    public IReadOnlyList<RebalanceProtocol> SupportedProtocols { get; } = [RebalanceProtocol.Eager];

    /// <summary>None: round robin needs nothing but the topics.</summary>
    public ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member) => null;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Assignment> Assign(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        ArgumentNullException.ThrowIfNull(partitionCountsByTopic);
        ArgumentNullException.ThrowIfNull(subscriptions);
        var assignment = AssignmentResults.EmptyFor(subscriptions);
        if (subscriptions.Count == 0)
        {
            return AssignmentResults.Wrap(assignment);
        }

        var members = MemberOrder.Sort(subscriptions.Keys, subscriptions);
        var topicsByMember = members.ToDictionary(
            m => m, m => subscriptions[m].Topics.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var allTopics = new SortedSet<string>(subscriptions.Values.SelectMany(s => s.Topics), StringComparer.Ordinal);

        int next = 0;
        foreach (string topic in allTopics)
        {
            if (!partitionCountsByTopic.TryGetValue(topic, out int partitionCount))
            {
                continue;
            }
            for (int partition = 0; partition < partitionCount; partition++)
            {
                // Some member subscribes to every topic in allTopics, so this finds one within a lap.
                while (!topicsByMember[members[next]].Contains(topic))
                {
                    next = (next + 1) % members.Count;
                }
                assignment[members[next]].Add(new TopicPartition(topic, partition));
                next = (next + 1) % members.Count;
            }
        }
        return AssignmentResults.Wrap(assignment);
    }
}
