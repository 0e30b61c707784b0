using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// CreateTopics: partitions and replication factor (or -1 for the defaults), explicit replica
/// assignments, configs, validate-only; duplicate names in one request are INVALID_REQUEST.
/// Any broker accepts it (KRaft brokers forward to the controller).
/// </summary>
internal sealed class CreateTopicsHandler(Action<TopicState> topicCreated) : ApiHandler<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics)
{
    /// <summary>ConfigSource TOPIC_CONFIG (DescribeConfigs numbering).</summary>
    private const sbyte TopicConfigSource = 1;

    protected override ValueTask<CreateTopicsResponse?> HandleAsync(RequestContext context, CreateTopicsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreateTopicsResponse();
        var duplicates = request.Topics.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var wanted in request.Topics)
        {
            var result = new CreateTopicsResponse.CreatableTopicResult { Name = wanted.Name };
            response.Topics.Add(result);
            if (duplicates.Contains(wanted.Name))
            {
                Fail(context, result, new TopicError(ErrorCode.InvalidRequest, $"Topic '{wanted.Name}' appears more than once in the request."));
                continue;
            }
            if (!context.AuthorizedOnCluster(AclOperation.Create) && !context.Authorized(AclOperation.Create, AclResourceType.Topic, wanted.Name))
            {
                Fail(context, result, new TopicError(ErrorCode.TopicAuthorizationFailed, "Authorization failed."));
                continue;
            }
            var assignments = wanted.Assignments.Count == 0
                ? null
                : wanted.Assignments.OrderBy(a => a.PartitionIndex).Select(a => a.BrokerIds.ToArray()).ToList();
            if (assignments is not null && wanted.Assignments.Select(a => a.PartitionIndex).Order().Where((p, i) => p != i).Any())
            {
                Fail(context, result, new TopicError(ErrorCode.InvalidReplicaAssignment, "Partitions in the assignment must be numbered consecutively from 0."));
                continue;
            }
            var configs = wanted.Configs.ToDictionary(c => c.Name, c => c.Value, StringComparer.Ordinal);
            var error = context.Cluster.CreateTopic(wanted.Name, wanted.NumPartitions, wanted.ReplicationFactor, assignments, configs, request.ValidateOnly, out var created);
            if (error is { } e)
            {
                Fail(context, result, e);
                continue;
            }
            if (created is not null)
            {
                topicCreated(created);
            }
            if (context.ApiVersion >= 5)
            {
                result.NumPartitions = created?.Partitions.Length ?? (assignments?.Count ?? (wanted.NumPartitions == -1 ? context.Cluster.Options.DefaultPartitions : wanted.NumPartitions));
                result.ReplicationFactor = created?.ReplicationFactor ?? (short)(assignments?[0].Length ?? (wanted.ReplicationFactor == -1 ? context.Cluster.Options.DefaultReplicationFactor : wanted.ReplicationFactor));
                result.Configs = [.. configs.Select(c => new CreateTopicsResponse.CreatableTopicConfigs { Name = c.Key, Value = c.Value, ConfigSource = TopicConfigSource })];
            }
            if (context.ApiVersion >= 7 && created is not null)
            {
                result.TopicId = created.Id;
            }
        }
        return ValueTask.FromResult<CreateTopicsResponse?>(response);
    }

    protected override CreateTopicsResponse ErrorResponse(RequestContext context, CreateTopicsRequest request, ErrorCode error)
    {
        var response = new CreateTopicsResponse();
        foreach (var wanted in request.Topics)
        {
            var result = new CreateTopicsResponse.CreatableTopicResult { Name = wanted.Name };
            Fail(context, result, new TopicError(error, error.ToString()));
            response.Topics.Add(result);
        }
        return response;
    }

    private static void Fail(RequestContext context, CreateTopicsResponse.CreatableTopicResult result, TopicError error)
    {
        result.ErrorCode = error.Error.Code();
        result.ErrorMessage = context.ApiVersion >= 1 ? error.Message : null;
        if (context.ApiVersion >= 5)
        {
            result.NumPartitions = -1;
            result.ReplicationFactor = -1;
            result.Configs = null;
        }
    }
}

/// <summary>DeleteTopics by name (before v6) or by name or id (v6+); <paramref name="topicDeleted"/> runs for each deleted topic (the group coordinator drops its offsets).</summary>
internal sealed class DeleteTopicsHandler(Action<string> topicDeleted) : ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey.DeleteTopics)
{
    protected override ValueTask<DeleteTopicsResponse?> HandleAsync(RequestContext context, DeleteTopicsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteTopicsResponse();
        foreach (var (name, id) in Requested(context, request))
        {
            var result = new DeleteTopicsResponse.DeletableTopicResult { Name = name, TopicId = context.ApiVersion >= 6 ? id : Guid.Empty };
            response.Responses.Add(result);
            var topic = name is not null ? context.Cluster.GetTopic(name) : context.Cluster.GetTopic(id);
            if ((topic?.Name ?? name) is { } topicName && !context.Authorized(AclOperation.Delete, AclResourceType.Topic, topicName))
            {
                result.ErrorCode = ErrorCode.TopicAuthorizationFailed.Code();
                result.ErrorMessage = context.ApiVersion >= 5 ? "Authorization failed." : null;
                continue;
            }
            if (topic is null || (name is not null && id != Guid.Empty && topic.Id != id))
            {
                result.ErrorCode = (name is null ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition).Code();
                result.ErrorMessage = context.ApiVersion >= 5 ? "This server does not host this topic." : null;
                continue;
            }
            result.Name = topic.Name;
            if (context.ApiVersion >= 6)
            {
                result.TopicId = topic.Id;
            }
            if (!context.Cluster.DeleteTopic(topic))
            {
                result.ErrorCode = ErrorCode.UnknownTopicOrPartition.Code();
                continue;
            }
            topicDeleted(topic.Name);
        }
        return ValueTask.FromResult<DeleteTopicsResponse?>(response);
    }

    protected override DeleteTopicsResponse ErrorResponse(RequestContext context, DeleteTopicsRequest request, ErrorCode error)
    {
        var response = new DeleteTopicsResponse();
        foreach (var (name, id) in Requested(context, request))
        {
            response.Responses.Add(new DeleteTopicsResponse.DeletableTopicResult
            {
                Name = name,
                TopicId = context.ApiVersion >= 6 ? id : Guid.Empty,
                ErrorCode = error.Code(),
            });
        }
        return response;
    }

    private static IEnumerable<(string? Name, Guid Id)> Requested(RequestContext context, DeleteTopicsRequest request) =>
        context.ApiVersion >= 6
            ? request.Topics.Select(t => (t.Name, t.TopicId))
            : request.TopicNames.Select(n => ((string?)n, Guid.Empty));
}

/// <summary>CreatePartitions: raise a topic's partition count, with optional replica assignments and validate-only.</summary>
internal sealed class CreatePartitionsHandler() : ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse>(ApiKey.CreatePartitions)
{
    protected override ValueTask<CreatePartitionsResponse?> HandleAsync(RequestContext context, CreatePartitionsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreatePartitionsResponse();
        var duplicates = request.Topics.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var wanted in request.Topics)
        {
            var result = new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = wanted.Name };
            response.Results.Add(result);
            TopicError? error = duplicates.Contains(wanted.Name)
                ? new TopicError(ErrorCode.InvalidRequest, $"Topic '{wanted.Name}' appears more than once in the request.")
                : !context.Authorized(AclOperation.Alter, AclResourceType.Topic, wanted.Name)
                ? new TopicError(ErrorCode.TopicAuthorizationFailed, "Authorization failed.")
                : context.Cluster.CreatePartitions(wanted.Name, wanted.Count, wanted.Assignments?.Select(a => a.BrokerIds.ToArray()).ToList(), request.ValidateOnly);
            if (error is { } e)
            {
                result.ErrorCode = e.Error.Code();
                result.ErrorMessage = e.Message;
            }
        }
        return ValueTask.FromResult<CreatePartitionsResponse?>(response);
    }

    protected override CreatePartitionsResponse ErrorResponse(RequestContext context, CreatePartitionsRequest request, ErrorCode error) =>
        new() { Results = [.. request.Topics.Select(t => new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = t.Name, ErrorCode = error.Code() })] };
}
