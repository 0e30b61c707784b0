using KafkaClient.Errors;
using KafkaClient.Testing.Groups;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Transactions;

/// <summary>Kafka's transaction states (the names DescribeTransactions and ListTransactions report).</summary>
internal enum TransactionStatus
{
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

/// <summary>How a transaction ended, for tests that wait on the coordinator.</summary>
/// <param name="TransactionalId">The transactional id.</param>
/// <param name="ProducerId">The producer id.</param>
/// <param name="Committed">True for a commit, false for an abort.</param>
/// <param name="Reason">"EndTxn", "InitProducerId" (fenced by a new instance) or "Timeout".</param>
internal readonly record struct TransactionOutcome(string TransactionalId, long ProducerId, bool Committed, string Reason);

/// <summary>One transactional id's state. Guarded by the coordinator's lock.</summary>
internal sealed class TransactionMetadata(string transactionalId)
{
    public string TransactionalId { get; } = transactionalId;
    public long ProducerId { get; set; } = -1;
    public short Epoch { get; set; } = -1;
    public int TimeoutMs { get; set; }
    public TransactionStatus Status { get; set; } = TransactionStatus.Empty;
    public long StartMs { get; set; } = -1;
    public SortedSet<(string Topic, int Partition)> Partitions { get; } = [];
    public HashSet<string> Groups { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Dictionary<(string, int), TransactionalOffset>> PendingOffsets { get; } = new(StringComparer.Ordinal);
    public ITimer? Timer { get; set; }
}

/// <summary>
/// The transaction coordinator of the embedded cluster: transactional ids, producer id and epoch
/// (fencing older instances), the partitions and groups of the ongoing transaction, offsets
/// pending until commit, and completion by writing markers to every partition of the transaction.
/// One lock for everything; markers are written synchronously under it (partition logs have their
/// own locks and never call back), so a transaction is never observed half-completed.
/// </summary>
internal sealed class TransactionCoordinator : IDisposable
{
    /// <summary>Kafka's <c>transaction.max.timeout.ms</c> default.</summary>
    internal const int MaxTransactionTimeoutMs = 900_000;

    private readonly object _lock = new();
    private readonly Dictionary<string, TransactionMetadata> _transactions = new(StringComparer.Ordinal);
    private readonly ClusterState _cluster;
    private readonly TimeProvider _time;
    private bool _disposed;

    public TransactionCoordinator(ClusterState cluster)
    {
        _cluster = cluster;
        _time = cluster.Options.TimeProvider;
    }

    /// <summary>Where committed transactional offsets go (the group coordinator); null drops them.</summary>
    public GroupCoordinator? Groups { get; set; }

    /// <summary>Raised (outside the lock) each time a transaction commits or aborts.</summary>
    public event Action<TransactionOutcome>? Completed;

    public ClusterState Cluster => _cluster;

    /// <summary>InitProducerId with a transactional id: a new id, or the next epoch (aborting an ongoing transaction first).</summary>
    public ErrorCode InitProducerId(string transactionalId, int timeoutMs, long producerId, short producerEpoch, out long newProducerId, out short newEpoch)
    {
        newProducerId = -1;
        newEpoch = -1;
        if (timeoutMs <= 0 || timeoutMs > MaxTransactionTimeoutMs)
        {
            return ErrorCode.InvalidTransactionTimeout;
        }
        TransactionOutcome? outcome = null;
        lock (_lock)
        {
            if (!_transactions.TryGetValue(transactionalId, out var txn))
            {
                if (producerId >= 0)
                {
                    return ErrorCode.InvalidProducerIdMapping;
                }
                txn = new TransactionMetadata(transactionalId) { ProducerId = _cluster.AllocateProducerId(), Epoch = 0 };
                _transactions.Add(transactionalId, txn);
            }
            else
            {
                if (producerId >= 0)
                {
                    // KIP-360: a producer recovering with its current id and epoch.
                    if (producerId != txn.ProducerId)
                    {
                        return ErrorCode.InvalidProducerIdMapping;
                    }
                    if (producerEpoch != txn.Epoch)
                    {
                        return ErrorCode.ProducerFenced;
                    }
                }
                if (txn.Status is TransactionStatus.PrepareCommit or TransactionStatus.PrepareAbort)
                {
                    return ErrorCode.ConcurrentTransactions;
                }
                if (txn.Status == TransactionStatus.Ongoing)
                {
                    // Fence the previous instance: abort its transaction at a bumped epoch.
                    BumpEpoch(txn);
                    outcome = CompleteLocked(txn, commit: false, "InitProducerId");
                }
                else
                {
                    BumpEpoch(txn);
                }
            }
            txn.TimeoutMs = timeoutMs;
            newProducerId = txn.ProducerId;
            newEpoch = txn.Epoch;
        }
        Raise(outcome);
        return ErrorCode.None;
    }

    /// <summary>AddPartitionsToTxn: the partitions join the transaction, which becomes Ongoing.</summary>
    public ErrorCode AddPartitions(string transactionalId, long producerId, short producerEpoch, IEnumerable<(string Topic, int Partition)> partitions, bool verifyOnly)
    {
        lock (_lock)
        {
            var error = ValidateLocked(transactionalId, producerId, producerEpoch, out var txn);
            if (error != ErrorCode.None)
            {
                return error;
            }
            if (verifyOnly)
            {
                return txn!.Status == TransactionStatus.Ongoing && partitions.All(txn.Partitions.Contains) ? ErrorCode.None : ErrorCode.InvalidTxnState;
            }
            BeginLocked(txn!);
            foreach (var p in partitions)
            {
                txn!.Partitions.Add(p);
            }
            return ErrorCode.None;
        }
    }

    /// <summary>AddOffsetsToTxn: the group's offsets join the transaction.</summary>
    public ErrorCode AddOffsets(string transactionalId, long producerId, short producerEpoch, string groupId)
    {
        lock (_lock)
        {
            var error = ValidateLocked(transactionalId, producerId, producerEpoch, out var txn);
            if (error != ErrorCode.None)
            {
                return error;
            }
            BeginLocked(txn!);
            txn!.Groups.Add(groupId);
            return ErrorCode.None;
        }
    }

    /// <summary>TxnOffsetCommit: offsets held until the transaction commits.</summary>
    public ErrorCode CommitOffsets(string transactionalId, long producerId, short producerEpoch, string groupId, IEnumerable<TransactionalOffset> offsets)
    {
        lock (_lock)
        {
            var error = ValidateLocked(transactionalId, producerId, producerEpoch, out var txn);
            if (error != ErrorCode.None)
            {
                return error;
            }
            if (txn!.Status != TransactionStatus.Ongoing || !txn.Groups.Contains(groupId))
            {
                // AddOffsetsToTxn must come first.
                return ErrorCode.InvalidTxnState;
            }
            if (!txn.PendingOffsets.TryGetValue(groupId, out var pending))
            {
                pending = [];
                txn.PendingOffsets.Add(groupId, pending);
            }
            foreach (var o in offsets)
            {
                pending[(o.Topic, o.Partition)] = o;
            }
            return ErrorCode.None;
        }
    }

    /// <summary>EndTxn: commit or abort; a retry of the completed outcome succeeds, anything else is INVALID_TXN_STATE.</summary>
    public ErrorCode EndTransaction(string transactionalId, long producerId, short producerEpoch, bool commit, out long currentProducerId, out short currentEpoch)
    {
        currentProducerId = -1;
        currentEpoch = -1;
        TransactionOutcome? outcome = null;
        ErrorCode error;
        lock (_lock)
        {
            error = ValidateLocked(transactionalId, producerId, producerEpoch, out var txn);
            if (error == ErrorCode.None)
            {
                error = (txn!.Status, commit) switch
                {
                    (TransactionStatus.Ongoing, _) => ErrorCode.None,
                    (TransactionStatus.CompleteCommit, true) or (TransactionStatus.CompleteAbort, false) => ErrorCode.None,
                    _ => ErrorCode.InvalidTxnState,
                };
                if (error == ErrorCode.None && txn.Status == TransactionStatus.Ongoing)
                {
                    outcome = CompleteLocked(txn, commit, "EndTxn");
                }
                currentProducerId = txn.ProducerId;
                currentEpoch = txn.Epoch;
            }
        }
        Raise(outcome);
        return error;
    }

    /// <summary>A snapshot of one transactional id, or null when unknown.</summary>
    public TransactionSnapshot? Describe(string transactionalId)
    {
        lock (_lock)
        {
            return _transactions.TryGetValue(transactionalId, out var txn) ? Snapshot(txn) : null;
        }
    }

    /// <summary>Snapshots of every transactional id this broker coordinates.</summary>
    public IReadOnlyList<TransactionSnapshot> List(int brokerId)
    {
        lock (_lock)
        {
            return [.. _transactions.Values.Where(t => _cluster.CoordinatorFor(t.TransactionalId) == brokerId).Select(Snapshot)];
        }
    }

    /// <summary>Cancels every transaction timer.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var txn in _transactions.Values)
            {
                txn.Timer?.Dispose();
                txn.Timer = null;
            }
        }
    }

    private static TransactionSnapshot Snapshot(TransactionMetadata txn) =>
        new(txn.TransactionalId, txn.ProducerId, txn.Epoch, txn.TimeoutMs, txn.Status, txn.StartMs, [.. txn.Partitions]);

    private ErrorCode ValidateLocked(string transactionalId, long producerId, short producerEpoch, out TransactionMetadata? txn)
    {
        if (!_transactions.TryGetValue(transactionalId, out txn) || txn.ProducerId != producerId)
        {
            return ErrorCode.InvalidProducerIdMapping;
        }
        if (producerEpoch != txn.Epoch)
        {
            return ErrorCode.ProducerFenced;
        }
        if (txn.Status is TransactionStatus.PrepareCommit or TransactionStatus.PrepareAbort)
        {
            return ErrorCode.ConcurrentTransactions;
        }
        return ErrorCode.None;
    }

    private void BeginLocked(TransactionMetadata txn)
    {
        if (txn.Status == TransactionStatus.Ongoing)
        {
            return;
        }
        txn.Status = TransactionStatus.Ongoing;
        txn.StartMs = _cluster.NowMs;
        txn.Partitions.Clear();
        txn.Groups.Clear();
        txn.PendingOffsets.Clear();
        txn.Timer?.Dispose();
        txn.Timer = null;
        if (!_disposed)
        {
            var key = (txn.TransactionalId, txn.ProducerId, txn.Epoch, txn.StartMs);
            txn.Timer = _time.CreateTimer(OnTimeout, key, TimeSpan.FromMilliseconds(txn.TimeoutMs), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimeout(object? state)
    {
        var (id, producerId, epoch, startMs) = ((string, long, short, long))state!;
        TransactionOutcome? outcome = null;
        lock (_lock)
        {
            if (!_disposed && _transactions.TryGetValue(id, out var txn) && txn.Status == TransactionStatus.Ongoing
                && txn.ProducerId == producerId && txn.Epoch == epoch && txn.StartMs == startMs)
            {
                // As Kafka (KIP-360): the timed-out transaction is aborted at a bumped epoch, fencing its producer.
                BumpEpoch(txn);
                outcome = CompleteLocked(txn, commit: false, "Timeout");
            }
        }
        Raise(outcome);
    }

    /// <summary>Writes the markers, applies or discards pending offsets, and completes the transaction.</summary>
    private TransactionOutcome CompleteLocked(TransactionMetadata txn, bool commit, string reason)
    {
        txn.Status = commit ? TransactionStatus.PrepareCommit : TransactionStatus.PrepareAbort;
        txn.Timer?.Dispose();
        txn.Timer = null;
        long now = _cluster.NowMs;
        foreach (var (topicName, index) in txn.Partitions)
        {
            if (_cluster.GetTopic(topicName) is { IsDeleted: false } topic && topic.Partition(index) is { } partition)
            {
                partition.Log.AppendTransactionMarker(txn.ProducerId, txn.Epoch, commit, coordinatorEpoch: 0, partition.Leadership.LeaderEpoch, now);
            }
        }
        if (commit && Groups is { } groups)
        {
            foreach (var (groupId, offsets) in txn.PendingOffsets)
            {
                groups.CommitOffsetsFromTransaction(groupId, [.. offsets.Values]);
            }
        }
        var outcome = new TransactionOutcome(txn.TransactionalId, txn.ProducerId, commit, reason);
        txn.Partitions.Clear();
        txn.Groups.Clear();
        txn.PendingOffsets.Clear();
        txn.Status = commit ? TransactionStatus.CompleteCommit : TransactionStatus.CompleteAbort;
        return outcome;
    }

    /// <summary>The next epoch; a new producer id at epoch 0 when the epoch is exhausted.</summary>
    private void BumpEpoch(TransactionMetadata txn)
    {
        if (txn.Epoch >= short.MaxValue - 1)
        {
            // Kafka allocates a new producer id when the epoch is exhausted (an ongoing transaction's markers then carry the new id; 32,766 bumps never happen in tests).
            txn.ProducerId = _cluster.AllocateProducerId();
            txn.Epoch = 0;
        }
        else
        {
            txn.Epoch++;
        }
    }

    private void Raise(TransactionOutcome? outcome)
    {
        if (outcome is { } o)
        {
            Completed?.Invoke(o);
        }
    }
}

/// <summary>What DescribeTransactions and ListTransactions report about one transactional id.</summary>
internal sealed record TransactionSnapshot(string TransactionalId, long ProducerId, short Epoch, int TimeoutMs,
    TransactionStatus Status, long StartMs, IReadOnlyList<(string Topic, int Partition)> Partitions);
