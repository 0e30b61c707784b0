using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

/// <summary>A committed offset as stored by the coordinator.</summary>
internal readonly record struct CommittedOffset(long Offset, int LeaderEpoch, string Metadata, long CommitTimestampMs);

/// <summary>
/// State of one classic group: membership, generation, rebalance timers and committed offsets.
/// Every member is read and written under <see cref="Lock"/>; the coordinator holds it for the
/// whole of each request and timer callback.
/// </summary>
internal sealed class ClassicGroup
{
    /// <summary>The protocol type of Kafka consumers, whose metadata the coordinator can parse.</summary>
    public const string ConsumerProtocolType = "consumer";

    private long _nextJoinOrder;

    public ClassicGroup(string groupId) => GroupId = groupId;

    public Lock Lock { get; } = new();

    public string GroupId { get; }

    public ClassicGroupState State { get; set; } = ClassicGroupState.Empty;

    public int GenerationId { get; set; }

    /// <summary>Set by the first member; kept when the group empties (Kafka does too).</summary>
    public string? ProtocolType { get; set; }

    /// <summary>The protocol chosen for the current generation, or null while none is.</summary>
    public string? ProtocolName { get; set; }

    public string? LeaderId { get; set; }

    public Dictionary<string, GroupMember> Members { get; } = new(StringComparer.Ordinal);

    /// <summary>Static members: group instance id to current member id.</summary>
    public Dictionary<string, string> StaticMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>Member ids handed out with MEMBER_ID_REQUIRED and not yet used, with their expiry timers.</summary>
    public Dictionary<string, ITimer> PendingMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>The rebalance (join) timer of the current PreparingRebalance phase.</summary>
    public ITimer? JoinTimer { get; set; }

    /// <summary>Bumped at each join timer (re)schedule so that a stale callback does nothing.</summary>
    public int JoinEpoch { get; set; }

    /// <summary>True while a new group's initial rebalance delay runs: the join completes only on the timer.</summary>
    public bool InInitialDelay { get; set; }

    /// <summary>A member joined during the initial delay: the delay is extended once more.</summary>
    public bool NewMemberAdded { get; set; }

    /// <summary>What remains of the rebalance timeout for further initial delay extensions.</summary>
    public int InitialDelayRemainingMs { get; set; }

    /// <summary>Topics the members of a consumer group subscribe to, null when unknown.</summary>
    public HashSet<string>? SubscribedTopics { get; set; }

    public Dictionary<(string Topic, int Partition), CommittedOffset> Offsets { get; } = new();

    public string StateName => State.ToString();

    public long NextJoinOrder() => _nextJoinOrder++;

    /// <summary>The largest rebalance timeout among members (how long a rebalance waits for rejoins).</summary>
    public int RebalanceTimeoutMs
    {
        get
        {
            int max = 0;
            foreach (var member in Members.Values)
            {
                max = Math.Max(max, member.RebalanceTimeoutMs);
            }
            return max;
        }
    }

    /// <summary>Members in the order they were added.</summary>
    public IEnumerable<GroupMember> OrderedMembers => Members.Values.OrderBy(m => m.JoinOrder);

    public bool IsLeader(string memberId) => LeaderId == memberId;

    /// <summary>True when every member waits in JoinGroup and no handed-out member id is outstanding.</summary>
    public bool AllMembersJoined
    {
        get
        {
            if (PendingMembers.Count > 0)
            {
                return false;
            }
            foreach (var member in Members.Values)
            {
                if (member.AwaitingJoin is null)
                {
                    return false;
                }
            }
            return true;
        }
    }

    /// <summary>A member id whose group instance id belongs to another member id (KIP-345 fencing).</summary>
    public bool IsStaticMemberFenced(string memberId, string? groupInstanceId) =>
        groupInstanceId is not null
        && StaticMembers.TryGetValue(groupInstanceId, out var current)
        && current != memberId;

    public void Add(GroupMember member)
    {
        if (Members.Count == 0)
        {
            ProtocolType = member.ProtocolType;
        }
        Members.Add(member.MemberId, member);
        if (member.GroupInstanceId is not null)
        {
            StaticMembers[member.GroupInstanceId] = member.MemberId;
        }
        LeaderId ??= member.MemberId;
    }

    public void Remove(GroupMember member)
    {
        Members.Remove(member.MemberId);
        if (member.GroupInstanceId is not null
            && StaticMembers.TryGetValue(member.GroupInstanceId, out var current)
            && current == member.MemberId)
        {
            StaticMembers.Remove(member.GroupInstanceId);
        }
        if (LeaderId == member.MemberId)
        {
            LeaderId = OrderedMembers.FirstOrDefault()?.MemberId;
        }
    }

    /// <summary>
    /// Whether a joining member's protocols fit the group: the protocol type must match once the
    /// group has members, and one of its protocols must be supported by every other member.
    /// </summary>
    public bool SupportsProtocols(string joiningMemberId, string protocolType, List<(string Name, byte[] Metadata)> protocols)
    {
        if (Members.Count == 0)
        {
            return protocolType.Length > 0 && protocols.Count > 0;
        }
        if (protocolType != ProtocolType || protocols.Count == 0)
        {
            return false;
        }
        foreach (var (name, _) in protocols)
        {
            bool all = true;
            foreach (var member in Members.Values)
            {
                if (member.MemberId != joiningMemberId && !member.Supports(name))
                {
                    all = false;
                    break;
                }
            }
            if (all)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Chooses the protocol of the next generation as Kafka does: among the protocols every member
    /// supports, each member votes for the first one in its own preference order; most votes win
    /// (ties go to the leader's preference order).
    /// </summary>
    public string SelectProtocol()
    {
        var members = OrderedMembers.ToList();
        var reference = (LeaderId is not null && Members.TryGetValue(LeaderId, out var leader)) ? leader : members[0];
        var candidates = reference.Protocols
            .Select(p => p.Name)
            .Where(name => members.All(m => m.Supports(name)))
            .ToList();
        if (candidates.Count == 0)
        {
            // Cannot happen (every join is checked with SupportsProtocols); never throw from a
            // timer callback over it.
            return reference.Protocols[0].Name;
        }
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var member in members)
        {
            var vote = member.Protocols.First(p => candidates.Contains(p.Name)).Name;
            votes[vote] = votes.GetValueOrDefault(vote) + 1;
        }
        string best = candidates[0];
        foreach (var candidate in candidates)
        {
            if (votes.GetValueOrDefault(candidate) > votes.GetValueOrDefault(best))
            {
                best = candidate;
            }
        }
        return best;
    }

    /// <summary>
    /// The union of the topics members subscribe to under the current protocol, parsed from
    /// their ConsumerProtocolSubscription metadata; null when not a consumer group or unparseable.
    /// </summary>
    public HashSet<string>? ComputeSubscribedTopics()
    {
        if (ProtocolType != ConsumerProtocolType || ProtocolName is null || Members.Count == 0)
        {
            return null;
        }
        var topics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in Members.Values)
        {
            var metadata = member.MetadataFor(ProtocolName);
            if (metadata is null || !TryReadSubscription(metadata, out var subscription))
            {
                return null;
            }
            topics.UnionWith(subscription.Topics);
        }
        return topics;
    }

    /// <summary>Reads a consumer subscription: an int16 version, then the body at that version (newer versions read as the newest known, as Kafka does).</summary>
    public static bool TryReadSubscription(byte[] metadata, out ConsumerProtocolSubscription subscription)
    {
        try
        {
            var reader = new ProtocolReader(metadata);
            short version = reader.ReadInt16();
            if (version < ConsumerProtocolSubscription.LowestVersion)
            {
                subscription = new ConsumerProtocolSubscription();
                return false;
            }
            subscription = ConsumerProtocolSubscription.Read(ref reader, Math.Min(version, ConsumerProtocolSubscription.HighestVersion));
            return true;
        }
        catch (Exception ex) when (ex is KafkaClient.Errors.KafkaException or ArgumentException or InvalidOperationException)
        {
            subscription = new ConsumerProtocolSubscription();
            return false;
        }
    }
}
