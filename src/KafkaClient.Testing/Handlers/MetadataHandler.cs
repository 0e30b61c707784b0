using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Metadata: running brokers, controller, cluster id, and topics by name or id (v10+), creating
/// unknown topics when both the request and the cluster allow it.
/// </summary>
internal sealed class MetadataHandler(Action<TopicState> topicCreated) : ApiHandler<MetadataRequest, MetadataResponse>(ApiKey.Metadata)
{
    /// <summary>READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: everything is allowed.</summary>
    private const int AllTopicOperations = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

    /// <summary>Cluster operations: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ...</summary>
    private const int AllClusterOperations = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14);

    protected override ValueTask<MetadataResponse?> HandleAsync(RequestContext context, MetadataRequest request, CancellationToken cancellationToken)
    {
        var cluster = context.Cluster;
        short version = context.ApiVersion;
        var response = NewResponse(context);
        if (request.IncludeClusterAuthorizedOperations && version is >= 8 and <= 10)
        {
            response.ClusterAuthorizedOperations = AllClusterOperations;
        }
        bool allowCreate = cluster.Options.AutoCreateTopics && request.AllowAutoTopicCreation;
        if (request.Topics is null)
        {
            foreach (var topic in cluster.Topics())
            {
                response.Topics.Add(Describe(context, topic, request.IncludeTopicAuthorizedOperations));
            }
        }
        else
        {
            foreach (var wanted in request.Topics)
            {
                TopicState? topic;
                if (wanted.Name is null)
                {
                    topic = cluster.GetTopic(wanted.TopicId);
                    if (topic is null)
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                        {
                            ErrorCode = ErrorCode.UnknownTopicId.Code(),
                            Name = null,
                            TopicId = wanted.TopicId,
                        });
                        continue;
                    }
                }
                else
                {
                    topic = cluster.GetTopic(wanted.Name);
                    if (topic is null && allowCreate)
                    {
                        string? invalid = ClusterState.ValidateTopicName(wanted.Name);
                        if (invalid is not null)
                        {
                            response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCode.InvalidTopicException.Code(), Name = wanted.Name });
                            continue;
                        }
                        cluster.CreateTopic(wanted.Name, -1, -1, null, null, validateOnly: false, out var created);
                        if (created is not null)
                        {
                            topicCreated(created);
                        }
                        topic = cluster.GetTopic(wanted.Name);
                    }
                    if (topic is null)
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                        {
                            ErrorCode = ErrorCode.UnknownTopicOrPartition.Code(),
                            Name = wanted.Name,
                        });
                        continue;
                    }
                }
                response.Topics.Add(Describe(context, topic, request.IncludeTopicAuthorizedOperations));
            }
        }
        return ValueTask.FromResult<MetadataResponse?>(response);
    }

    protected override MetadataResponse ErrorResponse(RequestContext context, MetadataRequest request, ErrorCode error)
    {
        var response = NewResponse(context);
        if (request.Topics is null)
        {
            return response;
        }
        foreach (var wanted in request.Topics)
        {
            response.Topics.Add(new MetadataResponse.MetadataResponseTopic
            {
                ErrorCode = error.Code(),
                Name = wanted.Name,
                TopicId = context.ApiVersion >= 10 ? wanted.TopicId : Guid.Empty,
            });
        }
        return response;
    }

    private static MetadataResponse NewResponse(RequestContext context)
    {
        var cluster = context.Cluster;
        var response = new MetadataResponse
        {
            ClusterId = cluster.ClusterId,
            ControllerId = cluster.ControllerId,
        };
        foreach (int id in cluster.RunningBrokers())
        {
            var (host, port) = cluster.Endpoint(id);
            response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = id, Host = host, Port = port });
        }
        return response;
    }

    private static MetadataResponse.MetadataResponseTopic Describe(RequestContext context, TopicState topic, bool includeOperations)
    {
        var cluster = context.Cluster;
        var result = new MetadataResponse.MetadataResponseTopic
        {
            Name = topic.Name,
            TopicId = context.ApiVersion >= 10 ? topic.Id : Guid.Empty,
            IsInternal = false,
        };
        if (includeOperations && context.ApiVersion >= 8)
        {
            result.TopicAuthorizedOperations = AllTopicOperations;
        }
        foreach (var partition in topic.Partitions)
        {
            var leadership = partition.Leadership;
            var running = leadership.Replicas.Where(cluster.IsRunning).ToList();
            result.Partitions.Add(new MetadataResponse.MetadataResponsePartition
            {
                ErrorCode = leadership.LeaderId == -1 ? ErrorCode.LeaderNotAvailable.Code() : ErrorCode.None.Code(),
                PartitionIndex = partition.Index,
                LeaderId = leadership.LeaderId,
                LeaderEpoch = leadership.LeaderEpoch,
                ReplicaNodes = [.. leadership.Replicas],
                IsrNodes = running,
                OfflineReplicas = [.. leadership.Replicas.Where(r => !cluster.IsRunning(r))],
            });
        }
        return result;
    }
}
