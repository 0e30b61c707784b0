using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Handlers;

/// <summary>ApiVersions: lists exactly the APIs that have a registered handler, with their version ranges.</summary>
internal sealed class ApiVersionsHandler(ApiHandlerRegistry registry) : ApiHandler<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions)
{
    public static List<ApiVersionsResponse.ApiVersion> ListApis(ApiHandlerRegistry registry) =>
        [.. registry.All.Select(h => new ApiVersionsResponse.ApiVersion { ApiKey = (short)h.ApiKey, MinVersion = h.MinVersion, MaxVersion = h.MaxVersion })];

    protected override ValueTask<ApiVersionsResponse?> HandleAsync(RequestContext context, ApiVersionsRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ApiVersionsResponse?>(new ApiVersionsResponse { ApiKeys = ListApis(registry) });

    protected override ApiVersionsResponse ErrorResponse(RequestContext context, ApiVersionsRequest request, ErrorCode error) =>
        new() { ErrorCode = error.Code(), ApiKeys = ListApis(registry) };
}
