using System.Diagnostics;
using KafkaClient.Cluster;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Consumer;

public sealed partial class KafkaConsumer<TKey, TValue>
{
    /// <summary>The highest Fetch version that still names topics (v13+ uses topic ids).</summary>
    private const short LastFetchVersionWithTopicNames = 12;

    private readonly Dictionary<int, FetchSession> _sessions = [];
    private Task _resolving = Task.CompletedTask;
    private Task _refreshing = Task.CompletedTask;
    private Task _validating = Task.CompletedTask;
    private bool _metadataNeeded;
    private long _metadataNotBefore;

    /// <summary>
    /// The fetch manager: resolves unknown positions, and keeps one Fetch in flight per broker for the
    /// fetchable partitions it leads. Woken when something changes (assignment, seek, resume, records consumed,
    /// a fetch completed) or when a backoff ends.
    /// </summary>
    private async Task FetchLoopAsync()
    {
        var ct = _stopping.Token;
        KafkaProtocolClient client;
        try
        {
            client = await ClientAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception ex)
        {
            _fatal = ex as KafkaException ?? new KafkaConnectionException(_options.BootstrapServers, "The consumer could not connect: " + ex.Message, outcomeUnknown: false, ex);
            WakeConsumers();
            return;
        }
        while (!ct.IsCancellationRequested)
        {
            TimeSpan wait = _options.FetchMaxWait + _options.RequestTimeout;
            try
            {
                List<FetchPlan> plans;
                bool resolve;
                bool validate;
                lock (_sync)
                {
                    plans = PlanFetchesLocked(client.Metadata, ref wait, out resolve, out validate);
                }
                if (resolve && _resolving.IsCompleted)
                {
                    _resolving = ResolvePositionsAsync(client, ct);
                }
                if (validate && _validating.IsCompleted)
                {
                    _validating = ValidatePositionsAsync(client, ct);
                }
                if (_metadataNeeded && _refreshing.IsCompleted && Now >= _metadataNotBefore)
                {
                    _metadataNeeded = false;
                    _metadataNotBefore = After(_options.RetryBackoff);
                    _refreshing = RefreshMetadataAsync(client, ct);
                }
                foreach (var plan in plans)
                {
                    _ = RunFetchAsync(client, plan, ct);
                }
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Log.ConsumerLoopError(_logger, "fetch", ex.Message, ex);
                wait = _options.RetryBackoff;
            }
            try
            {
                await _fetchWake.WaitAsync(wait, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RefreshMetadataAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        try
        {
            List<string> topics;
            lock (_sync)
            {
                topics = [.. _partitions.Keys.Select(p => p.Topic).Distinct()];
            }
            if (topics.Count > 0)
            {
                await client.RefreshMetadataAsync(topics, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
        {
            _metadataNeeded = true;
        }
        _fetchWake.Set();
    }

    private List<FetchPlan> PlanFetchesLocked(ClusterMetadata metadata, ref TimeSpan wait, out bool resolve, out bool validate)
    {
        resolve = false;
        validate = false;
        long now = Now;
        Dictionary<int, List<PartitionState>>? byNode = null;
        foreach (var state in _partitions.Values)
        {
            if (state.Removed || state.Paused || state.Failed || state.FetchInFlight || state.Revoking)
            {
                continue;
            }
            if (state.RetryAt > now)
            {
                wait = Min(wait, Until(state.RetryAt));
                continue;
            }
            if (state.Pending != PendingPosition.None)
            {
                resolve = true;
                continue;
            }
            var partition = metadata.Partition(state.Topic, state.Partition);
            if (partition is { LeaderId: >= 0, LeaderEpoch: >= 0 } && partition.LeaderEpoch != state.LeaderEpochSeen)
            {
                state.LeaderEpochSeen = partition.LeaderEpoch;
                if (!state.AwaitingValidation && state.CurrentPositionEpoch >= 0)
                {
                    // KIP-320: a new leader (or a position that moved with an epoch) may have a log that ends below the
                    // position (unclean election). What was fetched from the old leader is dropped, as Java does, and
                    // nothing is fetched until OffsetForLeaderEpoch shows where the position's epoch ends.
                    state.Invalidate();
                    state.AwaitingValidation = true;
                }
            }
            if (state.AwaitingValidation)
            {
                validate = true;
                continue;
            }
            if (state.BufferedBytes >= _options.MaxPartitionFetchBytes || _bufferedBytes >= _options.MaxBufferedBytes)
            {
                continue;
            }
            int node = state.PreferredReplica >= 0 && metadata.Broker(state.PreferredReplica) is not null ? state.PreferredReplica : partition?.LeaderId ?? -1;
            if (node < 0 || metadata.Broker(node) is null)
            {
                _metadataNeeded = true;
                wait = Min(wait, _options.RetryBackoff);
                continue;
            }
            byNode ??= [];
            if (!byNode.TryGetValue(node, out var list))
            {
                byNode[node] = list = [];
            }
            list.Add(state);
        }
        var plans = new List<FetchPlan>();
        if (byNode is null)
        {
            return plans;
        }
        foreach (var (node, states) in byNode)
        {
            if (!_sessions.TryGetValue(node, out var session))
            {
                _sessions[node] = session = new FetchSession();
            }
            if (session.InFlight)
            {
                continue;
            }
            if (session.RetryAt > now)
            {
                wait = Min(wait, Until(session.RetryAt));
                continue;
            }
            var plan = new FetchPlan(node, session);
            foreach (var state in states)
            {
                var partition = metadata.Partition(state.Topic, state.Partition);
                var topicId = metadata.Topics.TryGetValue(state.Topic, out var topic) ? topic.TopicId : Guid.Empty;
                plan.Add(state, state.Version, state.FetchPosition, partition?.LeaderEpoch ?? -1, topicId);
                state.FetchInFlight = true;
            }
            session.InFlight = true;
            plans.Add(plan);
        }
        return plans;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private async Task RunFetchAsync(KafkaProtocolClient client, FetchPlan plan, CancellationToken ct)
    {
        var session = plan.Session;
        long started = Stopwatch.GetTimestamp();
        try
        {
            short maxVersion = plan.AllTopicIdsKnown ? short.MaxValue : LastFetchVersionWithTopicNames;
            var versions = await client.GetApiVersionsAsync(plan.NodeId, ct).ConfigureAwait(false);
            if (!versions.TrySelect(new FetchRequest(), out short version))
            {
                throw new UnsupportedVersionException($"Broker {plan.NodeId} does not support a Fetch version this client speaks.");
            }
            version = Math.Min(version, maxVersion);
            FetchRequest request;
            lock (_sync)
            {
                request = BuildFetchRequest(plan, version);
            }
            var (response, frame) = await client.SendPooledAsync(request, plan.NodeId, ConnectionPurpose.Fetch, version, _options.FetchMaxWait, ct).ConfigureAwait(false);
            ConsumerMetrics.FetchLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            try
            {
                lock (_sync)
                {
                    HandleFetchResponseLocked(plan, response, version, frame);
                }
            }
            finally
            {
                frame.Release();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.FetchFailed(_logger, plan.NodeId, ex.Message);
            lock (_sync)
            {
                session.Reset();
                session.RetryAt = After(_options.RetryBackoff);
                foreach (var entry in plan.Partitions.Values)
                {
                    entry.State.PreferredReplica = -1;
                }
                _metadataNeeded = true;
            }
        }
        finally
        {
            lock (_sync)
            {
                session.InFlight = false;
                foreach (var entry in plan.Partitions.Values)
                {
                    entry.State.FetchInFlight = false;
                }
            }
            _fetchWake.Set();
        }
    }

    private FetchRequest BuildFetchRequest(FetchPlan plan, short version)
    {
        var session = plan.Session;
        bool sessions = _options.EnableFetchSessions && version >= 7;
        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = (int)_options.FetchMaxWait.TotalMilliseconds,
            MinBytes = _options.FetchMinBytes,
            MaxBytes = _options.FetchMaxBytes,
            IsolationLevel = (sbyte)_options.IsolationLevel,
            RackId = _options.ClientRack ?? "",
        };
        IEnumerable<FetchPlan.Entry> toSend;
        if (!sessions)
        {
            request.SessionId = 0;
            request.SessionEpoch = -1;
            toSend = plan.Partitions.Values;
            plan.Full = true;
        }
        else if (session.SessionId == 0)
        {
            request.SessionId = 0;
            request.SessionEpoch = 0;
            toSend = plan.Partitions.Values;
            plan.Full = true;
        }
        else
        {
            request.SessionId = session.SessionId;
            request.SessionEpoch = session.Epoch;
            toSend = plan.Partitions.Values.Where(e => !session.Partitions.TryGetValue(e.State.TopicPartition, out var known) || known != e.AsSessionPartition(_options.MaxPartitionFetchBytes));
            foreach (var tp in session.Partitions.Keys)
            {
                if (!plan.Partitions.ContainsKey(tp))
                {
                    plan.Forgotten.Add(tp);
                }
            }
        }
        foreach (var group in toSend.GroupBy(e => e.State.Topic))
        {
            var first = group.First();
            plan.Sent.AddRange(group);
            request.Topics.Add(new FetchRequest.FetchTopic
            {
                Topic = version <= LastFetchVersionWithTopicNames ? group.Key : "",
                TopicId = version > LastFetchVersionWithTopicNames ? first.TopicId : Guid.Empty,
                Partitions = [.. group.Select(e => new FetchRequest.FetchPartition
                {
                    Partition = e.State.Partition,
                    CurrentLeaderEpoch = e.LeaderEpoch,
                    FetchOffset = e.FetchOffset,
                    PartitionMaxBytes = _options.MaxPartitionFetchBytes,
                })],
            });
        }
        foreach (var group in plan.Forgotten.GroupBy(tp => tp.Topic))
        {
            var topicId = session.TopicIds.TryGetValue(group.Key, out var id) ? id : Guid.Empty;
            request.ForgottenTopicsData.Add(new FetchRequest.ForgottenTopic
            {
                Topic = version <= LastFetchVersionWithTopicNames ? group.Key : "",
                TopicId = version > LastFetchVersionWithTopicNames ? topicId : Guid.Empty,
                Partitions = [.. group.Select(tp => tp.Partition)],
            });
        }
        return request;
    }

    private void HandleFetchResponseLocked(FetchPlan plan, FetchResponse response, short version, ResponseFrame frame)
    {
        var session = plan.Session;
        var topError = (ErrorCode)response.ErrorCode;
        if (topError != ErrorCode.None)
        {
            // FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH and friends: start a new session.
            Log.FetchFailed(_logger, plan.NodeId, ErrorCodes.ProtocolName(topError));
            session.Reset();
            if (topError is not (ErrorCode.FetchSessionIdNotFound or ErrorCode.InvalidFetchSessionEpoch))
            {
                session.RetryAt = After(_options.RetryBackoff);
            }
            return;
        }
        UpdateSession(plan, response, version);
        bool anyData = false;
        foreach (var topic in response.Responses)
        {
            string? name = version > LastFetchVersionWithTopicNames ? plan.TopicName(topic.TopicId) : topic.Topic;
            if (name is null)
            {
                continue;
            }
            foreach (var data in topic.Partitions)
            {
                if (!plan.Partitions.TryGetValue(new TopicPartition(name, data.PartitionIndex), out var entry))
                {
                    continue;
                }
                anyData |= HandlePartitionLocked(entry, data, frame);
            }
        }
        if (anyData)
        {
            _fetchWake.Set();
        }
    }

    private void UpdateSession(FetchPlan plan, FetchResponse response, short version)
    {
        var session = plan.Session;
        if (!_options.EnableFetchSessions || version < 7)
        {
            return;
        }
        if (plan.Full)
        {
            session.Partitions.Clear();
            session.TopicIds.Clear();
            if (response.SessionId == 0)
            {
                session.SessionId = 0;
                session.Epoch = 0;
                return;
            }
            session.SessionId = response.SessionId;
            session.Epoch = 1;
        }
        else
        {
            session.Epoch = session.Epoch == int.MaxValue ? 1 : session.Epoch + 1;
            foreach (var tp in plan.Forgotten)
            {
                session.Partitions.Remove(tp);
            }
        }
        foreach (var entry in plan.Sent)
        {
            session.Partitions[entry.State.TopicPartition] = entry.AsSessionPartition(_options.MaxPartitionFetchBytes);
            session.TopicIds[entry.State.Topic] = entry.TopicId;
        }
    }

    /// <summary>Applies one partition's fetch result; returns true when records were queued.</summary>
    private bool HandlePartitionLocked(FetchPlan.Entry entry, FetchResponse.PartitionData data, ResponseFrame frame)
    {
        var state = entry.State;
        if (state.Removed || state.Version != entry.Version || state.FetchPosition != entry.FetchOffset)
        {
            return false;
        }
        var error = (ErrorCode)data.ErrorCode;
        if (error == ErrorCode.None)
        {
            state.HighWatermark = data.HighWatermark;
            state.LastStableOffset = data.LastStableOffset;
            if (data.LogStartOffset >= 0)
            {
                state.LogStartOffset = data.LogStartOffset;
            }
            if (_options.ClientRack is not null && data.PreferredReadReplica >= 0)
            {
                state.PreferredReplica = data.PreferredReadReplica;
            }
            var records = data.Records ?? ReadOnlyMemory<byte>.Empty;
            int declared = 0;
            int endEpoch = -1;
            long end = records.Length > 0 ? FetchedChunk.FindEndOffset(records.Span, out declared, out endEpoch) : -1;
            if (end <= entry.FetchOffset)
            {
                // Nothing complete past the fetch offset. Under read_committed the broker may return only
                // records past the LSO; otherwise an empty answer just means no new data.
                return false;
            }
            state.FetchPosition = end;
            state.BufferedBytes += records.Length;
            _bufferedBytes += records.Length;
            frame.AddReference();
            _ready.Writer.TryWrite(new FetchedChunk(state, entry.Version, records, end, data.AbortedTransactions, frame, declared, endEpoch));
            return true;
        }
        state.PreferredReplica = -1;
        switch (error)
        {
            case ErrorCode.OffsetOutOfRange:
                if (state.FetchPosition == state.CurrentPosition)
                {
                    Log.OffsetOutOfRange(_logger, state.TopicPartition.ToString(), state.FetchPosition, _options.AutoOffsetReset.ToString());
                    if (_options.AutoOffsetReset == AutoOffsetReset.Error)
                    {
                        state.Failed = true;
                        _ready.Writer.TryWrite(new FetchedChunk(state, state.Version, KafkaException.FromErrorCode(ErrorCode.OffsetOutOfRange,
                            $"Offset {state.FetchPosition} of {state.TopicPartition} is out of range (log start {data.LogStartOffset}, high watermark {data.HighWatermark}) and AutoOffsetReset is Error; Seek to continue.")));
                        return true;
                    }
                    state.MoveTo(-1, -1);
                    state.Pending = _options.AutoOffsetReset == AutoOffsetReset.Earliest ? PendingPosition.Earliest : PendingPosition.Latest;
                }
                return false;
            case ErrorCode.TopicAuthorizationFailed:
            case ErrorCode.CorruptMessage:
            case ErrorCode.UnsupportedCompressionType:
                state.Failed = true;
                _ready.Writer.TryWrite(new FetchedChunk(state, state.Version, KafkaException.FromErrorCode(error, $"Fetching {state.TopicPartition} failed.")));
                return true;
            default:
                // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION,
                // UNKNOWN_TOPIC_ID, KAFKA_STORAGE_ERROR, OFFSET_NOT_AVAILABLE, ...: the leadership moved or is
                // moving. Refresh metadata and fetch again from the same position.
                Log.PartitionFetchError(_logger, state.TopicPartition.ToString(), ErrorCodes.ProtocolName(error));
                state.RetryAt = After(_options.RetryBackoff);
                _metadataNeeded = true;
                return false;
        }
    }

    // ------------------------------------------------------------------ positions

    /// <summary>Finds the positions still unknown: committed offsets from the group, then earliest/latest/by time from the leaders.</summary>
    private async Task ResolvePositionsAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        await Task.Yield();
        List<(PartitionState State, int Version, PendingPosition Pending, long Timestamp)> pending;
        lock (_sync)
        {
            long now = Now;
            pending = [.. _partitions.Values
                .Where(s => !s.Removed && s.Pending != PendingPosition.None && s.RetryAt <= now)
                .Select(s => (s, s.Version, s.Pending, s.PendingTimestamp))];
        }
        if (pending.Count == 0)
        {
            return;
        }
        try
        {
            var committed = pending.Where(p => p.Pending == PendingPosition.Committed).ToList();
            if (committed.Count > 0)
            {
                var offsets = _options.GroupId is null
                    ? new Dictionary<TopicPartition, TopicPartitionOffset>()
                    : await FetchCommittedAsync(committed.Select(p => p.State.TopicPartition).ToList(), ct).ConfigureAwait(false);
                lock (_sync)
                {
                    foreach (var (state, version, _, _) in committed)
                    {
                        if (state.Version != version || state.Pending != PendingPosition.Committed)
                        {
                            continue;
                        }
                        if (offsets.TryGetValue(state.TopicPartition, out var found) && found.Offset >= 0)
                        {
                            state.CommittedOffset = found.Offset;
                            state.MoveTo(found.Offset, found.LeaderEpoch);
                            state.PositionBaseline = found.Offset;
                            state.Pending = PendingPosition.None;
                        }
                        else if (_options.AutoOffsetReset == AutoOffsetReset.Error)
                        {
                            state.Failed = true;
                            state.Pending = PendingPosition.None;
                            _ready.Writer.TryWrite(new FetchedChunk(state, state.Version, new KafkaException(ErrorCode.OffsetOutOfRange,
                                $"{state.TopicPartition} has no committed offset and AutoOffsetReset is Error; Seek to choose a position.")));
                        }
                        else
                        {
                            state.Pending = _options.AutoOffsetReset == AutoOffsetReset.Earliest ? PendingPosition.Earliest : PendingPosition.Latest;
                        }
                    }
                    pending = [.. pending.Where(p => p.State.Pending is PendingPosition.Earliest or PendingPosition.Latest or PendingPosition.Timestamp)
                        .Select(p => (p.State, p.State.Version, p.State.Pending, p.State.PendingTimestamp))];
                }
            }
            foreach (var kind in pending.GroupBy(p => (p.Pending, p.Timestamp)))
            {
                long timestamp = kind.Key.Pending switch
                {
                    PendingPosition.Earliest => Offset.Beginning,
                    PendingPosition.Latest => Offset.End,
                    _ => kind.Key.Timestamp,
                };
                var found = await ListOffsetsAsync(kind.Select(p => p.State.TopicPartition).ToList(), timestamp, ct).ConfigureAwait(false);
                lock (_sync)
                {
                    foreach (var (state, version, which, _) in kind)
                    {
                        if (state.Version != version || state.Pending != which || !found.TryGetValue(state.TopicPartition, out var offset))
                        {
                            continue;
                        }
                        if (offset.Offset < 0 && which == PendingPosition.Timestamp)
                        {
                            state.Pending = PendingPosition.Latest;
                            continue;
                        }
                        state.MoveTo(offset.Offset, offset.LeaderEpoch);
                        state.PositionBaseline = offset.Offset;
                        state.Pending = PendingPosition.None;
                    }
                }
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            Log.ConsumerLoopError(_logger, "position lookup", ex.Message, ex is KafkaException ? null : ex);
            lock (_sync)
            {
                long retryAt = After(_options.RetryBackoff);
                foreach (var (state, _, _, _) in pending)
                {
                    state.RetryAt = retryAt;
                }
                _metadataNeeded = true;
            }
        }
        finally
        {
            _fetchWake.Set();
        }
    }

    /// <summary>
    /// KIP-320 position validation: for each partition awaiting it, asks its leader (OffsetForLeaderEpoch v3+, with the
    /// current leader epoch for fencing) where the leader epoch of the position ends. An end below the position means the
    /// log was truncated (unclean leader election): as Java, with <see cref="AutoOffsetReset.Earliest"/> or
    /// <see cref="AutoOffsetReset.Latest"/> the position moves to that end offset (the first offset known to diverge), and
    /// with <see cref="AutoOffsetReset.Error"/> a <see cref="LogTruncationException"/> reaches the application and the
    /// partition stops until it is sought. A leader that knows no end for the epoch is a truncation with no known
    /// divergence point: reset by policy (or the same error). Leadership errors retry after a metadata refresh; a broker
    /// older than OffsetForLeaderEpoch v3 (which consumers may use without cluster permission) is not asked, as in Java.
    /// </summary>
    private async Task ValidatePositionsAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        await Task.Yield();
        List<(PartitionState State, int Version, long Offset, int Epoch, int LeaderId, int LeaderEpoch)> pending = [];
        lock (_sync)
        {
            long now = Now;
            foreach (var state in _partitions.Values)
            {
                if (state.Removed || !state.AwaitingValidation || state.Failed || state.RetryAt > now)
                {
                    continue;
                }
                if (client.Metadata.Partition(state.Topic, state.Partition) is not { LeaderId: >= 0 } partition)
                {
                    _metadataNeeded = true;
                    continue;
                }
                pending.Add((state, state.Version, state.Position, state.PositionEpoch, partition.LeaderId, partition.LeaderEpoch));
            }
        }
        foreach (var byLeader in pending.GroupBy(p => p.LeaderId))
        {
            var items = byLeader.ToList();
            try
            {
                var versions = await client.GetApiVersionsAsync(byLeader.Key, ct).ConfigureAwait(false);
                if (versions.BrokerRange(ApiKey.OffsetForLeaderEpoch) is not { Max: >= 3 })
                {
                    lock (_sync)
                    {
                        foreach (var item in items)
                        {
                            if (IsCurrent(item.State, item.Version, item.Offset))
                            {
                                item.State.AwaitingValidation = false;
                            }
                        }
                    }
                    continue;
                }
                var request = new OffsetForLeaderEpochRequest
                {
                    ReplicaId = -1,
                    Topics = [.. items.GroupBy(p => p.State.Topic).Select(t => new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
                    {
                        Topic = t.Key,
                        Partitions = [.. t.Select(p => new OffsetForLeaderEpochRequest.OffsetForLeaderPartition
                        {
                            Partition = p.State.Partition,
                            CurrentLeaderEpoch = p.LeaderEpoch,
                            LeaderEpoch = p.Epoch,
                        })],
                    })],
                };
                var response = await client.SendAsync(request, byLeader.Key, ConnectionPurpose.General, ct).ConfigureAwait(false);
                lock (_sync)
                {
                    var byPartition = items.ToDictionary(p => p.State.TopicPartition);
                    foreach (var topic in response.Topics)
                    {
                        foreach (var result in topic.Partitions)
                        {
                            if (byPartition.Remove(new TopicPartition(topic.Topic, result.Partition), out var item) && IsCurrent(item.State, item.Version, item.Offset))
                            {
                                CompleteValidationLocked(item.State, item.Epoch, item.LeaderEpoch, result);
                            }
                        }
                    }
                    foreach (var missed in byPartition.Values)
                    {
                        missed.State.RetryAt = After(_options.RetryBackoff);
                    }
                }
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Log.ConsumerLoopError(_logger, "position validation", ex.Message, ex is KafkaException ? null : ex);
                lock (_sync)
                {
                    long retryAt = After(_options.RetryBackoff);
                    foreach (var item in items)
                    {
                        item.State.RetryAt = retryAt;
                    }
                    _metadataNeeded = true;
                }
            }
        }
        _fetchWake.Set();

        static bool IsCurrent(PartitionState state, int version, long offset) =>
            !state.Removed && state.AwaitingValidation && state.Version == version && state.Position == offset;
    }

    /// <summary>Applies one partition's OffsetForLeaderEpoch answer to a position still awaiting validation.</summary>
    private void CompleteValidationLocked(PartitionState state, int positionEpoch, int leaderEpoch, OffsetForLeaderEpochResponse.EpochEndOffset result)
    {
        var error = (ErrorCode)result.ErrorCode;
        var position = new TopicPartitionOffset(state.TopicPartition, state.Position, positionEpoch);
        switch (error)
        {
            case ErrorCode.None:
                break;
            case ErrorCode.TopicAuthorizationFailed:
                state.Failed = true;
                state.AwaitingValidation = false;
                _ready.Writer.TryWrite(new FetchedChunk(state, state.Version, KafkaException.FromErrorCode(error, $"Validating the position of {state.TopicPartition} failed.")));
                return;
            default:
                // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...:
                // our metadata is behind or ahead of the broker's. Refresh and ask again (the leader epoch seen is
                // updated from the new metadata; the position stays awaiting validation).
                Log.PartitionFetchError(_logger, state.TopicPartition.ToString(), ErrorCodes.ProtocolName(error));
                state.RetryAt = After(_options.RetryBackoff);
                _metadataNeeded = true;
                return;
        }
        bool unknownEnd = result.EndOffset < 0 || result.LeaderEpoch < 0;
        if (!unknownEnd && result.EndOffset >= state.Position)
        {
            state.AwaitingValidation = false;
            return;
        }
        TopicPartitionOffset? divergent = unknownEnd ? null : new TopicPartitionOffset(state.TopicPartition, result.EndOffset, result.LeaderEpoch);
        Log.LogTruncated(_logger, state.TopicPartition.ToString(), state.Position, positionEpoch, divergent?.Offset ?? -1, _options.AutoOffsetReset.ToString());
        if (_options.AutoOffsetReset == AutoOffsetReset.Error)
        {
            state.Failed = true;
            state.AwaitingValidation = false;
            _ready.Writer.TryWrite(new FetchedChunk(state, state.Version, new LogTruncationException(position, divergent)));
            return;
        }
        if (divergent is { } at)
        {
            // Java's seekValidated: continue from the first offset known to diverge, checked against this leader epoch.
            state.MoveTo(at.Offset, at.LeaderEpoch);
            state.LeaderEpochSeen = leaderEpoch;
        }
        else
        {
            state.MoveTo(-1, -1);
            state.Pending = _options.AutoOffsetReset == AutoOffsetReset.Earliest ? PendingPosition.Earliest : PendingPosition.Latest;
        }
    }

    /// <summary>ListOffsets for <paramref name="partitions"/> at <paramref name="timestamp"/> (-2 earliest, -1 latest), asking each leader, under <paramref name="isolation"/> (default: the consumer's).</summary>
    private async Task<Dictionary<TopicPartition, TopicPartitionOffset>> ListOffsetsAsync(IReadOnlyList<TopicPartition> partitions, long timestamp, CancellationToken ct, IsolationLevel? isolation = null)
    {
        var client = await ClientAsync(ct).ConfigureAwait(false);
        var result = new Dictionary<TopicPartition, TopicPartitionOffset>();
        var missing = partitions.Where(p => client.Metadata.Partition(p.Topic, p.Partition) is not { LeaderId: >= 0 }).Select(p => p.Topic).Distinct().ToList();
        if (missing.Count > 0)
        {
            await client.RefreshMetadataAsync(missing, ct).ConfigureAwait(false);
        }
        foreach (var byLeader in partitions.GroupBy(p => client.Metadata.Partition(p.Topic, p.Partition)?.LeaderId ?? -1))
        {
            if (byLeader.Key < 0)
            {
                throw KafkaException.FromErrorCode(ErrorCode.LeaderNotAvailable, $"No leader known for {string.Join(", ", byLeader)}.");
            }
            var request = new ListOffsetsRequest
            {
                ReplicaId = -1,
                IsolationLevel = (sbyte)(isolation ?? _options.IsolationLevel),
                Topics = [.. byLeader.GroupBy(p => p.Topic).Select(t => new ListOffsetsRequest.ListOffsetsTopic
                {
                    Name = t.Key,
                    Partitions = [.. t.Select(p => new ListOffsetsRequest.ListOffsetsPartition
                    {
                        PartitionIndex = p.Partition,
                        CurrentLeaderEpoch = client.Metadata.Partition(p.Topic, p.Partition)?.LeaderEpoch ?? -1,
                        Timestamp = timestamp,
                    })],
                })],
            };
            var response = await client.SendAsync(request, byLeader.Key, ConnectionPurpose.General, ct).ConfigureAwait(false);
            foreach (var topic in response.Topics)
            {
                foreach (var p in topic.Partitions)
                {
                    var error = (ErrorCode)p.ErrorCode;
                    if (error != ErrorCode.None)
                    {
                        throw KafkaException.FromErrorCode(error, $"ListOffsets for {topic.Name}[{p.PartitionIndex}] failed.");
                    }
                    result[new TopicPartition(topic.Name, p.PartitionIndex)] = new TopicPartitionOffset(new TopicPartition(topic.Name, p.PartitionIndex), p.Offset, p.LeaderEpoch);
                }
            }
        }
        return result;
    }

    /// <summary>One broker's fetch session (KIP-227): its id, the next epoch, and what the broker remembers of each partition.</summary>
    private sealed class FetchSession
    {
        public int SessionId { get; set; }

        public int Epoch { get; set; }

        public bool InFlight { get; set; }

        public long RetryAt { get; set; }

        public Dictionary<TopicPartition, (long FetchOffset, int MaxBytes, int LeaderEpoch)> Partitions { get; } = [];

        public Dictionary<string, Guid> TopicIds { get; } = new(StringComparer.Ordinal);

        public void Reset()
        {
            SessionId = 0;
            Epoch = 0;
            Partitions.Clear();
            TopicIds.Clear();
        }
    }

    /// <summary>One Fetch about to go to one broker: the partitions it covers (sent or remembered by the session) and what it forgets.</summary>
    private sealed class FetchPlan(int nodeId, FetchSession session)
    {
        public int NodeId { get; } = nodeId;

        public FetchSession Session { get; } = session;

        public Dictionary<TopicPartition, Entry> Partitions { get; } = [];

        public List<Entry> Sent { get; } = [];

        public List<TopicPartition> Forgotten { get; } = [];

        public bool Full { get; set; }

        public bool AllTopicIdsKnown { get; private set; } = true;

        public void Add(PartitionState state, int version, long fetchOffset, int leaderEpoch, Guid topicId)
        {
            Partitions[state.TopicPartition] = new Entry(state, version, fetchOffset, leaderEpoch, topicId);
            AllTopicIdsKnown &= topicId != Guid.Empty;
        }

        public string? TopicName(Guid topicId)
        {
            foreach (var entry in Partitions.Values)
            {
                if (entry.TopicId == topicId)
                {
                    return entry.State.Topic;
                }
            }
            return null;
        }

        public sealed record Entry(PartitionState State, int Version, long FetchOffset, int LeaderEpoch, Guid TopicId)
        {
            public (long FetchOffset, int MaxBytes, int LeaderEpoch) AsSessionPartition(int maxBytes) => (FetchOffset, maxBytes, LeaderEpoch);
        }
    }
}
