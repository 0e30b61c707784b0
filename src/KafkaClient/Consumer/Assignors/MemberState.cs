namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// What a member knows about itself when it is about to join its group; handed to
/// <see cref="IPartitionAssignor.GetSubscriptionUserData"/> so an assignor can describe the member's
/// history to the group leader without keeping state of its own.
/// </summary>
public sealed class MemberState
{
    /// <summary>Describes a member about to join.</summary>
    /// <param name="topics">The topics it subscribes to.</param>
    /// <param name="lastAssignment">The partitions of the last assignment it received, or null if it never received one.</param>
    /// <param name="generationId">The group generation of that assignment, or -1 if it never received one.</param>
    public MemberState(IReadOnlyCollection<string> topics, IReadOnlyList<TopicPartition>? lastAssignment, int generationId)
    {
        ArgumentNullException.ThrowIfNull(topics);
        Topics = topics;
        LastAssignment = lastAssignment;
        GenerationId = generationId;
    }

    /// <summary>The topics the member subscribes to.</summary>
    public IReadOnlyCollection<string> Topics { get; }

    /// <summary>
    /// The partitions of the last assignment the member received, even if it has since given them up
    /// (the eager protocol revokes everything before rejoining), or null if it never received one.
    /// </summary>
    public IReadOnlyList<TopicPartition>? LastAssignment { get; }

    /// <summary>The group generation in which <see cref="LastAssignment"/> was received, or -1 if none was.</summary>
    public int GenerationId { get; }
}
