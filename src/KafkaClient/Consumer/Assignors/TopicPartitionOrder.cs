namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// Orders partitions by topic name (ordinal, as Java's <c>String.compareTo</c> does) and then by number.
/// </summary>
internal sealed class TopicPartitionOrder : IComparer<TopicPartition>
{
    /// <summary>The single instance.</summary>
    public static readonly TopicPartitionOrder Instance = new();

    private TopicPartitionOrder()
    {
    }

    /// <inheritdoc/>
    public int Compare(TopicPartition x, TopicPartition y)
    {
        int byTopic = string.CompareOrdinal(x.Topic, y.Topic);
        return byTopic != 0 ? byTopic : x.Partition.CompareTo(y.Partition);
    }
}
