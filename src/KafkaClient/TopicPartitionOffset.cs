namespace KafkaClient;

/// <summary>A position in a partition: the offset of the next record to read, as consumers commit it.</summary>
/// <param name="TopicPartition">The partition.</param>
/// <param name="Offset">The offset.</param>
/// <param name="LeaderEpoch">The leader epoch of the record before <paramref name="Offset"/>, when known (-1 otherwise).</param>
public readonly record struct TopicPartitionOffset(TopicPartition TopicPartition, long Offset, int LeaderEpoch = -1)
{
    /// <summary>Creates a position from topic, partition and offset.</summary>
    public TopicPartitionOffset(string topic, int partition, long offset)
        : this(new TopicPartition(topic, partition), offset)
    {
    }

    /// <inheritdoc/>
    public override string ToString() => $"{TopicPartition}@{Offset}";
}

/// <summary>
/// What a transactional producer needs to know of a consumer group member to commit offsets as
/// part of a transaction (so a zombie member's commit is fenced), as the consumer reports it.
/// </summary>
/// <param name="GroupId">The consumer group.</param>
/// <param name="GenerationId">The member's generation, or -1.</param>
/// <param name="MemberId">The member id, or empty.</param>
/// <param name="GroupInstanceId">The static member id, if any.</param>
public sealed record ConsumerGroupMetadata(string GroupId, int GenerationId = -1, string MemberId = "", string? GroupInstanceId = null);
