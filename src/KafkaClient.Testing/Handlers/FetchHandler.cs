using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Fetch: whole batches from the fetch offset, bounded by partition and response max bytes (the
/// first batch of the response always whole, KIP-74), up to the high watermark or, for
/// read_committed, the last stable offset with the aborted transactions. Waits up to MaxWaitMs
/// for MinBytes, woken by appends to any fetched partition (no polling). Topics by name before
/// v13, by id from v13.
/// </summary>
/// <remarks>
/// Fetch sessions (KIP-227, v7+): session id 0 with epoch -1 is a sessionless full fetch; epoch 0
/// creates a session (closing the one named) and answers in full with its id; epoch n &gt; 0
/// must equal the session's next epoch (else INVALID_FETCH_SESSION_EPOCH; an unknown id is
/// FETCH_SESSION_ID_NOT_FOUND), adds or updates the partitions named, drops the forgotten ones,
/// and answers only partitions with records, an error, or a changed high watermark, last stable
/// offset or log start offset; a non-zero id with epoch -1 closes that session.
/// </remarks>
internal sealed class FetchHandler() : ApiHandler<FetchRequest, FetchResponse>(ApiKey.Fetch)
{
    private const sbyte ReadCommitted = 1;

    protected override async ValueTask<FetchResponse?> HandleAsync(RequestContext context, FetchRequest request, CancellationToken cancellationToken)
    {
        short version = context.ApiVersion;
        bool byId = version >= 13;
        var sessions = context.Cluster.FetchSessions;
        FetchSession? session = null;
        bool incremental = false;
        List<FetchTarget> targets;
        if (version >= 7 && request.SessionEpoch > 0)
        {
            session = sessions.Get(context.BrokerId, request.SessionId);
            if (session is null)
            {
                return new FetchResponse { ErrorCode = ErrorCode.FetchSessionIdNotFound.Code() };
            }
            lock (session.Lock)
            {
                if (request.SessionEpoch != session.NextEpoch)
                {
                    return new FetchResponse { ErrorCode = ErrorCode.InvalidFetchSessionEpoch.Code() };
                }
                session.NextEpoch = session.NextEpoch == int.MaxValue ? 1 : session.NextEpoch + 1;
                foreach (var target in Requested(request, byId))
                {
                    var key = FetchTarget.Key(target.Topic, target.TopicId, target.Partition, byId);
                    if (session.ByKey.TryGetValue(key, out var known))
                    {
                        known.FetchOffset = target.FetchOffset;
                        known.MaxBytes = target.MaxBytes;
                        known.CurrentLeaderEpoch = target.CurrentLeaderEpoch;
                    }
                    else
                    {
                        session.ByKey[key] = target;
                        session.Partitions.Add(target);
                    }
                }
                foreach (var forgotten in request.ForgottenTopicsData)
                {
                    foreach (int partition in forgotten.Partitions)
                    {
                        if (session.ByKey.Remove(FetchTarget.Key(forgotten.Topic, forgotten.TopicId, partition, byId), out var removed))
                        {
                            session.Partitions.Remove(removed);
                        }
                    }
                }
                targets = [.. session.Partitions];
            }
            incremental = true;
        }
        else
        {
            if (version >= 7 && request.SessionId != 0)
            {
                sessions.Remove(context.BrokerId, request.SessionId);
            }
            targets = [.. Requested(request, byId)];
            if (version >= 7 && request.SessionEpoch == 0)
            {
                session = sessions.Create(context.BrokerId, byId);
                if (session is not null)
                {
                    lock (session.Lock)
                    {
                        foreach (var target in targets)
                        {
                            if (session.ByKey.TryAdd(FetchTarget.Key(target.Topic, target.TopicId, target.Partition, byId), target))
                            {
                                session.Partitions.Add(target);
                            }
                        }
                    }
                }
            }
        }

        var time = context.Cluster.Options.TimeProvider;
        long start = time.GetTimestamp();
        var maxWait = TimeSpan.FromMilliseconds(Math.Max(0, request.MaxWaitMs));
        var signals = new List<Task>();
        while (true)
        {
            signals.Clear();
            var results = Read(context, request, targets, signals, out int bytes, out bool anyError, out var endpoints);
            var remaining = maxWait - time.GetElapsedTime(start);
            if (bytes >= request.MinBytes || anyError || signals.Count == 0 || remaining <= TimeSpan.Zero)
            {
                return Build(context, results, endpoints, session, incremental);
            }
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            signals.Add(Task.Delay(remaining, time, wake.Token));
            await Task.WhenAny(signals).ConfigureAwait(false);
            await wake.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    protected override FetchResponse ErrorResponse(RequestContext context, FetchRequest request, ErrorCode error)
    {
        var response = new FetchResponse { ErrorCode = context.ApiVersion >= 7 ? error.Code() : (short)0 };
        foreach (var topic in request.Topics)
        {
            var topicResponse = NewTopicResponse(context, topic.Topic, topic.TopicId);
            foreach (var p in topic.Partitions)
            {
                topicResponse.Partitions.Add(new FetchResponse.PartitionData
                {
                    PartitionIndex = p.Partition,
                    ErrorCode = error.Code(),
                    HighWatermark = -1,
                    LastStableOffset = -1,
                    LogStartOffset = -1,
                });
            }
            response.Responses.Add(topicResponse);
        }
        return response;
    }

    private static IEnumerable<FetchTarget> Requested(FetchRequest request, bool byId) =>
        request.Topics.SelectMany(t => t.Partitions.Select(p => new FetchTarget
        {
            Topic = byId ? "" : t.Topic,
            TopicId = byId ? t.TopicId : Guid.Empty,
            Partition = p.Partition,
            FetchOffset = p.FetchOffset,
            MaxBytes = p.PartitionMaxBytes,
            CurrentLeaderEpoch = p.CurrentLeaderEpoch,
        }));

    /// <summary>Reads every target; nothing is remembered in the session until <see cref="Build"/>.</summary>
    private static List<(FetchTarget Target, FetchResponse.PartitionData Data)> Read(RequestContext context, FetchRequest request,
        List<FetchTarget> targets, List<Task> signals, out int bytes, out bool anyError, out HashSet<int> endpoints)
    {
        short version = context.ApiVersion;
        var cluster = context.Cluster;
        bool readCommitted = request.IsolationLevel == ReadCommitted;
        int responseMax = request.MaxBytes <= 0 ? int.MaxValue : request.MaxBytes;
        var results = new List<(FetchTarget, FetchResponse.PartitionData)>(targets.Count);
        endpoints = [];
        bytes = 0;
        anyError = false;
        foreach (var target in targets)
        {
            var topic = version >= 13 ? cluster.GetTopic(target.TopicId) : cluster.GetTopic(target.Topic);
            var data = new FetchResponse.PartitionData
            {
                PartitionIndex = target.Partition,
                HighWatermark = -1,
                LastStableOffset = -1,
                LogStartOffset = -1,
            };
            results.Add((target, data));
            ErrorCode error;
            if (topic is null && version >= 13)
            {
                error = ErrorCode.UnknownTopicId;
            }
            else if (!context.Authorized(AclOperation.Read, AclResourceType.Topic, topic?.Name ?? target.Topic))
            {
                error = ErrorCode.TopicAuthorizationFailed;
            }
            else
            {
                error = Partitions.FindLed(context, topic, target.Partition, out var partition, out var leadership);
                if (error == ErrorCode.None && version >= 9)
                {
                    error = Partitions.CheckEpoch(target.CurrentLeaderEpoch, leadership!.LeaderEpoch);
                }
                if (error == ErrorCode.None)
                {
                    var log = partition!.Log;
                    signals.Add(log.Changed);
                    int maxBytes = Math.Max(0, Math.Min(target.MaxBytes, responseMax - bytes));
                    error = log.Read(target.FetchOffset, readCommitted, maxBytes, minOneBatch: bytes == 0, out var read);
                    data.HighWatermark = read.HighWatermark;
                    data.LastStableOffset = read.LastStableOffset;
                    if (version >= 5)
                    {
                        data.LogStartOffset = read.LogStartOffset;
                    }
                    if (error == ErrorCode.None)
                    {
                        data.Records = read.Records;
                        bytes += read.Records.Length;
                        data.AbortedTransactions = readCommitted
                            ? [.. read.Aborted!.Select(t => new FetchResponse.AbortedTransaction { ProducerId = t.ProducerId, FirstOffset = t.FirstOffset })]
                            : null;
                    }
                }
                else if (error == ErrorCode.NotLeaderOrFollower && version >= 12 && leadership!.LeaderId >= 0)
                {
                    data.CurrentLeader = new FetchResponse.LeaderIdAndEpoch { LeaderId = leadership.LeaderId, LeaderEpoch = leadership.LeaderEpoch };
                    endpoints.Add(leadership.LeaderId);
                }
            }
            if (error != ErrorCode.None)
            {
                anyError = true;
                data.ErrorCode = error.Code();
            }
        }
        return results;
    }

    /// <summary>Assembles the response, grouping partitions by topic; an incremental response leaves out partitions with nothing new.</summary>
    private static FetchResponse Build(RequestContext context, List<(FetchTarget Target, FetchResponse.PartitionData Data)> results,
        HashSet<int> endpoints, FetchSession? session, bool incremental)
    {
        var response = new FetchResponse { SessionId = session?.Id ?? 0 };
        var topics = new Dictionary<(string, Guid), FetchResponse.FetchableTopicResponse>();
        lock (session?.Lock ?? results)
        {
            foreach (var (target, data) in results)
            {
                bool changed = data.ErrorCode != 0
                    || data.Records is { Length: > 0 }
                    || data.HighWatermark != target.LastHighWatermark
                    || data.LastStableOffset != target.LastStableOffset
                    || data.LogStartOffset != target.LastLogStartOffset;
                if (session is not null)
                {
                    target.LastHighWatermark = data.HighWatermark;
                    target.LastStableOffset = data.LastStableOffset;
                    target.LastLogStartOffset = data.LogStartOffset;
                }
                if (incremental && !changed)
                {
                    continue;
                }
                if (!topics.TryGetValue((target.Topic, target.TopicId), out var topicResponse))
                {
                    topicResponse = NewTopicResponse(context, target.Topic, target.TopicId);
                    topics[(target.Topic, target.TopicId)] = topicResponse;
                    response.Responses.Add(topicResponse);
                }
                topicResponse.Partitions.Add(data);
            }
        }
        if (context.ApiVersion >= 16)
        {
            foreach (int id in endpoints.Order())
            {
                var (host, port) = context.Cluster.Endpoint(id);
                response.NodeEndpoints.Add(new FetchResponse.NodeEndpoint { NodeId = id, Host = host, Port = port });
            }
        }
        return response;
    }

    private static FetchResponse.FetchableTopicResponse NewTopicResponse(RequestContext context, string name, Guid id) =>
        context.ApiVersion >= 13
            ? new FetchResponse.FetchableTopicResponse { TopicId = id }
            : new FetchResponse.FetchableTopicResponse { Topic = name };
}
