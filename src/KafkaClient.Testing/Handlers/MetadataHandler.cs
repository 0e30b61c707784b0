using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Metadata: running brokers, controller, cluster id, and topics by name or id (v10+), creating
/// unknown topics when both the request and the cluster allow it.
/// </summary>
internal sealed class MetadataHandler(Action<TopicState> topicCreated) : ApiHandler<MetadataRequest, MetadataResponse>(ApiKey.Metadata)
{
    /// <summary>The operations a topic supports: READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.</summary>
    private static readonly AclOperation[] TopicOperations =
        [AclOperation.Read, AclOperation.Write, AclOperation.Create, AclOperation.Delete, AclOperation.Alter, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs];

    /// <summary>The operations the cluster supports: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS.</summary>
    internal static readonly AclOperation[] ClusterOperations =
        [AclOperation.Create, AclOperation.Alter, AclOperation.Describe, AclOperation.ClusterAction, AclOperation.DescribeConfigs,
         AclOperation.AlterConfigs, AclOperation.IdempotentWrite, AclOperation.CreateTokens, AclOperation.DescribeTokens];

    /// <summary>The bit set of <paramref name="operations"/> the principal may perform on the resource (Kafka's authorized operations).</summary>
    internal static int AuthorizedOperations(RequestContext context, AclResourceType type, string name, AclOperation[] operations)
    {
        int bits = 0;
        foreach (var operation in operations)
        {
            if (context.Authorized(operation, type, name))
            {
                bits |= 1 << (int)operation;
            }
        }
        return bits;
    }

    protected override ValueTask<MetadataResponse?> HandleAsync(RequestContext context, MetadataRequest request, CancellationToken cancellationToken)
    {
        var cluster = context.Cluster;
        short version = context.ApiVersion;
        var response = NewResponse(context);
        if (request.IncludeClusterAuthorizedOperations && version is >= 8 and <= 10)
        {
            response.ClusterAuthorizedOperations = AuthorizedOperations(context, AclResourceType.Cluster, AclBinding.ClusterName, ClusterOperations);
        }
        bool allowCreate = cluster.Options.AutoCreateTopics && request.AllowAutoTopicCreation;
        if (request.Topics is null)
        {
            foreach (var topic in cluster.Topics())
            {
                if (!context.Authorized(AclOperation.Describe, AclResourceType.Topic, topic.Name))
                {
                    // Kafka leaves topics the principal may not describe out of an all-topics answer.
                    continue;
                }
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
                    if (topic is not null && !context.Authorized(AclOperation.Describe, AclResourceType.Topic, topic.Name))
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                        {
                            ErrorCode = ErrorCode.TopicAuthorizationFailed.Code(),
                            Name = null,
                            TopicId = wanted.TopicId,
                        });
                        continue;
                    }
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
                    if (!context.Authorized(AclOperation.Describe, AclResourceType.Topic, wanted.Name))
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                        {
                            ErrorCode = ErrorCode.TopicAuthorizationFailed.Code(),
                            Name = wanted.Name,
                        });
                        continue;
                    }
                    topic = cluster.GetTopic(wanted.Name);
                    bool mayCreate = context.AuthorizedOnCluster(AclOperation.Create) || context.Authorized(AclOperation.Create, AclResourceType.Topic, wanted.Name);
                    if (topic is null && allowCreate && mayCreate)
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
            result.TopicAuthorizedOperations = AuthorizedOperations(context, AclResourceType.Topic, topic.Name, TopicOperations);
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
