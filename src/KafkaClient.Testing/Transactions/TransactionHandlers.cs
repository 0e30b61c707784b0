using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using KafkaClient.Testing.Handlers;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Transactions;

/// <summary>Checks shared by the transaction handlers.</summary>
internal static class TxnErrors
{
    /// <summary>TRANSACTIONAL_ID_AUTHORIZATION_FAILED without <paramref name="operation"/> on the id, then NOT_COORDINATOR unless this broker coordinates it.</summary>
    public static ErrorCode Check(RequestContext context, string transactionalId, AclOperation operation = AclOperation.Write) =>
        !context.Authorized(operation, AclResourceType.TransactionalId, transactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed
        : CheckCoordinator(context, transactionalId);

    /// <summary>NOT_COORDINATOR unless this broker coordinates <paramref name="key"/>.</summary>
    public static ErrorCode CheckCoordinator(RequestContext context, string key) =>
        context.Cluster.CoordinatorFor(key) == context.BrokerId ? ErrorCode.None : ErrorCode.NotCoordinator;

    /// <summary>Before <paramref name="fencedFromVersion"/> Kafka reports a fenced producer as INVALID_PRODUCER_EPOCH.</summary>
    public static ErrorCode ForVersion(this ErrorCode error, short version, short fencedFromVersion) =>
        error == ErrorCode.ProducerFenced && version < fencedFromVersion ? ErrorCode.InvalidProducerEpoch : error;
}

/// <summary>
/// InitProducerId: idempotent producers get a new id at epoch 0; transactional ids go to the
/// transaction coordinator (NOT_COORDINATOR on any other broker).
/// </summary>
internal sealed class InitProducerIdHandler(TransactionCoordinator coordinator) : ApiHandler<InitProducerIdRequest, InitProducerIdResponse>(ApiKey.InitProducerId)
{
    protected override ValueTask<InitProducerIdResponse?> HandleAsync(RequestContext context, InitProducerIdRequest request, CancellationToken cancellationToken)
    {
        if (request.TransactionalId is not { } id)
        {
            // Kafka: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679).
            if (!context.AuthorizedOnCluster(AclOperation.IdempotentWrite)
                && !context.Cluster.Authorizer.AuthorizeAny(context.Principal, context.Session.ClientAddress, AclOperation.Write, AclResourceType.Topic))
            {
                return ValueTask.FromResult<InitProducerIdResponse?>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed));
            }
            return ValueTask.FromResult<InitProducerIdResponse?>(new InitProducerIdResponse
            {
                ProducerId = context.Cluster.AllocateProducerId(),
                ProducerEpoch = 0,
            });
        }
        var error = TxnErrors.Check(context, id);
        long producerId = -1;
        short epoch = -1;
        if (error == ErrorCode.None)
        {
            long requestedId = context.ApiVersion >= 3 ? request.ProducerId : -1;
            short requestedEpoch = context.ApiVersion >= 3 ? request.ProducerEpoch : (short)-1;
            error = coordinator.InitProducerId(id, request.TransactionTimeoutMs, requestedId, requestedEpoch, out producerId, out epoch)
                .ForVersion(context.ApiVersion, 4);
        }
        return ValueTask.FromResult<InitProducerIdResponse?>(new InitProducerIdResponse
        {
            ErrorCode = error.Code(),
            ProducerId = producerId,
            ProducerEpoch = epoch,
        });
    }

    protected override InitProducerIdResponse ErrorResponse(RequestContext context, InitProducerIdRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), ProducerId = -1, ProducerEpoch = -1 };
}

/// <summary>
/// AddPartitionsToTxn: the client form (v0-3, one transaction) and the batched broker form (v4+,
/// with VerifyOnly). Unknown partitions fail the request (UNKNOWN_TOPIC_OR_PARTITION, the others
/// OPERATION_NOT_ATTEMPTED), as Kafka does.
/// </summary>
internal sealed class AddPartitionsToTxnHandler(TransactionCoordinator coordinator) : ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn)
{
    protected override ValueTask<AddPartitionsToTxnResponse?> HandleAsync(RequestContext context, AddPartitionsToTxnRequest request, CancellationToken cancellationToken)
    {
        var response = new AddPartitionsToTxnResponse();
        if (context.ApiVersion < 4)
        {
            response.ResultsByTopicV3AndBelow = Add(context, request.V3AndBelowTransactionalId, request.V3AndBelowProducerId,
                request.V3AndBelowProducerEpoch, request.V3AndBelowTopics, verifyOnly: false);
        }
        else
        {
            foreach (var txn in request.Transactions)
            {
                response.ResultsByTransaction.Add(new AddPartitionsToTxnResponse.AddPartitionsToTxnResult
                {
                    TransactionalId = txn.TransactionalId,
                    TopicResults = Add(context, txn.TransactionalId, txn.ProducerId, txn.ProducerEpoch, txn.Topics, txn.VerifyOnly),
                });
            }
        }
        return ValueTask.FromResult<AddPartitionsToTxnResponse?>(response);
    }

    protected override AddPartitionsToTxnResponse ErrorResponse(RequestContext context, AddPartitionsToTxnRequest request, ErrorCode error)
    {
        var response = new AddPartitionsToTxnResponse();
        if (context.ApiVersion < 4)
        {
            response.ResultsByTopicV3AndBelow = Results(request.V3AndBelowTopics, (_, _) => error);
        }
        else
        {
            response.ErrorCode = error.Code();
        }
        return response;
    }

    private List<AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult> Add(RequestContext context, string transactionalId, long producerId, short epoch,
        List<AddPartitionsToTxnRequest.AddPartitionsToTxnTopic> topics, bool verifyOnly)
    {
        var error = TxnErrors.Check(context, transactionalId);
        if (error != ErrorCode.None)
        {
            return Results(topics, (_, _) => error);
        }
        var denied = topics.Where(t => !context.Authorized(AclOperation.Write, AclResourceType.Topic, t.Name)).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (denied.Count > 0)
        {
            return Results(topics, (t, _) => denied.Contains(t) ? ErrorCode.TopicAuthorizationFailed : ErrorCode.OperationNotAttempted);
        }
        var unknown = new HashSet<(string, int)>();
        foreach (var topic in topics)
        {
            var state = context.Cluster.GetTopic(topic.Name);
            foreach (int p in topic.Partitions)
            {
                if (state is null || state.IsDeleted || state.Partition(p) is null)
                {
                    unknown.Add((topic.Name, p));
                }
            }
        }
        if (unknown.Count > 0)
        {
            return Results(topics, (t, p) => unknown.Contains((t, p)) ? ErrorCode.UnknownTopicOrPartition : ErrorCode.OperationNotAttempted);
        }
        var partitions = topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p))).ToList();
        error = coordinator.AddPartitions(transactionalId, producerId, epoch, partitions, verifyOnly).ForVersion(context.ApiVersion, 2);
        return Results(topics, (_, _) => error);
    }

    private static List<AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult> Results(List<AddPartitionsToTxnRequest.AddPartitionsToTxnTopic> topics, Func<string, int, ErrorCode> error) =>
        [.. topics.Select(t => new AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
        {
            Name = t.Name,
            ResultsByPartition = [.. t.Partitions.Select(p => new AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult
            {
                PartitionIndex = p,
                PartitionErrorCode = error(t.Name, p).Code(),
            })],
        })];
}

/// <summary>AddOffsetsToTxn: the group's offsets join the transaction.</summary>
internal sealed class AddOffsetsToTxnHandler(TransactionCoordinator coordinator) : ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>(ApiKey.AddOffsetsToTxn)
{
    protected override ValueTask<AddOffsetsToTxnResponse?> HandleAsync(RequestContext context, AddOffsetsToTxnRequest request, CancellationToken cancellationToken)
    {
        var error = TxnErrors.Check(context, request.TransactionalId);
        if (error == ErrorCode.None && !context.Authorized(AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            error = ErrorCode.GroupAuthorizationFailed;
        }
        if (error == ErrorCode.None)
        {
            error = coordinator.AddOffsets(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId).ForVersion(context.ApiVersion, 2);
        }
        return ValueTask.FromResult<AddOffsetsToTxnResponse?>(new AddOffsetsToTxnResponse { ErrorCode = error.Code() });
    }

    protected override AddOffsetsToTxnResponse ErrorResponse(RequestContext context, AddOffsetsToTxnRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>
/// TxnOffsetCommit, served by the group's coordinator: the offsets wait in the transaction and
/// reach the group coordinator only when it commits.
/// </summary>
internal sealed class TxnOffsetCommitHandler(TransactionCoordinator coordinator) : ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>(ApiKey.TxnOffsetCommit)
{
    protected override ValueTask<TxnOffsetCommitResponse?> HandleAsync(RequestContext context, TxnOffsetCommitRequest request, CancellationToken cancellationToken)
    {
        var error = !context.Authorized(AclOperation.Write, AclResourceType.TransactionalId, request.TransactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed
            : !context.Authorized(AclOperation.Read, AclResourceType.Group, request.GroupId) ? ErrorCode.GroupAuthorizationFailed
            : TxnErrors.CheckCoordinator(context, request.GroupId);
        if (error == ErrorCode.None)
        {
            var offsets = request.Topics.SelectMany(t => t.Partitions.Select(p =>
                new TransactionalOffset(t.Name, p.PartitionIndex, p.CommittedOffset, context.ApiVersion >= 2 ? p.CommittedLeaderEpoch : -1, p.CommittedMetadata ?? "")));
            error = coordinator.CommitOffsets(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId, offsets)
                .ForVersion(context.ApiVersion, 2);
        }
        return ValueTask.FromResult<TxnOffsetCommitResponse?>(ErrorResponse(context, request, error));
    }

    protected override TxnOffsetCommitResponse ErrorResponse(RequestContext context, TxnOffsetCommitRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
            {
                Name = t.Name,
                Partitions = [.. t.Partitions.Select(p => new TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition
                {
                    PartitionIndex = p.PartitionIndex,
                    ErrorCode = error.Code(),
                })],
            })],
        };
}

/// <summary>EndTxn: commit or abort the ongoing transaction.</summary>
internal sealed class EndTxnHandler(TransactionCoordinator coordinator) : ApiHandler<EndTxnRequest, EndTxnResponse>(ApiKey.EndTxn)
{
    protected override ValueTask<EndTxnResponse?> HandleAsync(RequestContext context, EndTxnRequest request, CancellationToken cancellationToken)
    {
        var error = TxnErrors.Check(context, request.TransactionalId);
        long producerId = -1;
        short epoch = -1;
        if (error == ErrorCode.None)
        {
            error = coordinator.EndTransaction(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.Committed, out producerId, out epoch)
                .ForVersion(context.ApiVersion, 2);
        }
        return ValueTask.FromResult<EndTxnResponse?>(new EndTxnResponse { ErrorCode = error.Code(), ProducerId = producerId, ProducerEpoch = epoch });
    }

    protected override EndTxnResponse ErrorResponse(RequestContext context, EndTxnRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>DescribeTransactions: state, producer, timeout, start time and partitions of each id.</summary>
internal sealed class DescribeTransactionsHandler(TransactionCoordinator coordinator) : ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>(ApiKey.DescribeTransactions)
{
    protected override ValueTask<DescribeTransactionsResponse?> HandleAsync(RequestContext context, DescribeTransactionsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeTransactionsResponse();
        foreach (string id in request.TransactionalIds)
        {
            var data = new DescribeTransactionsResponse.TransactionStateData { TransactionalId = id, ProducerId = -1, ProducerEpoch = -1, TransactionStartTimeMs = -1 };
            var error = TxnErrors.Check(context, id, AclOperation.Describe);
            if (error == ErrorCode.None && coordinator.Describe(id) is { } txn)
            {
                data.TransactionState = txn.Status.ToString();
                data.TransactionTimeoutMs = txn.TimeoutMs;
                data.TransactionStartTimeMs = txn.StartMs;
                data.ProducerId = txn.ProducerId;
                data.ProducerEpoch = txn.Epoch;
                data.Topics = [.. txn.Partitions.GroupBy(p => p.Topic).Select(g => new DescribeTransactionsResponse.TopicData
                {
                    Topic = g.Key,
                    Partitions = [.. g.Select(p => p.Partition)],
                })];
            }
            else if (error == ErrorCode.None)
            {
                error = ErrorCode.TransactionalIdNotFound;
            }
            data.ErrorCode = error.Code();
            response.TransactionStates.Add(data);
        }
        return ValueTask.FromResult<DescribeTransactionsResponse?>(response);
    }

    protected override DescribeTransactionsResponse ErrorResponse(RequestContext context, DescribeTransactionsRequest request, ErrorCode error) =>
        new()
        {
            TransactionStates = [.. request.TransactionalIds.Select(id => new DescribeTransactionsResponse.TransactionStateData
            {
                TransactionalId = id,
                ErrorCode = error.Code(),
                ProducerId = -1,
                ProducerEpoch = -1,
                TransactionStartTimeMs = -1,
            })],
        };
}

/// <summary>ListTransactions: the ids this broker coordinates, filtered by state, producer id and (v1) duration.</summary>
internal sealed class ListTransactionsHandler(TransactionCoordinator coordinator) : ApiHandler<ListTransactionsRequest, ListTransactionsResponse>(ApiKey.ListTransactions)
{
    protected override ValueTask<ListTransactionsResponse?> HandleAsync(RequestContext context, ListTransactionsRequest request, CancellationToken cancellationToken)
    {
        var response = new ListTransactionsResponse();
        var states = new HashSet<TransactionStatus>();
        foreach (string filter in request.StateFilters)
        {
            if (Enum.TryParse<TransactionStatus>(filter, ignoreCase: false, out var status) && Enum.IsDefined(status))
            {
                states.Add(status);
            }
            else
            {
                response.UnknownStateFilters.Add(filter);
            }
        }
        var producers = request.ProducerIdFilters.ToHashSet();
        long now = context.Cluster.NowMs;
        long minDuration = context.ApiVersion >= 1 ? request.DurationFilter : -1;
        foreach (var txn in coordinator.List(context.BrokerId))
        {
            if (!context.Authorized(AclOperation.Describe, AclResourceType.TransactionalId, txn.TransactionalId)
                || (request.StateFilters.Count > 0 && !states.Contains(txn.Status))
                || (producers.Count > 0 && !producers.Contains(txn.ProducerId))
                || (minDuration >= 0 && (txn.Status != TransactionStatus.Ongoing || now - txn.StartMs < minDuration)))
            {
                continue;
            }
            response.TransactionStates.Add(new ListTransactionsResponse.TransactionStateData
            {
                TransactionalId = txn.TransactionalId,
                ProducerId = txn.ProducerId,
                TransactionState = txn.Status.ToString(),
            });
        }
        return ValueTask.FromResult<ListTransactionsResponse?>(response);
    }

    protected override ListTransactionsResponse ErrorResponse(RequestContext context, ListTransactionsRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}
