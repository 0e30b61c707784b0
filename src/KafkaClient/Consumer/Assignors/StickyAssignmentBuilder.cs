namespace KafkaClient.Consumer.Assignors;

/// <summary>What a sticky assignor knows of a member's previous ownership: its partitions and their generation (null when unknown).</summary>
internal readonly record struct StickyMemberHistory(IReadOnlyList<TopicPartition> Partitions, int? Generation);

/// <summary>The outcome of <see cref="StickyAssignmentBuilder.Build"/>.</summary>
internal sealed class StickyAssignmentResult(
    Dictionary<string, List<TopicPartition>> partitionsByMember,
    HashSet<TopicPartition> claimedByMoreThanOneMember)
{
    /// <summary>The partitions of every member (mutable, unsorted).</summary>
    public Dictionary<string, List<TopicPartition>> PartitionsByMember { get; } = partitionsByMember;

    /// <summary>Partitions that two members of the same generation both claimed; their ownership is unknown.</summary>
    public HashSet<TopicPartition> ClaimedByMoreThanOneMember { get; } = claimedByMoreThanOneMember;
}

/// <summary>
/// The assignment shared by <see cref="StickyAssignor"/> and <see cref="CooperativeStickyAssignor"/>, with the
/// goals of Java's <c>AbstractStickyAssignor</c>: first balance (partition counts differ by at most one, or no
/// member with two or more fewer partitions than another could take one of that member's partitions), then
/// stickiness (as few partitions as possible change owner).
/// </summary>
/// <remarks>
/// Previous ownership is resolved first: a partition claimed by members of different generations stays with the
/// newest generation; one claimed by two members of the same generation is treated as unowned. When every member
/// subscribes to the same topics, each keeps up to its quota (total / members, one more for the first
/// total % members) of what it owned and the rest is dealt out round robin to members under quota. Otherwise
/// each member keeps what it owned of its topics, the rest goes one by one (topics with the fewest subscribers
/// first) to the subscribed member with the fewest partitions, and then partitions move from a member to a
/// subscribed member with at least two fewer until none can; a partition moving prefers its previous owner,
/// and partitions that were unowned move before ones that were kept.
/// </remarks>
internal static class StickyAssignmentBuilder
{
    /// <summary>Computes a balanced, sticky assignment.</summary>
    /// <param name="partitionCountsByTopic">Partition counts of the known topics.</param>
    /// <param name="subscriptions">Every member's subscription.</param>
    /// <param name="history">Every member's previous ownership, as its assignor decodes it.</param>
    public static StickyAssignmentResult Build(
        IReadOnlyDictionary<string, int> partitionCountsByTopic,
        IReadOnlyDictionary<string, Subscription> subscriptions,
        IReadOnlyDictionary<string, StickyMemberHistory> history)
    {
        var members = subscriptions.Keys.Order(StringComparer.Ordinal).ToList();
        var topicsByMember = members.ToDictionary(
            m => m, m => subscriptions[m].Topics.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);

        // The topics someone subscribes to that have partitions.
        var partitionCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topics in topicsByMember.Values)
        {
            foreach (string topic in topics)
            {
                if (partitionCountsByTopic.TryGetValue(topic, out int count) && count > 0)
                {
                    partitionCounts[topic] = count;
                }
            }
        }

        var claimedTwice = new HashSet<TopicPartition>();
        var owned = ResolveOwnership(members, partitionCounts, history, claimedTwice);

        bool sameTopicsEverywhere = members.Count > 0 && members.All(m => topicsByMember[m].SetEquals(topicsByMember[members[0]]));
        var partitions = sameTopicsEverywhere
            ? BuildWithEqualSubscriptions(members, partitionCounts, owned, claimedTwice)
            : BuildGeneral(members, topicsByMember, partitionCounts, owned, PreviousOwners(members, partitionCounts, history));
        return new StickyAssignmentResult(partitions, claimedTwice);
    }

    /// <summary>
    /// Each member's claimed partitions that still exist, with conflicts settled: the newest generation wins,
    /// two claims of the same generation cancel out (and the partition is reported in <paramref name="claimedTwice"/>).
    /// </summary>
    private static Dictionary<string, List<TopicPartition>> ResolveOwnership(
        List<string> members,
        Dictionary<string, int> partitionCounts,
        IReadOnlyDictionary<string, StickyMemberHistory> history,
        HashSet<TopicPartition> claimedTwice)
    {
        var owned = members.ToDictionary(m => m, _ => new List<TopicPartition>(), StringComparer.Ordinal);
        var claimant = new Dictionary<TopicPartition, (string Member, int Generation)>();
        foreach (string member in members)
        {
            var data = history.TryGetValue(member, out var found) ? found : new StickyMemberHistory([], null);
            int generation = data.Generation ?? -1;
            foreach (var tp in data.Partitions.Distinct())
            {
                if (!partitionCounts.TryGetValue(tp.Topic, out int count) || tp.Partition < 0 || tp.Partition >= count)
                {
                    continue;
                }
                if (!claimant.TryGetValue(tp, out var other))
                {
                    owned[member].Add(tp);
                    claimant[tp] = (member, generation);
                }
                else if (generation == other.Generation)
                {
                    claimedTwice.Add(tp);
                    owned[other.Member].Remove(tp);
                    claimant[tp] = (member, generation);
                }
                else if (generation > other.Generation)
                {
                    owned[other.Member].Remove(tp);
                    owned[member].Add(tp);
                    claimant[tp] = (member, generation);
                }
            }
        }
        return owned;
    }

    /// <summary>
    /// For partitions claimed by members of an older generation than the newest, the most recent of those owners:
    /// the member a partition goes back to if it has to move.
    /// </summary>
    private static Dictionary<TopicPartition, string> PreviousOwners(
        List<string> members,
        Dictionary<string, int> partitionCounts,
        IReadOnlyDictionary<string, StickyMemberHistory> history)
    {
        int newest = -1;
        foreach (var data in history.Values)
        {
            newest = Math.Max(newest, data.Generation ?? -1);
        }
        var previous = new Dictionary<TopicPartition, (string Member, int Generation)>();
        foreach (string member in members)
        {
            if (!history.TryGetValue(member, out var data) || (data.Generation ?? -1) >= newest)
            {
                continue;
            }
            int generation = data.Generation ?? -1;
            foreach (var tp in data.Partitions)
            {
                if (partitionCounts.ContainsKey(tp.Topic) && (!previous.TryGetValue(tp, out var other) || generation > other.Generation))
                {
                    previous[tp] = (member, generation);
                }
            }
        }
        return previous.ToDictionary(e => e.Key, e => e.Value.Member);
    }

    private static List<TopicPartition> AllPartitions(IEnumerable<string> topicsInOrder, Dictionary<string, int> partitionCounts)
    {
        var all = new List<TopicPartition>();
        foreach (string topic in topicsInOrder)
        {
            for (int partition = 0; partition < partitionCounts[topic]; partition++)
            {
                all.Add(new TopicPartition(topic, partition));
            }
        }
        return all;
    }

    /// <summary>Every member subscribes to the same topics: keep owned partitions up to quota, deal out the rest.</summary>
    private static Dictionary<string, List<TopicPartition>> BuildWithEqualSubscriptions(
        List<string> members,
        Dictionary<string, int> partitionCounts,
        Dictionary<string, List<TopicPartition>> owned,
        HashSet<TopicPartition> claimedTwice)
    {
        var result = members.ToDictionary(m => m, _ => new List<TopicPartition>(), StringComparer.Ordinal);
        int total = partitionCounts.Values.Sum();
        int minQuota = total / members.Count;
        int maxQuota = (total + members.Count - 1) / members.Count;
        int expectedAtMax = total % members.Count;
        int currentAtMax = 0;

        var kept = new HashSet<TopicPartition>();
        var underMin = new List<string>();
        var atMinMayTakeOneMore = new List<string>();
        foreach (string member in members)
        {
            // Lower partition numbers first, across topics, as Java does.
            var mine = owned[member]
                .Where(tp => !claimedTwice.Contains(tp))
                .OrderBy(tp => tp.Partition)
                .ThenBy(tp => tp.Topic, StringComparer.Ordinal)
                .ToList();
            int keep;
            if (mine.Count < minQuota)
            {
                keep = mine.Count;
                underMin.Add(member);
            }
            else if (mine.Count >= maxQuota && currentAtMax < expectedAtMax)
            {
                keep = maxQuota;
                currentAtMax++;
                if (currentAtMax == expectedAtMax)
                {
                    atMinMayTakeOneMore.Clear();
                }
            }
            else
            {
                keep = minQuota;
                if (currentAtMax < expectedAtMax)
                {
                    atMinMayTakeOneMore.Add(member);
                }
            }
            result[member].AddRange(mine.Take(keep));
            kept.UnionWith(mine.Take(keep));
        }

        var unassigned = AllPartitions(partitionCounts.Keys.Order(StringComparer.Ordinal), partitionCounts)
            .Where(tp => !kept.Contains(tp))
            .ToList();
        var mayTakeOneMore = new Queue<string>(atMinMayTakeOneMore);
        int cursor = 0;
        foreach (var tp in unassigned)
        {
            string member;
            bool fromUnderMin = underMin.Count > 0;
            if (fromUnderMin)
            {
                if (cursor >= underMin.Count)
                {
                    cursor = 0;
                }
                member = underMin[cursor];
            }
            else if (!mayTakeOneMore.TryDequeue(out member!))
            {
                throw new InvalidOperationException($"Sticky assignment found no member with room for {tp}; the quotas are inconsistent.");
            }

            var target = result[member];
            target.Add(tp);
            if (fromUnderMin)
            {
                if (target.Count == minQuota)
                {
                    underMin.RemoveAt(cursor);
                    mayTakeOneMore.Enqueue(member);
                }
                else
                {
                    cursor++;
                }
            }
            if (target.Count == maxQuota && maxQuota > minQuota)
            {
                currentAtMax++;
            }
        }
        return result;
    }

    /// <summary>Members subscribe to different topics: keep what is still valid, place the rest, then even out.</summary>
    private static Dictionary<string, List<TopicPartition>> BuildGeneral(
        List<string> members,
        Dictionary<string, HashSet<string>> topicsByMember,
        Dictionary<string, int> partitionCounts,
        Dictionary<string, List<TopicPartition>> owned,
        Dictionary<TopicPartition, string> previousOwners)
    {
        var subscribers = partitionCounts.Keys.ToDictionary(
            t => t, t => members.Where(m => topicsByMember[m].Contains(t)).ToList(), StringComparer.Ordinal);
        var result = members.ToDictionary(m => m, _ => new List<TopicPartition>(), StringComparer.Ordinal);
        var ownerOf = new Dictionary<TopicPartition, string>();
        foreach (string member in members)
        {
            foreach (var tp in owned[member])
            {
                // A member keeps a partition only while it still subscribes to its topic.
                if (topicsByMember[member].Contains(tp.Topic))
                {
                    result[member].Add(tp);
                    ownerOf[tp] = member;
                }
            }
        }

        // Topics with the fewest possible owners first, so flexible ones fill the gaps.
        var topicOrder = partitionCounts.Keys
            .OrderBy(t => subscribers[t].Count)
            .ThenBy(t => t, StringComparer.Ordinal)
            .ToList();
        var allPartitions = AllPartitions(topicOrder, partitionCounts);
        var placedNow = new List<TopicPartition>();
        foreach (var tp in allPartitions)
        {
            if (ownerOf.ContainsKey(tp))
            {
                continue;
            }
            string? least = LeastLoaded(subscribers[tp.Topic], result);
            if (least is null)
            {
                continue;
            }
            result[least].Add(tp);
            ownerOf[tp] = least;
            placedNow.Add(tp);
        }

        // Even out: newly placed partitions move first, then any partition if still needed.
        Rebalance(placedNow, subscribers, result, ownerOf, previousOwners);
        Rebalance(allPartitions, subscribers, result, ownerOf, previousOwners);
        return result;
    }

    /// <summary>
    /// Moves partitions from a member to a subscribed member with at least two fewer, until none of
    /// <paramref name="candidates"/> can move. Each move lowers the sum of squared counts, so this ends.
    /// </summary>
    private static void Rebalance(
        List<TopicPartition> candidates,
        Dictionary<string, List<string>> subscribers,
        Dictionary<string, List<TopicPartition>> result,
        Dictionary<TopicPartition, string> ownerOf,
        Dictionary<TopicPartition, string> previousOwners)
    {
        bool moved;
        do
        {
            moved = false;
            foreach (var tp in candidates)
            {
                if (!ownerOf.TryGetValue(tp, out string? owner))
                {
                    continue;
                }
                int ownerCount = result[owner].Count;
                string? target = null;
                if (previousOwners.TryGetValue(tp, out string? previous) && previous != owner
                    && result.TryGetValue(previous, out var previousPartitions)
                    && subscribers[tp.Topic].Contains(previous)
                    && ownerCount > previousPartitions.Count + 1)
                {
                    target = previous;
                }
                else
                {
                    string? least = LeastLoaded(subscribers[tp.Topic], result);
                    if (least is not null && ownerCount > result[least].Count + 1)
                    {
                        target = least;
                    }
                }
                if (target is not null)
                {
                    result[owner].Remove(tp);
                    result[target].Add(tp);
                    ownerOf[tp] = target;
                    moved = true;
                }
            }
        }
        while (moved);
    }

    private static string? LeastLoaded(List<string> candidates, Dictionary<string, List<TopicPartition>> result)
    {
        string? least = null;
        int leastCount = int.MaxValue;
        foreach (string member in candidates)
        {
            // Candidates are in member id order, so ties go to the lowest id.
            int count = result[member].Count;
            if (count < leastCount)
            {
                least = member;
                leastCount = count;
            }
        }
        return least;
    }
}
