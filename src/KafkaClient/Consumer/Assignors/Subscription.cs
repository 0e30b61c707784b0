namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// What one member of a consumer group tells the group leader when it joins: the topics it wants,
/// the partitions it currently owns, and whatever extra bytes its assignor adds. The leader's assignor
/// reads every member's subscription to decide who gets which partition. It travels in the JoinGroup
/// request as the consumer protocol's subscription metadata (see Java's <c>ConsumerProtocolSubscription</c>).
/// </summary>
public sealed class Subscription
{
    /// <summary>Creates a subscription to <paramref name="topics"/>.</summary>
    /// <param name="topics">The topics the member wants to consume.</param>
    public Subscription(IReadOnlyList<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        Topics = topics;
    }

    /// <summary>The topics the member wants to consume.</summary>
    public IReadOnlyList<string> Topics { get; }

    /// <summary>
    /// Extra bytes from the member's assignor (<see cref="IPartitionAssignor.GetSubscriptionUserData"/>),
    /// or null when it has none. Only the assignor with the same <see cref="IPartitionAssignor.Name"/> understands them.
    /// </summary>
    public ReadOnlyMemory<byte>? UserData { get; init; }

    /// <summary>
    /// The partitions the member owns while it joins: under the cooperative protocol, those it keeps
    /// consuming during the rebalance; under the eager protocol, normally none since it gave them all up first.
    /// Sent from subscription version 1 on.
    /// </summary>
    public IReadOnlyList<TopicPartition> OwnedPartitions { get; init; } = [];

    /// <summary>
    /// The generation of the group in which the member received <see cref="OwnedPartitions"/>, or -1 when
    /// unknown (a new member, or an older client). Lets the leader tell stale ownership claims from
    /// current ones. Sent from subscription version 2 on.
    /// </summary>
    public int GenerationId { get; init; } = -1;

    /// <summary>
    /// The member's rack (Java's <c>client.rack</c>), or null when not set. Sent from subscription version 3 on.
    /// </summary>
    public string? RackId { get; init; }

    /// <summary>
    /// The member's static identity (<c>group.instance.id</c>, KIP-345), or null for a dynamic member. Not part
    /// of the subscription bytes: the group coordinator reports it next to each member in the JoinGroup
    /// response, and the leader fills it in before assigning. Range and round-robin order static members by it.
    /// </summary>
    public string? GroupInstanceId { get; init; }

    /// <summary>A short description for logs: topics, owned partitions, generation, rack and instance id.</summary>
    public override string ToString() =>
        $"Subscription(topics=[{string.Join(", ", Topics)}], owned=[{string.Join(", ", OwnedPartitions)}], " +
        $"generation={GenerationId}, rack={RackId ?? "null"}, instance={GroupInstanceId ?? "null"}, " +
        $"userData={(UserData is { } data ? data.Length + " bytes" : "null")})";
}
