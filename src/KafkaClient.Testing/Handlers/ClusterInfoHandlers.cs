using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// FindCoordinator for groups and transactions: a deterministic broker per key
/// (<see cref="State.ClusterState.CoordinatorFor"/>), single key before v4, batched from v4.
/// </summary>
internal sealed class FindCoordinatorHandler() : ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator)
{
    private const sbyte GroupKey = 0;
    private const sbyte TransactionKey = 1;

    protected override ValueTask<FindCoordinatorResponse?> HandleAsync(RequestContext context, FindCoordinatorRequest request, CancellationToken cancellationToken)
    {
        var response = new FindCoordinatorResponse();
        if (context.ApiVersion < 4)
        {
            var (error, node, host, port, message) = Find(context, request.KeyType, request.Key);
            response.ErrorCode = error.Code();
            response.ErrorMessage = context.ApiVersion >= 1 ? message : null;
            response.NodeId = node;
            response.Host = host;
            response.Port = port;
        }
        else
        {
            foreach (string key in request.CoordinatorKeys)
            {
                var (error, node, host, port, message) = Find(context, request.KeyType, key);
                response.Coordinators.Add(new FindCoordinatorResponse.Coordinator
                {
                    Key = key,
                    ErrorCode = error.Code(),
                    ErrorMessage = message,
                    NodeId = node,
                    Host = host,
                    Port = port,
                });
            }
        }
        return ValueTask.FromResult<FindCoordinatorResponse?>(response);
    }

    protected override FindCoordinatorResponse ErrorResponse(RequestContext context, FindCoordinatorRequest request, ErrorCode error)
    {
        var response = new FindCoordinatorResponse();
        if (context.ApiVersion < 4)
        {
            response.ErrorCode = error.Code();
            response.NodeId = -1;
            response.Port = -1;
        }
        else
        {
            foreach (string key in request.CoordinatorKeys)
            {
                response.Coordinators.Add(new FindCoordinatorResponse.Coordinator { Key = key, ErrorCode = error.Code(), NodeId = -1, Port = -1 });
            }
        }
        return response;
    }

    private static (ErrorCode Error, int Node, string Host, int Port, string? Message) Find(RequestContext context, sbyte keyType, string key)
    {
        if (keyType is not (GroupKey or TransactionKey))
        {
            return (ErrorCode.InvalidRequest, -1, "", -1, $"Unknown coordinator key type {keyType}.");
        }
        var (resource, denied) = keyType == GroupKey
            ? (AclResourceType.Group, ErrorCode.GroupAuthorizationFailed)
            : (AclResourceType.TransactionalId, ErrorCode.TransactionalIdAuthorizationFailed);
        if (!context.Authorized(AclOperation.Describe, resource, key))
        {
            return (denied, -1, "", -1, "Authorization failed.");
        }
        int node = context.Cluster.CoordinatorFor(key);
        if (node < 0)
        {
            return (ErrorCode.CoordinatorNotAvailable, -1, "", -1, "No broker is running.");
        }
        var (host, port) = context.Cluster.Endpoint(node);
        return (ErrorCode.None, node, host, port, null);
    }
}

/// <summary>DescribeCluster: running brokers, controller and cluster id.</summary>
internal sealed class DescribeClusterHandler() : ApiHandler<DescribeClusterRequest, DescribeClusterResponse>(ApiKey.DescribeCluster)
{
    private const sbyte BrokerEndpoints = 1;

    protected override ValueTask<DescribeClusterResponse?> HandleAsync(RequestContext context, DescribeClusterRequest request, CancellationToken cancellationToken)
    {
        var cluster = context.Cluster;
        if (context.ApiVersion >= 1 && request.EndpointType != BrokerEndpoints)
        {
            return ValueTask.FromResult<DescribeClusterResponse?>(ErrorResponse(context, request, ErrorCode.UnsupportedEndpointType));
        }
        var response = new DescribeClusterResponse
        {
            ClusterId = cluster.ClusterId,
            ControllerId = cluster.ControllerId,
            EndpointType = BrokerEndpoints,
        };
        if (request.IncludeClusterAuthorizedOperations)
        {
            response.ClusterAuthorizedOperations = MetadataHandler.AuthorizedOperations(context, AclResourceType.Cluster, AclBinding.ClusterName, MetadataHandler.ClusterOperations);
        }
        foreach (int id in cluster.RunningBrokers())
        {
            var (host, port) = cluster.Endpoint(id);
            response.Brokers.Add(new DescribeClusterResponse.DescribeClusterBroker { BrokerId = id, Host = host, Port = port });
        }
        return ValueTask.FromResult<DescribeClusterResponse?>(response);
    }

    protected override DescribeClusterResponse ErrorResponse(RequestContext context, DescribeClusterRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), ClusterId = context.Cluster.ClusterId, ControllerId = -1, EndpointType = BrokerEndpoints };
}
