using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing;

public sealed partial class EmbeddedKafkaCluster
{
    /// <summary>
    /// Stops a broker: its listener closes (the port refuses connections), its connections are
    /// dropped, it leaves Metadata, and each partition it led moves to another running replica
    /// (or becomes leaderless) with a new leader epoch, as Kafka's controller would do.
    /// </summary>
    /// <param name="nodeId">The broker id.</param>
    /// <param name="cancellationToken">Not used to abandon the stop half-way; checked before it starts.</param>
    public async Task StopBrokerAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var broker = Broker(nodeId);
        _state.SetRunning(nodeId, running: false);
        await broker.Server.StopAsync(Options.ShutdownTimeout).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a stopped broker on its old port. Leaderless partitions it replicates get it back as
    /// leader (new leader epoch); partitions that moved away stay where they are.
    /// </summary>
    /// <param name="nodeId">The broker id.</param>
    /// <param name="cancellationToken">Checked before starting.</param>
    public Task StartBrokerAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var broker = Broker(nodeId);
        broker.Server.Start();
        _state.SetRunning(nodeId, running: true);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Makes <paramref name="nodeId"/> the leader of a partition (it joins the replica set if it was
    /// not in it) and bumps the leader epoch. Requests to the old leader then get
    /// NOT_LEADER_OR_FOLLOWER; clients with the old epoch get FENCED_LEADER_EPOCH.
    /// </summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partition">The partition index.</param>
    /// <param name="nodeId">The new leader, or -1 to leave the partition leaderless.</param>
    /// <exception cref="ArgumentException">No such partition or broker.</exception>
    public void MovePartitionLeader(string topic, int partition, int nodeId)
    {
        var p = _state.GetTopic(topic)?.Partition(partition)
            ?? throw new ArgumentException($"Partition {topic}-{partition} does not exist.", nameof(partition));
        _state.MoveLeader(p, nodeId);
    }

    /// <summary>
    /// Makes the next <paramref name="count"/> requests of <paramref name="apiKey"/> (to any broker,
    /// or only to <paramref name="nodeId"/>) fail with <paramref name="error"/> in every
    /// topic/partition/result of the response, without being applied. Faults queue in order.
    /// </summary>
    /// <param name="apiKey">The API whose requests fail.</param>
    /// <param name="error">The error code to answer with.</param>
    /// <param name="count">How many requests fail. Default 1.</param>
    /// <param name="nodeId">Only requests to this broker; null (default) for any.</param>
    /// <param name="delay">
    /// How long each failing request is held before it is answered (default none). The broker
    /// handles a connection's requests in order, so the requests a client pipelines behind it wait
    /// on the wire meanwhile.
    /// </param>
    public void InjectErrors(ApiKey apiKey, ErrorCode error, int count = 1, int? nodeId = null, TimeSpan delay = default) =>
        _state.Faults.Add(apiKey, nodeId, new Fault(error, CloseConnection: false, delay), count);

    /// <summary>
    /// Raised on the broker's connection loop after each request was handled (or failed by an
    /// injected fault), before its response is written: what the client sent (header included)
    /// and what it is told. Keep handlers short; an exception in one is logged and ignored.
    /// </summary>
    public event EventHandler<EmbeddedRequestEventArgs>? RequestHandled;

    private void OnRequestHandled(EmbeddedRequestEventArgs request) => RequestHandled?.Invoke(this, request);

    /// <summary>
    /// Makes the next <paramref name="count"/> requests of <paramref name="apiKey"/> close their
    /// connection instead of being answered (the request is not applied).
    /// </summary>
    /// <param name="apiKey">The API whose requests drop the connection.</param>
    /// <param name="count">How many requests. Default 1.</param>
    /// <param name="nodeId">Only requests to this broker; null (default) for any.</param>
    public void InjectDisconnects(ApiKey apiKey, int count = 1, int? nodeId = null) =>
        _state.Faults.Add(apiKey, nodeId, new Fault(ErrorCode.None, CloseConnection: true), count);

    /// <summary>Forgets every injected error and disconnect not yet consumed.</summary>
    public void ClearInjectedFaults() => _state.Faults.Clear();
}
