using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Base of the classic group APIs: one <see cref="GroupCoordinator"/> holds every group of the
/// cluster, and each broker answers only for the groups <see cref="State.ClusterState.CoordinatorFor"/>
/// maps onto it (NOT_COORDINATOR otherwise), so clients see Kafka's per-broker coordinators and
/// rediscover with FindCoordinator when a broker stops. The versions served are the coordinator's,
/// clamped to the codec's.
/// </summary>
internal abstract class GroupApiHandler<TRequest, TResponse> : ApiHandler<TRequest, TResponse>
    where TRequest : class, IKafkaRequest
    where TResponse : class, IKafkaResponse
{
    protected GroupApiHandler(ApiKey apiKey, GroupCoordinator coordinator, short minVersion, short maxVersion)
        : base(apiKey)
    {
        Coordinator = coordinator;
        MinVersion = Math.Max(minVersion, base.MinVersion);
        MaxVersion = Math.Min(maxVersion, base.MaxVersion);
    }

    public override short MinVersion { get; }

    public override short MaxVersion { get; }

    protected GroupCoordinator Coordinator { get; }

    /// <summary>Whether this broker coordinates <paramref name="groupId"/>.</summary>
    protected static bool Coordinates(RequestContext context, string groupId) =>
        context.Cluster.CoordinatorFor(groupId) == context.BrokerId;

    /// <summary>
    /// Kafka's order of checks for a group: GROUP_AUTHORIZATION_FAILED without
    /// <paramref name="operation"/> on the group, then NOT_COORDINATOR, else NONE.
    /// </summary>
    protected static ErrorCode Check(RequestContext context, string groupId, AclOperation operation) =>
        !context.Authorized(operation, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
        : !Coordinates(context, groupId) ? ErrorCode.NotCoordinator
        : ErrorCode.None;

    protected static async ValueTask<TResponse?> Await(Task<TResponse> pending) =>
        await pending.ConfigureAwait(false);
}

/// <summary>JoinGroup (long-poll until the rebalance completes).</summary>
internal sealed class JoinGroupHandler(GroupCoordinator coordinator)
    : GroupApiHandler<JoinGroupRequest, JoinGroupResponse>(ApiKey.JoinGroup, coordinator, 2, 9)
{
    protected override ValueTask<JoinGroupResponse?> HandleAsync(RequestContext context, JoinGroupRequest request, CancellationToken cancellationToken) =>
        Check(context, request.GroupId, AclOperation.Read) is var error && error == ErrorCode.None
            ? Await(Coordinator.JoinGroupAsync(request, context.ApiVersion, context.Header.ClientId ?? "", context.ClientHost, cancellationToken))
            : ValueTask.FromResult<JoinGroupResponse?>(ErrorResponse(context, request, error));

    protected override JoinGroupResponse ErrorResponse(RequestContext context, JoinGroupRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), GenerationId = -1, MemberId = request.MemberId, Leader = "", ProtocolName = context.ApiVersion >= 7 ? null : "" };
}

/// <summary>SyncGroup (long-poll for followers until the leader's assignment arrives).</summary>
internal sealed class SyncGroupHandler(GroupCoordinator coordinator)
    : GroupApiHandler<SyncGroupRequest, SyncGroupResponse>(ApiKey.SyncGroup, coordinator, 0, 5)
{
    protected override ValueTask<SyncGroupResponse?> HandleAsync(RequestContext context, SyncGroupRequest request, CancellationToken cancellationToken) =>
        Check(context, request.GroupId, AclOperation.Read) is var error && error == ErrorCode.None
            ? Await(Coordinator.SyncGroupAsync(request, context.ApiVersion, cancellationToken))
            : ValueTask.FromResult<SyncGroupResponse?>(ErrorResponse(context, request, error));

    protected override SyncGroupResponse ErrorResponse(RequestContext context, SyncGroupRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>Heartbeat.</summary>
internal sealed class HeartbeatHandler(GroupCoordinator coordinator)
    : GroupApiHandler<HeartbeatRequest, HeartbeatResponse>(ApiKey.Heartbeat, coordinator, 0, 4)
{
    protected override ValueTask<HeartbeatResponse?> HandleAsync(RequestContext context, HeartbeatRequest request, CancellationToken cancellationToken) =>
        Check(context, request.GroupId, AclOperation.Read) is var error && error == ErrorCode.None
            ? Await(Coordinator.HeartbeatAsync(request, context.ApiVersion, cancellationToken))
            : ValueTask.FromResult<HeartbeatResponse?>(ErrorResponse(context, request, error));

    protected override HeartbeatResponse ErrorResponse(RequestContext context, HeartbeatRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>LeaveGroup (a batch of members from v3).</summary>
internal sealed class LeaveGroupHandler(GroupCoordinator coordinator)
    : GroupApiHandler<LeaveGroupRequest, LeaveGroupResponse>(ApiKey.LeaveGroup, coordinator, 0, 5)
{
    protected override ValueTask<LeaveGroupResponse?> HandleAsync(RequestContext context, LeaveGroupRequest request, CancellationToken cancellationToken) =>
        Check(context, request.GroupId, AclOperation.Read) is var error && error == ErrorCode.None
            ? Await(Coordinator.LeaveGroupAsync(request, context.ApiVersion, cancellationToken))
            : ValueTask.FromResult<LeaveGroupResponse?>(ErrorResponse(context, request, error));

    protected override LeaveGroupResponse ErrorResponse(RequestContext context, LeaveGroupRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>OffsetCommit.</summary>
internal sealed class OffsetCommitHandler(GroupCoordinator coordinator)
    : GroupApiHandler<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, coordinator, 2, 9)
{
    protected override async ValueTask<OffsetCommitResponse?> HandleAsync(RequestContext context, OffsetCommitRequest request, CancellationToken cancellationToken)
    {
        var error = Check(context, request.GroupId, AclOperation.Read);
        if (error != ErrorCode.None)
        {
            return ErrorResponse(context, request, error);
        }
        // Kafka commits the topics the principal may read and answers TOPIC_AUTHORIZATION_FAILED for the others.
        var denied = request.Topics.Where(t => !context.Authorized(AclOperation.Read, AclResourceType.Topic, t.Name)).ToList();
        if (denied.Count == 0)
        {
            return await Coordinator.OffsetCommitAsync(request, context.ApiVersion, cancellationToken).ConfigureAwait(false);
        }
        var allowed = request.Topics.Except(denied).ToList();
        request.Topics = allowed;
        var response = allowed.Count > 0
            ? await Coordinator.OffsetCommitAsync(request, context.ApiVersion, cancellationToken).ConfigureAwait(false)
            : new OffsetCommitResponse();
        response.Topics.AddRange(ErrorResponse(context, new OffsetCommitRequest { Topics = denied }, ErrorCode.TopicAuthorizationFailed).Topics);
        return response;
    }

    protected override OffsetCommitResponse ErrorResponse(RequestContext context, OffsetCommitRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new OffsetCommitResponse.OffsetCommitResponseTopic
            {
                Name = t.Name,
                Partitions = [.. t.Partitions.Select(p => new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = error.Code() })],
            })],
        };
}

/// <summary>
/// OffsetFetch. From v8 a request names several groups: each is answered by the coordinator
/// when this broker coordinates it, with NOT_COORDINATOR otherwise.
/// </summary>
internal sealed class OffsetFetchHandler(GroupCoordinator coordinator)
    : GroupApiHandler<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, coordinator, 1, 9)
{
    protected override async ValueTask<OffsetFetchResponse?> HandleAsync(RequestContext context, OffsetFetchRequest request, CancellationToken cancellationToken)
    {
        if (context.ApiVersion < 8)
        {
            var error = Check(context, request.GroupId, AclOperation.Describe);
            return error == ErrorCode.None
                ? await Coordinator.OffsetFetchAsync(request, context.ApiVersion, cancellationToken).ConfigureAwait(false)
                : ErrorResponse(context, request, error);
        }
        var mine = request.Groups.Where(g => Check(context, g.GroupId, AclOperation.Describe) == ErrorCode.None).ToList();
        if (mine.Count == request.Groups.Count)
        {
            return await Coordinator.OffsetFetchAsync(request, context.ApiVersion, cancellationToken).ConfigureAwait(false);
        }
        var answered = new Dictionary<string, OffsetFetchResponse.OffsetFetchResponseGroup>(StringComparer.Ordinal);
        if (mine.Count > 0)
        {
            var subset = new OffsetFetchRequest { Groups = mine, RequireStable = request.RequireStable };
            var partial = await Coordinator.OffsetFetchAsync(subset, context.ApiVersion, cancellationToken).ConfigureAwait(false);
            foreach (var group in partial.Groups)
            {
                answered.TryAdd(group.GroupId, group);
            }
        }
        return new OffsetFetchResponse
        {
            Groups = [.. request.Groups.Select(g => answered.TryGetValue(g.GroupId, out var a)
                ? a
                : new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = Check(context, g.GroupId, AclOperation.Describe).Code() })],
        };
    }

    protected override OffsetFetchResponse ErrorResponse(RequestContext context, OffsetFetchRequest request, ErrorCode error)
    {
        if (context.ApiVersion >= 8)
        {
            return new OffsetFetchResponse
            {
                Groups = [.. request.Groups.Select(g => new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = error.Code() })],
            };
        }
        var response = new OffsetFetchResponse { ErrorCode = error.Code() };
        if (context.ApiVersion < 2)
        {
            // v1 has no top-level error: report it on every requested partition.
            response.Topics = [.. (request.Topics ?? []).Select(t => new OffsetFetchResponse.OffsetFetchResponseTopic
            {
                Name = t.Name,
                Partitions = [.. t.PartitionIndexes.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartition
                {
                    PartitionIndex = p,
                    CommittedOffset = -1,
                    Metadata = "",
                    ErrorCode = error.Code(),
                })],
            })];
        }
        return response;
    }
}

/// <summary>OffsetDelete.</summary>
internal sealed class OffsetDeleteHandler(GroupCoordinator coordinator)
    : GroupApiHandler<OffsetDeleteRequest, OffsetDeleteResponse>(ApiKey.OffsetDelete, coordinator, 0, 0)
{
    protected override ValueTask<OffsetDeleteResponse?> HandleAsync(RequestContext context, OffsetDeleteRequest request, CancellationToken cancellationToken) =>
        Check(context, request.GroupId, AclOperation.Delete) is var error && error == ErrorCode.None
            ? Await(Coordinator.OffsetDeleteAsync(request, context.ApiVersion, cancellationToken))
            : ValueTask.FromResult<OffsetDeleteResponse?>(ErrorResponse(context, request, error));

    protected override OffsetDeleteResponse ErrorResponse(RequestContext context, OffsetDeleteRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>DescribeGroups: each group described by its coordinator, NOT_COORDINATOR for the others.</summary>
internal sealed class DescribeGroupsHandler(GroupCoordinator coordinator)
    : GroupApiHandler<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, coordinator, 0, 6)
{
    protected override async ValueTask<DescribeGroupsResponse?> HandleAsync(RequestContext context, DescribeGroupsRequest request, CancellationToken cancellationToken)
    {
        var mine = request.Groups.Where(g => Check(context, g, AclOperation.Describe) == ErrorCode.None).ToList();
        var answered = new Dictionary<string, DescribeGroupsResponse.DescribedGroup>(StringComparer.Ordinal);
        if (mine.Count > 0)
        {
            var subset = new DescribeGroupsRequest { Groups = mine, IncludeAuthorizedOperations = request.IncludeAuthorizedOperations };
            var partial = await Coordinator.DescribeGroupsAsync(subset, context.ApiVersion, cancellationToken).ConfigureAwait(false);
            foreach (var group in partial.Groups)
            {
                answered.TryAdd(group.GroupId, group);
            }
        }
        return new DescribeGroupsResponse
        {
            Groups = [.. request.Groups.Select(g => answered.TryGetValue(g, out var a) ? a : Failed(g, Check(context, g, AclOperation.Describe)))],
        };
    }

    protected override DescribeGroupsResponse ErrorResponse(RequestContext context, DescribeGroupsRequest request, ErrorCode error) =>
        new() { Groups = [.. request.Groups.Select(g => Failed(g, error))] };

    private static DescribeGroupsResponse.DescribedGroup Failed(string groupId, ErrorCode error) =>
        new() { GroupId = groupId, ErrorCode = error.Code(), GroupState = "", ProtocolType = "", ProtocolData = "", AuthorizedOperations = int.MinValue };
}

/// <summary>ListGroups: each broker lists the groups it coordinates, as in Kafka (admin clients ask every broker).</summary>
internal sealed class ListGroupsHandler(GroupCoordinator coordinator)
    : GroupApiHandler<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, coordinator, 0, 5)
{
    protected override async ValueTask<ListGroupsResponse?> HandleAsync(RequestContext context, ListGroupsRequest request, CancellationToken cancellationToken)
    {
        var response = await Coordinator.ListGroupsAsync(request, context.ApiVersion, cancellationToken).ConfigureAwait(false);
        // Kafka lists every group to a principal with DESCRIBE on the cluster, else only the groups it may describe.
        bool everything = context.AuthorizedOnCluster(AclOperation.Describe);
        response.Groups.RemoveAll(g => !Coordinates(context, g.GroupId) || !(everything || context.Authorized(AclOperation.Describe, AclResourceType.Group, g.GroupId)));
        return response;
    }

    protected override ListGroupsResponse ErrorResponse(RequestContext context, ListGroupsRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code() };
}

/// <summary>DeleteGroups: each group deleted by its coordinator, NOT_COORDINATOR for the others.</summary>
internal sealed class DeleteGroupsHandler(GroupCoordinator coordinator)
    : GroupApiHandler<DeleteGroupsRequest, DeleteGroupsResponse>(ApiKey.DeleteGroups, coordinator, 0, 2)
{
    protected override async ValueTask<DeleteGroupsResponse?> HandleAsync(RequestContext context, DeleteGroupsRequest request, CancellationToken cancellationToken)
    {
        var mine = request.GroupsNames.Where(g => Check(context, g, AclOperation.Delete) == ErrorCode.None).ToList();
        var answered = new Dictionary<string, DeleteGroupsResponse.DeletableGroupResult>(StringComparer.Ordinal);
        if (mine.Count > 0)
        {
            var partial = await Coordinator.DeleteGroupsAsync(new DeleteGroupsRequest { GroupsNames = mine }, context.ApiVersion, cancellationToken).ConfigureAwait(false);
            foreach (var result in partial.Results)
            {
                answered.TryAdd(result.GroupId, result);
            }
        }
        return new DeleteGroupsResponse
        {
            Results = [.. request.GroupsNames.Distinct(StringComparer.Ordinal).Select(g => answered.TryGetValue(g, out var a)
                ? a
                : new DeleteGroupsResponse.DeletableGroupResult { GroupId = g, ErrorCode = Check(context, g, AclOperation.Delete).Code() })],
        };
    }

    protected override DeleteGroupsResponse ErrorResponse(RequestContext context, DeleteGroupsRequest request, ErrorCode error) =>
        new() { Results = [.. request.GroupsNames.Distinct(StringComparer.Ordinal).Select(g => new DeleteGroupsResponse.DeletableGroupResult { GroupId = g, ErrorCode = error.Code() })] };
}
