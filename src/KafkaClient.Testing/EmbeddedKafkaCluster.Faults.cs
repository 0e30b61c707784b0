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
    /// Simulates an unclean leader election (<c>unclean.leader.election.enable</c>): a replica whose log ends at
    /// <paramref name="offset"/> becomes leader with a new leader epoch, and the records from <paramref name="offset"/> on
    /// are lost, as when Kafka truncates the other replicas to the new leader's log. The cut keeps whole batches: it is at
    /// the start of the batch holding <paramref name="offset"/>. OffsetForLeaderEpoch then reports the end of each older
    /// epoch at or before the cut, which is how consumers detect the truncation (KIP-320); clients with the old epoch get
    /// FENCED_LEADER_EPOCH. Later produce appends from the cut under the new epoch.
    /// </summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partition">The partition index.</param>
    /// <param name="offset">The new log end offset, between the log start and end offsets.</param>
    /// <param name="nodeId">The new leader; null (default) keeps the current leader (its epoch still moves on).</param>
    /// <returns>The log end offset after the cut.</returns>
    /// <exception cref="ArgumentException">No such partition or broker, or the offset is outside the log.</exception>
    public long TruncatePartition(string topic, int partition, long offset, int? nodeId = null)
    {
        var p = _state.GetTopic(topic)?.Partition(partition)
            ?? throw new ArgumentException($"Partition {topic}-{partition} does not exist.", nameof(partition));
        int leader = nodeId ?? p.Leadership.LeaderId;
        if (leader < 0)
        {
            throw new ArgumentException($"Partition {topic}-{partition} has no leader; pass the broker to elect.", nameof(nodeId));
        }
        return _state.TruncateAndMoveLeader(p, offset, leader);
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
        _state.Faults.Add(apiKey, nodeId, new Fault(FaultKind.Error, error, delay), count);

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
        _state.Faults.Add(apiKey, nodeId, new Fault(FaultKind.Disconnect), count);

    /// <summary>
    /// Simulates a client process that died (or a network partition around it): from now on every request
    /// whose header carries <paramref name="clientId"/> closes its connection without being applied, so the
    /// client's commits, heartbeats and LeaveGroup never arrive. Requests already being handled still finish.
    /// </summary>
    /// <param name="clientId">The client id (Kafka: <c>client.id</c>) to cut off.</param>
    public void CutOffClient(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        _state.Faults.SetCutOff(clientId, cutOff: true);
    }

    /// <summary>Lets requests of a client cut off by <see cref="CutOffClient"/> through again.</summary>
    /// <param name="clientId">The client id.</param>
    public void RestoreClient(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        _state.Faults.SetCutOff(clientId, cutOff: false);
    }

    /// <summary>
    /// Delays the responses to the next <paramref name="count"/> requests of
    /// <paramref name="apiKey"/> by <paramref name="delay"/> on the cluster's
    /// <see cref="EmbeddedKafkaClusterOptions.TimeProvider"/> (so a <c>FakeTimeProvider</c> holds them
    /// until advanced). The request is applied at once; only the answer waits, and since a
    /// connection answers in order, so do the requests behind it. Combines with
    /// <see cref="InjectErrors"/> and <see cref="InjectThrottle"/>.
    /// </summary>
    /// <param name="apiKey">The API whose responses are late.</param>
    /// <param name="delay">How late.</param>
    /// <param name="count">How many responses; <see cref="int.MaxValue"/> for all until <see cref="ClearInjectedFaults"/>. Default 1.</param>
    /// <param name="nodeId">Only responses of this broker; null (default) for any.</param>
    public void InjectLatency(ApiKey apiKey, TimeSpan delay, int count = 1, int? nodeId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        _state.Faults.Add(apiKey, nodeId, new Fault(FaultKind.Latency, Delay: delay), count);
    }

    /// <summary>
    /// Throttles the next <paramref name="count"/> requests of <paramref name="apiKey"/> as a quota
    /// would (KIP-219): the response is sent at once with <c>ThrottleTimeMs</c> set to
    /// <paramref name="throttle"/>, then the broker reads nothing more from that connection for
    /// <paramref name="throttle"/> (on the cluster's <see cref="EmbeddedKafkaClusterOptions.TimeProvider"/>).
    /// Responses without a throttle time field (e.g. old versions) are left as they are.
    /// </summary>
    /// <param name="apiKey">The API whose responses are throttled.</param>
    /// <param name="throttle">The throttle time reported and enforced.</param>
    /// <param name="count">How many responses. Default 1.</param>
    /// <param name="nodeId">Only responses of this broker; null (default) for any.</param>
    public void InjectThrottle(ApiKey apiKey, TimeSpan throttle, int count = 1, int? nodeId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(throttle, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(throttle.TotalMilliseconds, int.MaxValue, nameof(throttle));
        _state.Faults.Add(apiKey, nodeId, new Fault(FaultKind.Throttle, Delay: throttle), count);
    }

    /// <summary>
    /// Makes the next <paramref name="count"/> requests of <paramref name="apiKey"/> be handled
    /// (their effect, e.g. a produce, happens) but answered with only part of the response frame
    /// before the connection closes: the client cannot know the outcome.
    /// </summary>
    /// <param name="apiKey">The API whose responses are cut.</param>
    /// <param name="count">How many requests. Default 1.</param>
    /// <param name="nodeId">Only requests to this broker; null (default) for any.</param>
    public void InjectDropsMidResponse(ApiKey apiKey, int count = 1, int? nodeId = null) =>
        _state.Faults.Add(apiKey, nodeId, new Fault(FaultKind.DropMidResponse), count);

    /// <summary>Forgets every injected fault (errors, disconnects, latency, throttles, drops) not yet consumed, and every client cut off.</summary>
    public void ClearInjectedFaults() => _state.Faults.Clear();
}
