namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// Decides which member of a consumer group consumes which partition (Java's
/// <c>ConsumerPartitionAssignor</c>). Every member lists the assignors it supports by
/// <see cref="Name"/> when it joins; the coordinator picks one that all members support, and the
/// group leader runs that assignor's <see cref="Assign"/> for the whole group.
/// </summary>
/// <remarks>
/// Built in: <see cref="RangeAssignor"/> ("range"), <see cref="RoundRobinAssignor"/> ("roundrobin"),
/// <see cref="StickyAssignor"/> ("sticky") and <see cref="CooperativeStickyAssignor"/> ("cooperative-sticky"),
/// each compatible with the Java client's assignor of the same name. A custom assignor must produce, for
/// every member in the subscriptions, an assignment in which each partition goes to at most one member.
/// Implementations should be stateless or thread-safe: the consumer may call them from its membership task
/// while the application holds a reference.
/// </remarks>
public interface IPartitionAssignor
{
    /// <summary>
    /// The protocol name sent in JoinGroup, such as <c>range</c>. Members using different implementations
    /// under the same name must agree on the meaning of their user data.
    /// </summary>
    string Name { get; }

    /// <summary>
    /// The rebalance protocols this assignor can work with, preferred first. An assignor supporting
    /// <see cref="RebalanceProtocol.Cooperative"/> must never give a partition to a new owner in the same
    /// rebalance in which its current owner still holds it.
    /// </summary>
    IReadOnlyList<RebalanceProtocol> SupportedProtocols { get; }

    /// <summary>
    /// The bytes this member puts in its <see cref="Subscription.UserData"/> when it joins, or null for none.
    /// </summary>
    /// <param name="member">The joining member's topics, last assignment and generation.</param>
    ReadOnlyMemory<byte>? GetSubscriptionUserData(MemberState member);

    /// <summary>
    /// Runs on the group leader: assigns the partitions of the subscribed topics to the members.
    /// </summary>
    /// <param name="partitionCountsByTopic">
    /// The number of partitions of each subscribed topic the cluster knows about. A subscribed topic missing
    /// here (not created yet, or no metadata) gets no partitions.
    /// </param>
    /// <param name="subscriptions">Every member's subscription, by member id.</param>
    /// <returns>An assignment for every member id in <paramref name="subscriptions"/>, empty when it gets nothing.</returns>
    IReadOnlyDictionary<string, Assignment> Assign(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions);

    /// <summary>
    /// Called on every member when it receives its assignment, with the generation of the group it now
    /// belongs to. Lets an assignor read the <see cref="Assignment.UserData"/> its leader sent. The built-in
    /// assignors keep no state and do nothing here.
    /// </summary>
    /// <param name="assignment">The member's new assignment.</param>
    /// <param name="generationId">The generation of the group the assignment belongs to.</param>
    void OnAssignment(Assignment assignment, int generationId)
    {
    }
}
