namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// The order in which range and round-robin hand out partitions, as Java's <c>MemberInfo.compareTo</c>:
/// static members (with a <c>group.instance.id</c>) first, by instance id, then dynamic members by member id.
/// Static members thereby keep their place, and their partitions, across restarts that change their member id.
/// </summary>
internal static class MemberOrder
{
    /// <summary>The member ids of <paramref name="subscriptions"/> in assignment order.</summary>
    public static List<string> Sort(IEnumerable<string> memberIds, IReadOnlyDictionary<string, Subscription> subscriptions)
    {
        var sorted = memberIds.ToList();
        sorted.Sort((a, b) => Compare(a, subscriptions[a].GroupInstanceId, b, subscriptions[b].GroupInstanceId));
        return sorted;
    }

    private static int Compare(string memberA, string? instanceA, string memberB, string? instanceB) =>
        (instanceA, instanceB) switch
        {
            (not null, not null) => string.CompareOrdinal(instanceA, instanceB),
            (not null, null) => -1,
            (null, not null) => 1,
            _ => string.CompareOrdinal(memberA, memberB),
        };
}
