using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Server;

/// <summary>
/// What a broker knows about the request it is handling: who it is, the cluster, the header.
/// One per request.
/// </summary>
internal sealed class RequestContext
{
    public required int BrokerId { get; init; }

    public required ClusterState Cluster { get; init; }

    public required RequestHeader Header { get; init; }

    public required string ConnectionId { get; init; }

    /// <summary>The client's address as the broker sees it (Kafka reports <c>/host</c> in group member metadata).</summary>
    public string ClientHost { get; init; } = "";

    /// <summary>The connection's authentication state and principal.</summary>
    public required ConnectionSession Session { get; init; }

    /// <summary>The authenticated principal, <c>User:name</c>, or <c>User:ANONYMOUS</c>.</summary>
    public string Principal => Session.Principal;

    /// <summary>Whether this request's principal may perform <paramref name="operation"/> on the named resource (always, unless authorization is enabled).</summary>
    public bool Authorized(AclOperation operation, AclResourceType resourceType, string resourceName) =>
        Cluster.Authorizer.Authorize(Session.Principal, Session.ClientAddress, operation, resourceType, resourceName);

    /// <summary>Whether this request's principal may perform <paramref name="operation"/> on the cluster resource.</summary>
    public bool AuthorizedOnCluster(AclOperation operation) =>
        Authorized(operation, AclResourceType.Cluster, AclBinding.ClusterName);

    public short ApiVersion => Header.RequestApiVersion;

    /// <summary>Set by a handler to close the connection after this request (e.g. an acks=0 produce that failed).</summary>
    public bool CloseConnection { get; set; }
}

/// <summary>
/// The broker's side of one API: the versions it serves and how it answers. The dispatch keeps
/// one per <see cref="ApiKey"/> in <see cref="ApiHandlerRegistry"/>; a coordinator plugs in by
/// registering handlers for its APIs. ApiVersions advertises exactly the registered APIs.
/// </summary>
internal interface IApiHandler
{
    /// <summary>The API handled.</summary>
    ApiKey ApiKey { get; }

    /// <summary>The codec's description of the API (version ranges, first flexible version).</summary>
    ApiDescriptor Descriptor { get; }

    /// <summary>Lowest version served.</summary>
    short MinVersion { get; }

    /// <summary>Highest version served.</summary>
    short MaxVersion { get; }

    /// <summary>Handles a request; null means no response is sent (Produce with acks=0).</summary>
    ValueTask<IKafkaResponse?> HandleAsync(RequestContext context, IKafkaRequest request, CancellationToken cancellationToken);

    /// <summary>The response that fails the whole request with <paramref name="error"/> (fault injection, handler failure), with no side effect.</summary>
    IKafkaResponse ErrorResponse(RequestContext context, IKafkaRequest request, ErrorCode error);
}

/// <summary>Typed base for handlers: serves the codec's stable version range unless overridden.</summary>
/// <typeparam name="TRequest">The request type.</typeparam>
/// <typeparam name="TResponse">The response type.</typeparam>
internal abstract class ApiHandler<TRequest, TResponse> : IApiHandler
    where TRequest : class, IKafkaRequest
    where TResponse : class, IKafkaResponse
{
    protected ApiHandler(ApiKey apiKey)
    {
        ApiKey = apiKey;
        Descriptor = KafkaApis.All.First(d => d.Key == apiKey);
        MinVersion = Descriptor.LowestVersion;
        MaxVersion = Descriptor.HighestStableVersion;
    }

    public ApiKey ApiKey { get; }

    public ApiDescriptor Descriptor { get; }

    public virtual short MinVersion { get; }

    public virtual short MaxVersion { get; }

    public ValueTask<IKafkaResponse?> HandleAsync(RequestContext context, IKafkaRequest request, CancellationToken cancellationToken)
    {
        var pending = HandleAsync(context, (TRequest)request, cancellationToken);
        return pending.IsCompletedSuccessfully ? new ValueTask<IKafkaResponse?>(pending.Result) : Await(pending);

        static async ValueTask<IKafkaResponse?> Await(ValueTask<TResponse?> pending) => await pending.ConfigureAwait(false);
    }

    public IKafkaResponse ErrorResponse(RequestContext context, IKafkaRequest request, ErrorCode error) =>
        ErrorResponse(context, (TRequest)request, error);

    protected abstract ValueTask<TResponse?> HandleAsync(RequestContext context, TRequest request, CancellationToken cancellationToken);

    protected abstract TResponse ErrorResponse(RequestContext context, TRequest request, ErrorCode error);
}

/// <summary>The handlers by API key; replaced copy-on-write so lookups take no lock.</summary>
internal sealed class ApiHandlerRegistry
{
    private readonly object _lock = new();
    private volatile IApiHandler?[] _handlers = new IApiHandler?[256];

    /// <summary>Registers <paramref name="handler"/>, replacing any handler of the same API.</summary>
    public void Register(IApiHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        int key = (int)handler.ApiKey;
        if ((uint)key >= 256)
        {
            throw new ArgumentOutOfRangeException(nameof(handler), handler.ApiKey, "API key out of range.");
        }
        lock (_lock)
        {
            var copy = (IApiHandler?[])_handlers.Clone();
            copy[key] = handler;
            _handlers = copy;
        }
    }

    public IApiHandler? Get(short apiKey) => (uint)apiKey < 256 ? _handlers[apiKey] : null;

    /// <summary>Every registered handler, by API key.</summary>
    public IEnumerable<IApiHandler> All => _handlers.Where(h => h is not null)!;
}
