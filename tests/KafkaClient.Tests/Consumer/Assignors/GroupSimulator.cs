using KafkaClient.Consumer.Assignors;

namespace KafkaClient.Tests.Consumer.Assignors;

/// <summary>
/// Plays a consumer group's rebalances with one assignor, the way members and the leader use it: each member
/// builds its subscription (user data from the assignor, owned partitions, generation), the subscription and the
/// assignment go through the wire format, and each member applies what it receives. Under the eager protocol
/// members give up everything before joining; under the cooperative one they keep what they own, and the
/// simulator fails if the leader hands a partition to one member while another still owns it.
/// </summary>
internal sealed class GroupSimulator
{
    private sealed class Member(List<string> topics)
    {
        public List<string> Topics { get; set; } = topics;

        public List<TopicPartition> Owned { get; set; } = [];

        public IReadOnlyList<TopicPartition>? LastAssignment { get; set; }

        public int Generation { get; set; } = -1;
    }

    private readonly IPartitionAssignor _assignor;
    private readonly bool _cooperative;
    private readonly SortedDictionary<string, Member> _members = new(StringComparer.Ordinal);
    private int _generation;

    public GroupSimulator(IPartitionAssignor assignor, Dictionary<string, int> partitionCounts)
    {
        _assignor = assignor;
        _cooperative = assignor.SupportedProtocols[0] == RebalanceProtocol.Cooperative;
        PartitionCounts = partitionCounts;
    }

    public Dictionary<string, int> PartitionCounts { get; }

    public IReadOnlyCollection<string> MemberIds => _members.Keys;

    public IReadOnlyDictionary<string, Subscription> LastSubscriptions { get; private set; } = new Dictionary<string, Subscription>();

    public IReadOnlyDictionary<string, Assignment> LastResult { get; private set; } = new Dictionary<string, Assignment>();

    public void Join(string memberId, IEnumerable<string> topics) => _members.Add(memberId, new Member(topics.ToList()));

    public void Leave(string memberId) => _members.Remove(memberId);

    public void Resubscribe(string memberId, IEnumerable<string> topics) => _members[memberId].Topics = topics.ToList();

    public IReadOnlyList<string> TopicsOf(string memberId) => _members[memberId].Topics;

    /// <summary>Who owns what right now.</summary>
    public Dictionary<string, HashSet<TopicPartition>> Ownership() =>
        _members.ToDictionary(m => m.Key, m => m.Value.Owned.ToHashSet(), StringComparer.Ordinal);

    /// <summary>One rebalance; true when some member gave up partitions and so must rejoin (cooperative).</summary>
    public bool RebalanceOnce()
    {
        _generation++;
        var subscriptions = new Dictionary<string, Subscription>(StringComparer.Ordinal);
        foreach (var (id, member) in _members)
        {
            if (!_cooperative)
            {
                member.Owned = [];
            }
            var subscription = new Subscription(member.Topics)
            {
                UserData = _assignor.GetSubscriptionUserData(new MemberState(member.Topics, member.LastAssignment, member.Generation)),
                OwnedPartitions = member.Owned.ToList(),
                GenerationId = member.Generation,
            };
            subscriptions[id] = ConsumerProtocol.DeserializeSubscription(ConsumerProtocol.SerializeSubscription(subscription));
        }

        var result = _assignor.Assign(PartitionCounts, subscriptions);
        LastSubscriptions = subscriptions;
        LastResult = result;

        if (_cooperative)
        {
            foreach (var (id, assignment) in result)
            {
                foreach (var tp in assignment.Partitions)
                {
                    foreach (var (otherId, other) in _members)
                    {
                        if (otherId != id && other.Owned.Contains(tp))
                        {
                            throw new InvalidOperationException(
                                $"Generation {_generation}: {tp} was given to {id} while {otherId} still owns it.");
                        }
                    }
                }
            }
        }

        bool revoked = false;
        foreach (var (id, member) in _members)
        {
            var received = ConsumerProtocol.DeserializeAssignment(ConsumerProtocol.SerializeAssignment(result[id])).Partitions;
            revoked |= member.Owned.Except(received).Any();
            member.Owned = received.ToList();
            member.LastAssignment = received;
            member.Generation = _generation;
        }
        return revoked;
    }

    /// <summary>Rebalances until no member has to rejoin; returns how many rebalances that took.</summary>
    public int Rebalance()
    {
        for (int round = 1; round <= 5; round++)
        {
            if (!RebalanceOnce())
            {
                return round;
            }
        }
        throw new InvalidOperationException("The group did not settle within 5 rebalances.");
    }
}
