namespace KafkaClient;

/// <summary>A partition of a topic.</summary>
/// <param name="Topic">The topic name.</param>
/// <param name="Partition">The partition index.</param>
public readonly record struct TopicPartition(string Topic, int Partition)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Topic}[{Partition}]";
}
