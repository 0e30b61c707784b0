using System.Globalization;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// ElectLeaders: preferred (leadership back to the first replica) or unclean (a running replica
/// for a leaderless partition); all partitions when none are named, leaving out those that needed
/// no election (as Kafka). Any broker accepts it (KRaft brokers forward to the controller).
/// </summary>
internal sealed class ElectLeadersHandler() : ApiHandler<ElectLeadersRequest, ElectLeadersResponse>(ApiKey.ElectLeaders)
{
    private const sbyte Preferred = 0;
    private const sbyte Unclean = 1;

    protected override ValueTask<ElectLeadersResponse?> HandleAsync(RequestContext context, ElectLeadersRequest request, CancellationToken cancellationToken)
    {
        if (!context.AuthorizedOnCluster(AclOperation.Alter))
        {
            return ValueTask.FromResult<ElectLeadersResponse?>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed));
        }
        var response = new ElectLeadersResponse();
        sbyte type = context.ApiVersion >= 1 ? request.ElectionType : Preferred;
        if (type is not (Preferred or Unclean))
        {
            return ValueTask.FromResult<ElectLeadersResponse?>(ErrorResponse(context, request, ErrorCode.InvalidRequest));
        }
        bool all = request.TopicPartitions is null;
        var wanted = all
            ? context.Cluster.Topics().Select(t => (t.Name, (IEnumerable<int>)[.. t.Partitions.Select(p => p.Index)]))
            : request.TopicPartitions!.GroupBy(t => t.Topic, StringComparer.Ordinal).Select(g => (g.Key, g.SelectMany(t => t.Partitions).Distinct()));
        foreach (var (topicName, partitions) in wanted)
        {
            var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = topicName };
            var topic = context.Cluster.GetTopic(topicName);
            foreach (int index in partitions)
            {
                var error = topic?.Partition(index) is { } partition
                    ? context.Cluster.ElectLeader(partition, type == Preferred)
                    : ErrorCode.UnknownTopicOrPartition;
                if (all && error == ErrorCode.ElectionNotNeeded)
                {
                    continue;
                }
                result.PartitionResult.Add(new ElectLeadersResponse.PartitionResult
                {
                    PartitionId = index,
                    ErrorCode = error.Code(),
                    ErrorMessage = error == ErrorCode.None ? null : Message(error, topicName, index),
                });
            }
            if (result.PartitionResult.Count > 0)
            {
                response.ReplicaElectionResults.Add(result);
            }
        }
        return ValueTask.FromResult<ElectLeadersResponse?>(response);
    }

    protected override ElectLeadersResponse ErrorResponse(RequestContext context, ElectLeadersRequest request, ErrorCode error)
    {
        var response = new ElectLeadersResponse { ErrorCode = context.ApiVersion >= 1 ? error.Code() : (short)0 };
        foreach (var topic in request.TopicPartitions ?? [])
        {
            response.ReplicaElectionResults.Add(new ElectLeadersResponse.ReplicaElectionResult
            {
                Topic = topic.Topic,
                PartitionResult = [.. topic.Partitions.Select(p => new ElectLeadersResponse.PartitionResult { PartitionId = p, ErrorCode = error.Code(), ErrorMessage = error.ToString() })],
            });
        }
        return response;
    }

    private static string Message(ErrorCode error, string topic, int partition) => error switch
    {
        ErrorCode.ElectionNotNeeded => $"Leader election not needed for topic partition {topic}-{partition}.",
        ErrorCode.PreferredLeaderNotAvailable => $"Failed to elect leader for partition {topic}-{partition}: the preferred replica is not running.",
        ErrorCode.EligibleLeadersNotAvailable => $"Failed to elect leader for partition {topic}-{partition}: no replica is running.",
        _ => "The partition does not exist.",
    };
}

/// <summary>
/// DescribeLogDirs: the receiving broker's one log dir with every partition it replicates (or
/// those asked for), sized by the stored batches; offset lag 0.
/// </summary>
internal sealed class DescribeLogDirsHandler() : ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>(ApiKey.DescribeLogDirs)
{
    /// <summary>The log dir path reported for <paramref name="brokerId"/>.</summary>
    public static string LogDir(int brokerId) => "/var/lib/embedded-kafka/broker-" + brokerId.ToString(CultureInfo.InvariantCulture);

    protected override ValueTask<DescribeLogDirsResponse?> HandleAsync(RequestContext context, DescribeLogDirsRequest request, CancellationToken cancellationToken)
    {
        if (!context.AuthorizedOnCluster(AclOperation.Describe))
        {
            // Kafka: CLUSTER_AUTHORIZATION_FAILED at the top (v3+), an empty answer before.
            return ValueTask.FromResult<DescribeLogDirsResponse?>(new DescribeLogDirsResponse
            {
                ErrorCode = context.ApiVersion >= 3 ? ErrorCode.ClusterAuthorizationFailed.Code() : (short)0,
            });
        }
        var wanted = request.Topics?
            .GroupBy(t => t.Topic, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.SelectMany(t => t.Partitions).ToHashSet(), StringComparer.Ordinal);
        var dir = new DescribeLogDirsResponse.DescribeLogDirsResult { LogDir = LogDir(context.BrokerId) };
        foreach (var topic in context.Cluster.Topics())
        {
            HashSet<int>? partitions = null;
            if (wanted is not null && !wanted.TryGetValue(topic.Name, out partitions))
            {
                continue;
            }
            var hosted = topic.Partitions
                .Where(p => (partitions is null || partitions.Contains(p.Index)) && p.Leadership.Replicas.Contains(context.BrokerId))
                .Select(p => new DescribeLogDirsResponse.DescribeLogDirsPartition { PartitionIndex = p.Index, PartitionSize = p.Log.SizeInBytes })
                .ToList();
            if (hosted.Count > 0)
            {
                dir.Topics.Add(new DescribeLogDirsResponse.DescribeLogDirsTopic { Name = topic.Name, Partitions = hosted });
            }
        }
        var response = new DescribeLogDirsResponse();
        response.Results.Add(dir);
        return ValueTask.FromResult<DescribeLogDirsResponse?>(response);
    }

    protected override DescribeLogDirsResponse ErrorResponse(RequestContext context, DescribeLogDirsRequest request, ErrorCode error)
    {
        var response = new DescribeLogDirsResponse { ErrorCode = context.ApiVersion >= 3 ? error.Code() : (short)0 };
        response.Results.Add(new DescribeLogDirsResponse.DescribeLogDirsResult { LogDir = LogDir(context.BrokerId), ErrorCode = error.Code() });
        return response;
    }
}
