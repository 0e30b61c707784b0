namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// The partitions the group leader's assignor gives one member, plus optional bytes for that member's
/// assignor. It travels in the SyncGroup request and response as the consumer protocol's assignment
/// metadata (see Java's <c>ConsumerProtocolAssignment</c>).
/// </summary>
public sealed class Assignment
{
    /// <summary>Creates an assignment of <paramref name="partitions"/> with optional <paramref name="userData"/>.</summary>
    /// <param name="partitions">The partitions the member is to consume.</param>
    /// <param name="userData">Extra bytes for the member's assignor, or null.</param>
    public Assignment(IReadOnlyList<TopicPartition> partitions, ReadOnlyMemory<byte>? userData = null)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        Partitions = partitions;
        UserData = userData;
    }

    /// <summary>The partitions the member is to consume.</summary>
    public IReadOnlyList<TopicPartition> Partitions { get; }

    /// <summary>Extra bytes for the member's assignor, or null. None of the built-in assignors uses them.</summary>
    public ReadOnlyMemory<byte>? UserData { get; }

    /// <summary>A short description for logs: the partitions and the size of the user data.</summary>
    public override string ToString() =>
        $"Assignment(partitions=[{string.Join(", ", Partitions)}], " +
        $"userData={(UserData is { } data ? data.Length + " bytes" : "null")})";
}
