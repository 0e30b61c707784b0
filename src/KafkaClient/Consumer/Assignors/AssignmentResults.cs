namespace KafkaClient.Consumer.Assignors;

/// <summary>Turns per-member partition lists into the result of <see cref="IPartitionAssignor.Assign"/>.</summary>
internal static class AssignmentResults
{
    /// <summary>An empty, mutable partition list for every member.</summary>
    public static Dictionary<string, List<TopicPartition>> EmptyFor(IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        var result = new Dictionary<string, List<TopicPartition>>(subscriptions.Count, StringComparer.Ordinal);
        foreach (string memberId in subscriptions.Keys)
        {
            result[memberId] = [];
        }
        return result;
    }

    /// <summary>Wraps each member's partitions, sorted by topic and partition, in an <see cref="Assignment"/> without user data.</summary>
    public static IReadOnlyDictionary<string, Assignment> Wrap(Dictionary<string, List<TopicPartition>> partitionsByMember)
    {
        var result = new Dictionary<string, Assignment>(partitionsByMember.Count, StringComparer.Ordinal);
        foreach (var (memberId, partitions) in partitionsByMember)
        {
            partitions.Sort(TopicPartitionOrder.Instance);
            result[memberId] = new Assignment(partitions);
        }
        return result;
    }
}
