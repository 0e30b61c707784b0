using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Cluster;

/// <summary>Why a connection is opened; each purpose gets its own connection per broker so that
/// a long-polling fetch or a slow group join never delays a produce.</summary>
public enum ConnectionPurpose
{
    /// <summary>Metadata, admin and any request sent through the raw API.</summary>
    General = 0,

    /// <summary>Produce requests.</summary>
    Produce = 1,

    /// <summary>Fetch requests (long polls).</summary>
    Fetch = 2,

    /// <summary>Group and transaction coordinator traffic.</summary>
    Coordinator = 3,
}

/// <summary>
/// The cluster layer, and the raw entry point for advanced users: it bootstraps, keeps a metadata
/// cache, pools one connection per broker and purpose, and sends any generated protocol request
/// (<see cref="KafkaClient.Protocol.Messages"/>) to any broker at the highest version both sides
/// support. The producer, consumer and admin client are built on it; anything the spec defines
/// can be called through it before a high-level method wraps it.
/// </summary>
/// <example>
/// <code>
/// await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = "localhost:9092" });
/// var groups = await client.SendAsync(new ListGroupsRequest());
/// </code>
/// </example>
public sealed class KafkaProtocolClient : IAsyncDisposable
{
    private readonly KafkaClientOptions _options;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<BrokerEndpoint> _bootstrap;
    private readonly Dictionary<(int NodeId, ConnectionPurpose Purpose), Task<KafkaConnection>> _connections = [];
    private readonly Dictionary<int, ApiVersionTable> _versions = [];
    private readonly SemaphoreSlim _metadataLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private readonly RetryPolicy _retry;
    private ClusterMetadata _metadata = ClusterMetadata.Empty;
    private int _roundRobin;
    private int _nextBootstrapId = -1;
    private bool _disposed;

    private KafkaProtocolClient(KafkaClientOptions options)
    {
        options.Validate();
        _options = options;
        _logger = options.LoggerFactory.CreateLogger("KafkaClient.Cluster");
        _bootstrap = BrokerEndpoint.ParseList(options.BootstrapServers);
        _retry = new RetryPolicy(options, _logger);
    }

    /// <summary>The options this client was built with.</summary>
    public KafkaClientOptions Options => _options;

    /// <summary>The latest metadata snapshot.</summary>
    public ClusterMetadata Metadata => Volatile.Read(ref _metadata);

    /// <summary>
    /// Creates a client and bootstraps it: connects to a bootstrap broker, negotiates versions and
    /// fetches the cluster's brokers. Fails with <see cref="KafkaConnectionException"/> when no
    /// bootstrap broker answers within <see cref="KafkaClientOptions.ConnectTimeout"/>.
    /// </summary>
    public static async Task<KafkaProtocolClient> ConnectAsync(KafkaClientOptions options, CancellationToken cancellationToken = default)
    {
        var client = new KafkaProtocolClient(options);
        try
        {
            await client.RefreshMetadataAsync(topics: [], cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends <paramref name="request"/> to any live broker (spreading load) and returns its response.</summary>
    public Task<TResponse> SendAsync<TResponse>(IKafkaRequest<TResponse> request, CancellationToken cancellationToken = default)
        where TResponse : IKafkaResponse<TResponse>
        => SendAsync(request, AnyBrokerId(), ConnectionPurpose.General, cancellationToken);

    /// <summary>Sends <paramref name="request"/> to broker <paramref name="nodeId"/> on the connection for <paramref name="purpose"/>.</summary>
    public Task<TResponse> SendAsync<TResponse>(IKafkaRequest<TResponse> request, int nodeId, ConnectionPurpose purpose = ConnectionPurpose.General, CancellationToken cancellationToken = default)
        where TResponse : IKafkaResponse<TResponse>
        => SendAsync(request, nodeId, purpose, maxVersion: short.MaxValue, cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> to broker <paramref name="nodeId"/> at the highest version
    /// both sides support, but no higher than <paramref name="maxVersion"/> (for APIs whose newer
    /// versions are meant for brokers only, such as AddPartitionsToTxn v4+).
    /// </summary>
    public async Task<TResponse> SendAsync<TResponse>(IKafkaRequest<TResponse> request, int nodeId, ConnectionPurpose purpose, short maxVersion, CancellationToken cancellationToken = default)
        where TResponse : IKafkaResponse<TResponse>
    {
        var connection = await GetConnectionAsync(nodeId, purpose, cancellationToken).ConfigureAwait(false);
        try
        {
            short version = Math.Min(connection.Versions.Select(request), maxVersion);
            return await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
        {
            Forget(nodeId, purpose, connection);
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> to broker <paramref name="nodeId"/>, allowing
    /// <paramref name="extraTimeout"/> beyond <c>RequestTimeout</c> for requests the broker holds on
    /// purpose (Fetch with MaxWait, JoinGroup up to the rebalance timeout), at the highest version both
    /// sides support but no higher than <paramref name="maxVersion"/>.
    /// </summary>
    internal async Task<TResponse> SendAsync<TResponse>(IKafkaRequest<TResponse> request, int nodeId, ConnectionPurpose purpose, short maxVersion, TimeSpan extraTimeout, CancellationToken cancellationToken)
        where TResponse : IKafkaResponse<TResponse>
    {
        var connection = await GetConnectionAsync(nodeId, purpose, cancellationToken).ConfigureAwait(false);
        try
        {
            short version = Math.Min(connection.Versions.Select(request), maxVersion);
            return await connection.SendAsync(request, version, extraTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
        {
            Forget(nodeId, purpose, connection);
            throw;
        }
    }

    /// <summary>
    /// Like <see cref="SendAsync{TResponse}(IKafkaRequest{TResponse}, int, ConnectionPurpose, short, TimeSpan, CancellationToken)"/>,
    /// with the response decoded from a pooled frame that the caller must release (see <see cref="ResponseFrame"/>).
    /// </summary>
    internal async Task<(TResponse Response, ResponseFrame Frame)> SendPooledAsync<TResponse>(IKafkaRequest<TResponse> request, int nodeId, ConnectionPurpose purpose, short maxVersion, TimeSpan extraTimeout, CancellationToken cancellationToken)
        where TResponse : IKafkaResponse<TResponse>
    {
        var connection = await GetConnectionAsync(nodeId, purpose, cancellationToken).ConfigureAwait(false);
        try
        {
            short version = Math.Min(connection.Versions.Select(request), maxVersion);
            return await connection.SendPooledAsync(request, version, extraTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
        {
            Forget(nodeId, purpose, connection);
            throw;
        }
    }

    /// <summary>
    /// Sends a request the broker does not answer (Produce with acks=0) to <paramref name="nodeId"/>,
    /// at the highest version both sides support. Completes once the bytes are flushed.
    /// </summary>
    public async Task SendWithoutResponseAsync(IKafkaRequest request, int nodeId, ConnectionPurpose purpose = ConnectionPurpose.Produce, CancellationToken cancellationToken = default)
    {
        var connection = await GetConnectionAsync(nodeId, purpose, cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.SendWithoutResponseAsync(request, connection.Versions.Select(request), cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
        {
            Forget(nodeId, purpose, connection);
            throw;
        }
    }

    /// <summary>
    /// Finds the coordinator of a consumer group (<paramref name="keyType"/> 0) or a transactional
    /// id (1), retrying while the coordinator is loading or moving, bounded by <paramref name="timeout"/>.
    /// </summary>
    /// <returns>The coordinator's node id.</returns>
    public Task<int> FindCoordinatorAsync(sbyte keyType, string key, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        RetryAsync(async ct =>
        {
            int nodeId = AnyBrokerId();
            var versions = await GetApiVersionsAsync(nodeId, ct).ConfigureAwait(false);
            var request = new FindCoordinatorRequest { KeyType = keyType };
            if (versions.TrySelect(request, out short version) && version >= 4)
            {
                request.CoordinatorKeys = [key];
            }
            else
            {
                request.Key = key;
            }
            var response = await SendAsync(request, nodeId, ConnectionPurpose.General, ct).ConfigureAwait(false);
            var (error, message, coordinator) = response.Coordinators.Count > 0
                ? ((ErrorCode)response.Coordinators[0].ErrorCode, response.Coordinators[0].ErrorMessage, response.Coordinators[0])
                : ((ErrorCode)response.ErrorCode, response.ErrorMessage, null);
            if (error != ErrorCode.None)
            {
                throw KafkaException.FromErrorCode(error, $"FindCoordinator for {(keyType == 0 ? "group" : "transactional id")} '{key}' failed{(message is null ? "" : ": " + message)}.");
            }
            int coordinatorId = coordinator?.NodeId ?? response.NodeId;
            if (Metadata.Broker(coordinatorId) is null)
            {
                await RefreshMetadataAsync([], ct).ConfigureAwait(false);
            }
            return coordinatorId;
        }, timeout, cancellationToken);

    /// <summary>The API versions negotiated with broker <paramref name="nodeId"/> (connecting if needed).</summary>
    public async Task<ApiVersionTable> GetApiVersionsAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        lock (_versions)
        {
            if (_versions.TryGetValue(nodeId, out var known))
            {
                return known;
            }
        }
        var connection = await GetConnectionAsync(nodeId, ConnectionPurpose.General, cancellationToken).ConfigureAwait(false);
        return connection.Versions;
    }

    /// <summary>
    /// Runs <paramref name="operation"/> with retries on retriable failures (exponential backoff
    /// with jitter), refreshing metadata after errors that mean it is stale, until it succeeds, fails
    /// with a non-retriable error, or <paramref name="timeout"/> passes.
    /// </summary>
    public async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> operation, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        return await _retry.ExecuteAsync(operation, timeout, TryRefreshMetadataAsync, linked.Token).ConfigureAwait(false);
    }

    private async Task TryRefreshMetadataAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshMetadataAsync(topics: Metadata.Topics.Keys.ToList(), cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaException)
        {
        }
    }

    /// <summary>
    /// Fetches fresh metadata for <paramref name="topics"/> (null: every topic; empty: brokers only)
    /// and merges it into <see cref="Metadata"/>. Tries every known broker, then the bootstrap list
    /// again (rebootstrap) when none answers.
    /// </summary>
    public async Task<ClusterMetadata> RefreshMetadataAsync(IReadOnlyCollection<string>? topics = null, CancellationToken cancellationToken = default, bool allowAutoTopicCreation = false)
    {
        var request = new MetadataRequest
        {
            Topics = topics?.Select(t => new MetadataRequest.MetadataRequestTopic { Name = t }).ToList(),
            AllowAutoTopicCreation = allowAutoTopicCreation,
        };
        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Exception? last = null;
            var candidates = Metadata.Brokers.Select(b => b.NodeId).OrderBy(_ => Random.Shared.Next()).ToList();
            foreach (int nodeId in candidates)
            {
                try
                {
                    return Apply(await SendAsync(request, nodeId, ConnectionPurpose.General, cancellationToken).ConfigureAwait(false), nodeId, topics is null);
                }
                catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
                {
                    last = ex;
                }
            }
            if (candidates.Count > 0)
            {
                Log.Rebootstrapping(_logger, _options.BootstrapServers);
            }
            foreach (var endpoint in _bootstrap)
            {
                int bootstrapId = Interlocked.Decrement(ref _nextBootstrapId);
                try
                {
                    var connection = await KafkaConnection.ConnectAsync(endpoint, _options, cancellationToken).ConfigureAwait(false);
                    await using (connection.ConfigureAwait(false))
                    {
                        var response = await connection.SendAsync(request, cancellationToken).ConfigureAwait(false);
                        return Apply(response, bootstrapId, topics is null);
                    }
                }
                catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
                {
                    last = ex;
                }
            }
            throw new KafkaConnectionException(_options.BootstrapServers,
                $"No broker answered a metadata request (tried {candidates.Count} known brokers and bootstrap servers {_options.BootstrapServers}).", outcomeUnknown: false, last);
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    private ClusterMetadata Apply(MetadataResponse response, int fromNodeId, bool replaceTopics)
    {
        var fresh = ClusterMetadata.FromResponse(response, _options.TimeProvider.GetUtcNow());
        var merged = replaceTopics ? fresh : Metadata.MergeTopics(fresh);
        Volatile.Write(ref _metadata, merged);
        Log.MetadataRefreshed(_logger, fromNodeId, merged.Brokers.Count, fresh.Topics.Count, merged.ControllerId);
        return merged;
    }

    private int AnyBrokerId()
    {
        var brokers = Metadata.Brokers;
        if (brokers.Count == 0)
        {
            throw new KafkaConnectionException(_options.BootstrapServers, "No broker is known yet; the client has not bootstrapped.");
        }
        int index = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)brokers.Count);
        return brokers[index].NodeId;
    }

    /// <summary>True when a connection to <paramref name="nodeId"/> for <paramref name="purpose"/> is open now (no connect pending).</summary>
    internal bool HasLiveConnection(int nodeId, ConnectionPurpose purpose)
    {
        lock (_connections)
        {
            return _connections.TryGetValue((nodeId, purpose), out var task) && task.IsCompletedSuccessfully && task.Result.IsAlive;
        }
    }

    private Task<KafkaConnection> GetConnectionAsync(int nodeId, ConnectionPurpose purpose, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Task<KafkaConnection>? task;
        lock (_connections)
        {
            if (_connections.TryGetValue((nodeId, purpose), out task)
                && !(task.IsCompletedSuccessfully && !task.Result.IsAlive) && !task.IsFaulted && !task.IsCanceled)
            {
                return task;
            }
            var broker = Metadata.Broker(nodeId)
                ?? throw new KafkaConnectionException(nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"Broker {nodeId} is not in the cluster metadata.");
            task = ConnectAndRecordAsync(broker.Endpoint);
            _connections[(nodeId, purpose)] = task;
        }
        return task.WaitAsync(cancellationToken);
    }

    private async Task<KafkaConnection> ConnectAndRecordAsync(BrokerEndpoint endpoint)
    {
        var connection = await KafkaConnection.ConnectAsync(endpoint, _options, _disposing.Token).ConfigureAwait(false);
        lock (_versions)
        {
            _versions[endpoint.NodeId] = connection.Versions;
        }
        return connection;
    }

    private void Forget(int nodeId, ConnectionPurpose purpose, KafkaConnection connection)
    {
        lock (_connections)
        {
            if (_connections.TryGetValue((nodeId, purpose), out var task) && task.IsCompletedSuccessfully && ReferenceEquals(task.Result, connection))
            {
                _connections.Remove((nodeId, purpose));
            }
        }
        _ = connection.DisposeAsync().AsTask();
    }

    /// <summary>Closes every connection. Bounded: never waits on a broker.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _disposing.CancelAsync().ConfigureAwait(false);
        List<Task<KafkaConnection>> tasks;
        lock (_connections)
        {
            tasks = [.. _connections.Values];
            _connections.Clear();
        }
        foreach (var task in tasks)
        {
            if (task.IsCompletedSuccessfully)
            {
                await task.Result.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                _ = task.ContinueWith(static t => t.Result.DisposeAsync(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }
        _disposing.Dispose();
    }
}
