using KafkaClient.Consumer.Assignors;

namespace KafkaClient.Tests.Consumer.Assignors;

internal static class AssignorTestHelpers
{
    public static TopicPartition Tp(string topic, int partition) => new(topic, partition);

    public static Subscription Subscribe(params string[] topics) => new(topics);

    public static Dictionary<string, int> Topics(params (string Topic, int Partitions)[] topics) =>
        topics.ToDictionary(t => t.Topic, t => t.Partitions);

    public static List<TopicPartition> PartitionsOf(IReadOnlyDictionary<string, Assignment> result, string member) =>
        result[member].Partitions.ToList();

    /// <summary>Every partition of a topic some member subscribes to goes to exactly one subscribed member.</summary>
    public static void AssertValid(
        IReadOnlyDictionary<string, int> partitionCounts,
        IReadOnlyDictionary<string, Subscription> subscriptions,
        IReadOnlyDictionary<string, Assignment> result,
        bool everyPartitionAssigned = true)
    {
        if (!result.Keys.ToHashSet().SetEquals(subscriptions.Keys))
        {
            throw new InvalidOperationException("The assignment does not cover exactly the subscribed members.");
        }
        var seen = new Dictionary<TopicPartition, string>();
        foreach (var (member, assignment) in result)
        {
            foreach (var tp in assignment.Partitions)
            {
                if (!subscriptions[member].Topics.Contains(tp.Topic))
                {
                    throw new InvalidOperationException($"{tp} went to {member}, which does not subscribe to {tp.Topic}.");
                }
                if (!partitionCounts.TryGetValue(tp.Topic, out int count) || tp.Partition < 0 || tp.Partition >= count)
                {
                    throw new InvalidOperationException($"{tp} does not exist.");
                }
                if (seen.TryGetValue(tp, out string? other))
                {
                    throw new InvalidOperationException($"{tp} went to both {other} and {member}.");
                }
                seen[tp] = member;
            }
        }
        if (everyPartitionAssigned)
        {
            foreach (string topic in subscriptions.Values.SelectMany(s => s.Topics).Distinct())
            {
                if (!partitionCounts.TryGetValue(topic, out int count))
                {
                    continue;
                }
                for (int p = 0; p < count; p++)
                {
                    if (!seen.ContainsKey(new TopicPartition(topic, p)))
                    {
                        throw new InvalidOperationException($"{topic}[{p}] was not assigned.");
                    }
                }
            }
        }
    }

    /// <summary>
    /// Java's definition of balanced: no member could take a partition of its topics from a member holding
    /// at least two more partitions than it.
    /// </summary>
    public static void AssertBalanced(
        IReadOnlyDictionary<string, Subscription> subscriptions,
        IReadOnlyDictionary<string, Assignment> result)
    {
        var ownerOf = result.SelectMany(r => r.Value.Partitions.Select(tp => (tp, r.Key))).ToDictionary(x => x.tp, x => x.Key);
        foreach (var (member, subscription) in subscriptions)
        {
            int mine = result[member].Partitions.Count;
            foreach (var (tp, owner) in ownerOf)
            {
                if (owner != member && subscription.Topics.Contains(tp.Topic) && mine + 1 < result[owner].Partitions.Count)
                {
                    throw new InvalidOperationException(
                        $"Unbalanced: {member} has {mine} partitions and could take {tp} from {owner}, which has {result[owner].Partitions.Count}.");
                }
            }
        }
    }
}
