using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// CreateAcls v1-3: needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED); each ACL is
/// checked as Kafka does (INVALID_REQUEST with the reason) and added once. SECURITY_DISABLED
/// when authorization is off.
/// </summary>
internal sealed class CreateAclsHandler() : ApiHandler<CreateAclsRequest, CreateAclsResponse>(ApiKey.CreateAcls)
{
    protected override ValueTask<CreateAclsResponse?> HandleAsync(RequestContext context, CreateAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = context.Cluster.Authorizer;
        if (!authorizer.IsEnabled)
        {
            return ValueTask.FromResult<CreateAclsResponse?>(Failed(request, ErrorCode.SecurityDisabled, "No Authorizer is configured."));
        }
        if (!context.AuthorizedOnCluster(AclOperation.Alter))
        {
            return ValueTask.FromResult<CreateAclsResponse?>(Failed(request, ErrorCode.ClusterAuthorizationFailed, null));
        }
        var acls = request.Creations.Select(c => new AclBinding(
            (AclResourceType)c.ResourceType, c.ResourceName, (AclPatternType)c.ResourcePatternType,
            c.Principal, c.Host, (AclOperation)c.Operation, (AclPermission)c.PermissionType)).ToList();
        var results = authorizer.Create(acls);
        return ValueTask.FromResult<CreateAclsResponse?>(new CreateAclsResponse
        {
            Results = [.. results.Select(r => new CreateAclsResponse.AclCreationResult { ErrorCode = r.Error.Code(), ErrorMessage = r.Message })],
        });
    }

    protected override CreateAclsResponse ErrorResponse(RequestContext context, CreateAclsRequest request, ErrorCode error) =>
        Failed(request, error, null);

    private static CreateAclsResponse Failed(CreateAclsRequest request, ErrorCode error, string? message) => new()
    {
        Results = [.. request.Creations.Select(_ => new CreateAclsResponse.AclCreationResult { ErrorCode = error.Code(), ErrorMessage = message })],
    };
}

/// <summary>DescribeAcls v1-3: needs DESCRIBE on the cluster; the ACLs the filter matches, grouped by resource pattern.</summary>
internal sealed class DescribeAclsHandler() : ApiHandler<DescribeAclsRequest, DescribeAclsResponse>(ApiKey.DescribeAcls)
{
    protected override ValueTask<DescribeAclsResponse?> HandleAsync(RequestContext context, DescribeAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = context.Cluster.Authorizer;
        if (!authorizer.IsEnabled)
        {
            return ValueTask.FromResult<DescribeAclsResponse?>(new DescribeAclsResponse { ErrorCode = ErrorCode.SecurityDisabled.Code(), ErrorMessage = "No Authorizer is configured." });
        }
        if (!context.AuthorizedOnCluster(AclOperation.Describe))
        {
            return ValueTask.FromResult<DescribeAclsResponse?>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed));
        }
        var filter = new AclBindingFilter(
            (AclResourceType)request.ResourceTypeFilter, request.ResourceNameFilter, (AclPatternType)request.PatternTypeFilter,
            request.PrincipalFilter, request.HostFilter, (AclOperation)request.Operation, (AclPermission)request.PermissionType);
        if (filter.Validate() is { } invalid)
        {
            return ValueTask.FromResult<DescribeAclsResponse?>(new DescribeAclsResponse { ErrorCode = ErrorCode.InvalidRequest.Code(), ErrorMessage = invalid });
        }
        var response = new DescribeAclsResponse { ErrorMessage = null };
        foreach (var resource in authorizer.Describe(filter).GroupBy(a => (a.ResourceType, a.ResourceName, a.PatternType)))
        {
            response.Resources.Add(new DescribeAclsResponse.DescribeAclsResource
            {
                ResourceType = (sbyte)resource.Key.ResourceType,
                ResourceName = resource.Key.ResourceName,
                PatternType = (sbyte)resource.Key.PatternType,
                Acls = [.. resource.Select(a => new DescribeAclsResponse.AclDescription
                {
                    Principal = a.Principal,
                    Host = a.Host,
                    Operation = (sbyte)a.Operation,
                    PermissionType = (sbyte)a.Permission,
                })],
            });
        }
        return ValueTask.FromResult<DescribeAclsResponse?>(response);
    }

    protected override DescribeAclsResponse ErrorResponse(RequestContext context, DescribeAclsRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), ErrorMessage = null };
}

/// <summary>DeleteAcls v1-3: needs ALTER on the cluster; removes what each filter matches and reports it per filter.</summary>
internal sealed class DeleteAclsHandler() : ApiHandler<DeleteAclsRequest, DeleteAclsResponse>(ApiKey.DeleteAcls)
{
    protected override ValueTask<DeleteAclsResponse?> HandleAsync(RequestContext context, DeleteAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = context.Cluster.Authorizer;
        if (!authorizer.IsEnabled)
        {
            return ValueTask.FromResult<DeleteAclsResponse?>(Failed(request, ErrorCode.SecurityDisabled, "No Authorizer is configured."));
        }
        if (!context.AuthorizedOnCluster(AclOperation.Alter))
        {
            return ValueTask.FromResult<DeleteAclsResponse?>(Failed(request, ErrorCode.ClusterAuthorizationFailed, null));
        }
        var filters = request.Filters.Select(f => new AclBindingFilter(
            (AclResourceType)f.ResourceTypeFilter, f.ResourceNameFilter, (AclPatternType)f.PatternTypeFilter,
            f.PrincipalFilter, f.HostFilter, (AclOperation)f.Operation, (AclPermission)f.PermissionType)).ToList();
        var valid = filters.Where(f => f.Validate() is null).ToList();
        var deleted = authorizer.Delete(valid);
        var response = new DeleteAclsResponse();
        int next = 0;
        foreach (var filter in filters)
        {
            if (filter.Validate() is { } invalid)
            {
                response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = ErrorCode.InvalidRequest.Code(), ErrorMessage = invalid });
                continue;
            }
            response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult
            {
                ErrorMessage = null,
                MatchingAcls = [.. deleted[next++].Select(a => new DeleteAclsResponse.DeleteAclsMatchingAcl
                {
                    ErrorMessage = null,
                    ResourceType = (sbyte)a.ResourceType,
                    ResourceName = a.ResourceName,
                    PatternType = (sbyte)a.PatternType,
                    Principal = a.Principal,
                    Host = a.Host,
                    Operation = (sbyte)a.Operation,
                    PermissionType = (sbyte)a.Permission,
                })],
            });
        }
        return ValueTask.FromResult<DeleteAclsResponse?>(response);
    }

    protected override DeleteAclsResponse ErrorResponse(RequestContext context, DeleteAclsRequest request, ErrorCode error) =>
        Failed(request, error, null);

    private static DeleteAclsResponse Failed(DeleteAclsRequest request, ErrorCode error, string? message) => new()
    {
        FilterResults = [.. request.Filters.Select(_ => new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = error.Code(), ErrorMessage = message })],
    };
}
