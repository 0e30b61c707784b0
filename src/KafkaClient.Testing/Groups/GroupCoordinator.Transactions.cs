namespace KafkaClient.Testing.Groups;

/// <summary>One offset a transaction commits for a group when it commits (TxnOffsetCommit).</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition index.</param>
/// <param name="Offset">The committed offset.</param>
/// <param name="LeaderEpoch">The committed leader epoch, or -1.</param>
/// <param name="Metadata">The committed metadata.</param>
internal readonly record struct TransactionalOffset(string Topic, int Partition, long Offset, int LeaderEpoch, string Metadata);

internal sealed partial class GroupCoordinator
{
    /// <summary>
    /// Stores offsets a transaction committed (the transaction coordinator calls this when the
    /// transaction that sent them with TxnOffsetCommit commits; aborted ones are never applied).
    /// Creates the group when there is none, like a simple commit; no member or generation check.
    /// </summary>
    /// <param name="groupId">The group.</param>
    /// <param name="offsets">The offsets, applied in order.</param>
    public void CommitOffsetsFromTransaction(string groupId, IReadOnlyList<TransactionalOffset> offsets)
    {
        if (_disposed)
        {
            return;
        }
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        WithGroup(groupId, create: true, group =>
        {
            if (group is not null)
            {
                foreach (var o in offsets)
                {
                    group.Offsets[(o.Topic, o.Partition)] = new CommittedOffset(o.Offset, o.LeaderEpoch, o.Metadata, now);
                }
            }
            return 0;
        });
    }
}
