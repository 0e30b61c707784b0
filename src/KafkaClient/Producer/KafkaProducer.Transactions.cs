using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Producer;

/// <summary>Where a transactional producer stands.</summary>
internal enum TransactionState
{
    /// <summary>Not transactional, or <c>InitTransactionsAsync</c> not called yet.</summary>
    Uninitialized,

    /// <summary>Initialized, no transaction open.</summary>
    Ready,

    /// <summary>A transaction is open: produce and send offsets.</summary>
    InTransaction,

    /// <summary>Committing or aborting.</summary>
    Completing,

    /// <summary>A record or offset commit of the open transaction failed: only abort is allowed.</summary>
    AbortableError,

    /// <summary>Fenced or otherwise unusable: dispose the producer.</summary>
    FatalError,
}

/// <summary>Transactions: init, begin, send offsets, commit, abort (KIP-98).</summary>
public sealed partial class KafkaProducer<TKey, TValue>
{
    private readonly object _transactionLock = new();
    private readonly HashSet<TopicPartition> _partitionsInTransaction = [];
    private TransactionState _transactionState;
    private KafkaException? _transactionError;
    private int _transactionCoordinator = -1;

    private bool IsTransactional => _options.TransactionalId is not null;

    /// <summary>
    /// Registers the transactional id with its coordinator, fencing any older producer with the same
    /// id and completing (committing or aborting) whatever transaction it left open. Call once, first.
    /// </summary>
    /// <exception cref="InvalidOperationException">The producer has no <see cref="ProducerOptions.TransactionalId"/>.</exception>
    public async Task InitTransactionsAsync(CancellationToken cancellationToken = default)
    {
        if (!IsTransactional)
        {
            throw new InvalidOperationException("InitTransactionsAsync needs ProducerOptions.TransactionalId.");
        }
        var client = await _client.WaitAsync(cancellationToken).ConfigureAwait(false);
        Task<(long Id, short Epoch)> init;
        lock (_producerIdLock)
        {
            _producerId = init = InitTransactionalProducerIdAsync(client, cancellationToken);
        }
        await init.ConfigureAwait(false);
        lock (_transactionLock)
        {
            _transactionState = TransactionState.Ready;
            _transactionError = null;
        }
    }

    /// <summary>Opens a transaction: every record produced until commit or abort belongs to it.</summary>
    public void BeginTransaction()
    {
        lock (_transactionLock)
        {
            RequireState(TransactionState.Ready, "BeginTransaction");
            _transactionState = TransactionState.InTransaction;
            _partitionsInTransaction.Clear();
        }
    }

    /// <summary>
    /// Adds consumer offsets to the open transaction: they are committed for the group if and only if
    /// the transaction commits (consume-transform-produce, exactly once).
    /// </summary>
    public async Task SendOffsetsToTransactionAsync(IEnumerable<TopicPartitionOffset> offsets, ConsumerGroupMetadata group, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(group);
        lock (_transactionLock)
        {
            RequireState(TransactionState.InTransaction, "SendOffsetsToTransactionAsync");
        }
        var client = await _client.WaitAsync(cancellationToken).ConfigureAwait(false);
        var (id, epoch) = await GetProducerIdAsync(client).ConfigureAwait(false);
        try
        {
            await client.RetryAsync(async ct =>
            {
                var response = await client.SendAsync(new AddOffsetsToTxnRequest
                {
                    TransactionalId = _options.TransactionalId!,
                    ProducerId = id,
                    ProducerEpoch = epoch,
                    GroupId = group.GroupId,
                }, await TransactionCoordinatorAsync(client, ct).ConfigureAwait(false), ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
                ThrowTransactionError((ErrorCode)response.ErrorCode, "AddOffsetsToTxn");
                lock (_transactionLock)
                {
                    _offsetsAdded = true;
                }
                return true;
            }, _options.MaxBlock, cancellationToken).ConfigureAwait(false);

            var request = new TxnOffsetCommitRequest
            {
                TransactionalId = _options.TransactionalId!,
                GroupId = group.GroupId,
                ProducerId = id,
                ProducerEpoch = epoch,
                GenerationId = group.GenerationId,
                MemberId = group.MemberId,
                GroupInstanceId = group.GroupInstanceId,
            };
            foreach (var byTopic in offsets.GroupBy(o => o.TopicPartition.Topic))
            {
                request.Topics.Add(new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
                {
                    Name = byTopic.Key,
                    Partitions = byTopic.Select(o => new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition
                    {
                        PartitionIndex = o.TopicPartition.Partition,
                        CommittedOffset = o.Offset,
                        CommittedLeaderEpoch = o.LeaderEpoch,
                    }).ToList(),
                });
            }
            await client.RetryAsync(async ct =>
            {
                int groupCoordinator = await client.FindCoordinatorAsync(0, group.GroupId, _options.MaxBlock, ct).ConfigureAwait(false);
                var response = await client.SendAsync(request, groupCoordinator, ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
                foreach (var partition in response.Topics.SelectMany(t => t.Partitions))
                {
                    ThrowTransactionError((ErrorCode)partition.ErrorCode, "TxnOffsetCommit");
                }
                return true;
            }, _options.MaxBlock, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException ex)
        {
            EnterErrorState(ex);
            throw;
        }
    }

    /// <summary>Sends every record of the open transaction and commits it atomically.</summary>
    /// <exception cref="KafkaException">The transaction could not commit; abort it (or, when fenced, dispose the producer).</exception>
    public Task CommitTransactionAsync(CancellationToken cancellationToken = default) => EndTransactionAsync(commit: true, cancellationToken);

    /// <summary>Drops the open transaction: records not sent yet fail, records sent are marked aborted.</summary>
    public Task AbortTransactionAsync(CancellationToken cancellationToken = default) => EndTransactionAsync(commit: false, cancellationToken);

    private async Task EndTransactionAsync(bool commit, CancellationToken cancellationToken)
    {
        // Java's TransactionManager: an abortable error (a failed batch) requires an epoch bump
        // once the transaction is aborted, so sequences start over at 0 for every partition. The
        // failed batch's sequences were used but nothing was written: without the bump the next
        // batch of that partition would be refused as out of order, and the producer stuck.
        bool bumpEpoch;
        lock (_transactionLock)
        {
            bumpEpoch = !commit && _transactionError is not null;
            if (_transactionState == TransactionState.AbortableError && !commit)
            {
                _transactionState = TransactionState.Completing;
            }
            else
            {
                RequireState(TransactionState.InTransaction, commit ? "CommitTransactionAsync" : "AbortTransactionAsync");
                _transactionState = TransactionState.Completing;
            }
        }
        var client = await _client.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (commit)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
                lock (_transactionLock)
                {
                    if (_transactionError is { } failed)
                    {
                        _transactionState = _transactionError is ProducerFencedException ? TransactionState.FatalError : TransactionState.AbortableError;
                        throw new KafkaException(failed.ErrorCode, $"The transaction cannot commit: a record failed ({failed.Message}). Abort it.", failed);
                    }
                }
            }
            else
            {
                var aborted = new KafkaException(ErrorCode.TransactionAbortable, "The transaction was aborted before the record was sent.");
                foreach (var batch in _accumulator.TakeAllUnsent())
                {
                    FailBatch(batch, aborted, PersistenceStatus.NotPersisted);
                }
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            bool anythingToEnd;
            lock (_transactionLock)
            {
                anythingToEnd = _partitionsInTransaction.Count > 0 || _offsetsAdded;
            }
            if (anythingToEnd)
            {
                var (id, epoch) = await GetProducerIdAsync(client).ConfigureAwait(false);
                await client.RetryAsync(async ct =>
                {
                    var response = await client.SendAsync(new EndTxnRequest
                    {
                        TransactionalId = _options.TransactionalId!,
                        ProducerId = id,
                        ProducerEpoch = epoch,
                        Committed = commit,
                    }, await TransactionCoordinatorAsync(client, ct).ConfigureAwait(false), ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
                    ThrowTransactionError((ErrorCode)response.ErrorCode, "EndTxn");
                    return true;
                }, _options.MaxBlock, cancellationToken).ConfigureAwait(false);
            }
            if (bumpEpoch)
            {
                // InitProducerId with the current id and epoch (KIP-360): same id, epoch + 1. The
                // accumulator starts each partition's sequences at 0 under the new epoch (nothing of
                // the old one is left: unsent batches failed and the rest was flushed above).
                var current = await GetProducerIdAsync(client).ConfigureAwait(false);
                Task<(long Id, short Epoch)> bumped;
                lock (_producerIdLock)
                {
                    _producerId = bumped = InitTransactionalProducerIdAsync(client, cancellationToken, current);
                }
                await bumped.ConfigureAwait(false);
            }
            lock (_transactionLock)
            {
                _transactionState = TransactionState.Ready;
                _transactionError = null;
                _partitionsInTransaction.Clear();
                _offsetsAdded = false;
            }
        }
        catch (KafkaException ex)
        {
            EnterErrorState(ex);
            throw;
        }
    }

    private bool _offsetsAdded;

    /// <summary>Called by the sender before a transactional batch is sent: registers new partitions with the coordinator.</summary>
    private async Task<bool> AddPartitionsToTransactionAsync(KafkaProtocolClient client, List<ProducerBatch> batches, (long Id, short Epoch) producer)
    {
        List<TopicPartition> missing;
        lock (_transactionLock)
        {
            if (_transactionState is TransactionState.FatalError)
            {
                var fatal = _transactionError ?? new KafkaException(ErrorCode.UnknownServerError, "The producer is in a fatal state.");
                foreach (var batch in batches)
                {
                    FailBatch(batch, fatal, PersistenceStatus.NotPersisted);
                }
                return false;
            }
            missing = batches.Select(b => b.Partition).Distinct().Where(p => !_partitionsInTransaction.Contains(p)).ToList();
        }
        if (missing.Count == 0)
        {
            return true;
        }
        try
        {
            await client.RetryAsync(async ct =>
            {
                var request = new AddPartitionsToTxnRequest
                {
                    V3AndBelowTransactionalId = _options.TransactionalId!,
                    V3AndBelowProducerId = producer.Id,
                    V3AndBelowProducerEpoch = producer.Epoch,
                    V3AndBelowTopics = missing.GroupBy(p => p.Topic).Select(g => new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic
                    {
                        Name = g.Key,
                        Partitions = g.Select(p => p.Partition).ToList(),
                    }).ToList(),
                };
                // Versions 4+ are for brokers only (KIP-890); clients send at most v3.
                var response = await client.SendAsync(request, await TransactionCoordinatorAsync(client, ct).ConfigureAwait(false), ConnectionPurpose.Coordinator, maxVersion: 3, ct).ConfigureAwait(false);
                ThrowTransactionError((ErrorCode)response.ErrorCode, "AddPartitionsToTxn");
                foreach (var partition in response.ResultsByTopicV3AndBelow.SelectMany(t => t.ResultsByPartition))
                {
                    // OPERATION_NOT_ATTEMPTED means another partition of the request failed.
                    if ((ErrorCode)partition.PartitionErrorCode is not ErrorCode.None and not ErrorCode.OperationNotAttempted)
                    {
                        ThrowTransactionError((ErrorCode)partition.PartitionErrorCode, "AddPartitionsToTxn");
                    }
                }
                return true;
            }, _options.MaxBlock, _stopping.Token).ConfigureAwait(false);
            lock (_transactionLock)
            {
                _partitionsInTransaction.UnionWith(missing);
            }
            return true;
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
        {
            var error = ex as KafkaException ?? new KafkaException(ErrorCode.UnknownServerError, "The producer closed while adding partitions to the transaction.");
            EnterErrorState(error);
            foreach (var batch in batches)
            {
                FailBatch(batch, error, PersistenceStatus.NotPersisted);
            }
            return false;
        }
    }

    private async Task<int> TransactionCoordinatorAsync(KafkaProtocolClient client, CancellationToken cancellationToken)
    {
        int known = Volatile.Read(ref _transactionCoordinator);
        if (known >= 0 && client.Metadata.Broker(known) is not null)
        {
            return known;
        }
        int found = await client.FindCoordinatorAsync(1, _options.TransactionalId!, _options.MaxBlock, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _transactionCoordinator, found);
        return found;
    }

    private Task<(long Id, short Epoch)> InitTransactionalProducerIdAsync(KafkaProtocolClient client, CancellationToken cancellationToken, (long Id, short Epoch)? current = null) =>
        client.RetryAsync(async ct =>
        {
            var response = await client.SendAsync(new InitProducerIdRequest
            {
                TransactionalId = _options.TransactionalId,
                TransactionTimeoutMs = (int)_options.TransactionTimeout.TotalMilliseconds,
                ProducerId = current?.Id ?? -1,
                ProducerEpoch = current?.Epoch ?? -1,
            }, await TransactionCoordinatorAsync(client, ct).ConfigureAwait(false), ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
            ThrowTransactionError((ErrorCode)response.ErrorCode, "InitProducerId");
            return (response.ProducerId, response.ProducerEpoch);
        }, _options.MaxBlock, cancellationToken);

    /// <summary>Turns a coordinator error into an exception; coordinator moves trigger a new lookup.</summary>
    private void ThrowTransactionError(ErrorCode error, string operation)
    {
        if (error == ErrorCode.None)
        {
            return;
        }
        if (error is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable)
        {
            Volatile.Write(ref _transactionCoordinator, -1);
        }
        throw KafkaException.FromErrorCode(error, $"{operation} for transactional id '{_options.TransactionalId}' failed.");
    }

    private void EnterErrorState(KafkaException error)
    {
        lock (_transactionLock)
        {
            _transactionError ??= error;
            _transactionState = error is ProducerFencedException
                || error.ErrorCode is ErrorCode.TransactionalIdAuthorizationFailed or ErrorCode.InvalidProducerIdMapping
                ? TransactionState.FatalError
                : TransactionState.AbortableError;
            if (_transactionState == TransactionState.FatalError)
            {
                _transactionError = error;
            }
        }
    }

    private void RequireState(TransactionState expected, string operation)
    {
        if (!IsTransactional)
        {
            throw new InvalidOperationException($"{operation} needs ProducerOptions.TransactionalId.");
        }
        if (_transactionState == TransactionState.FatalError)
        {
            throw new ProducerFencedException($"{operation} is not possible: the producer is fenced or failed fatally ({_transactionError?.Message}). Dispose it.");
        }
        if (_transactionState != expected)
        {
            throw new InvalidOperationException($"{operation} is not allowed while the producer is {_transactionState} (expected {expected}).");
        }
    }

    /// <summary>Throws when a record may not be produced now (transactional producer outside a transaction).</summary>
    private void CheckCanProduce()
    {
        if (!IsTransactional)
        {
            return;
        }
        lock (_transactionLock)
        {
            if (_transactionState == TransactionState.FatalError)
            {
                throw _transactionError as ProducerFencedException ?? new ProducerFencedException($"The producer failed fatally: {_transactionError?.Message}");
            }
            if (_transactionState != TransactionState.InTransaction)
            {
                throw new InvalidOperationException($"A transactional producer can only produce inside a transaction (call BeginTransaction); it is {_transactionState}.");
            }
        }
    }
}
