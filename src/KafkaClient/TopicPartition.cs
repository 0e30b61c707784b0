namespace KafkaClient;

/// <summary>One partition of one topic, such as partition 3 of <c>orders</c>, written <c>orders[3]</c>.</summary>
/// <param name="Topic">The topic's name.</param>
/// <param name="Partition">The partition's number within the topic, starting at 0.</param>
public readonly record struct TopicPartition(string Topic, int Partition)
{
    /// <summary>The partition as <c>topic[partition]</c>, for example <c>orders[3]</c>.</summary>
    public override string ToString() => $"{Topic}[{Partition}]";
}
