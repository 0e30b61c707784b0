using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// Fetch: whole batches from the fetch offset, bounded by partition and response max bytes (the
/// first batch of the response always whole, KIP-74), up to the high watermark or, for
/// read_committed, the last stable offset with the aborted transactions. Waits up to MaxWaitMs
/// for MinBytes, woken by appends to any requested partition (no polling). Topics by name before
/// v13, by id from v13. Fetch sessions (KIP-227): full fetches are served sessionless (session
/// id 0 in the response, which tells the client no session was created); an incremental fetch
/// names a session that does not exist, so it gets FETCH_SESSION_ID_NOT_FOUND.
/// </summary>
internal sealed class FetchHandler() : ApiHandler<FetchRequest, FetchResponse>(ApiKey.Fetch)
{
    private const sbyte ReadCommitted = 1;

    protected override async ValueTask<FetchResponse?> HandleAsync(RequestContext context, FetchRequest request, CancellationToken cancellationToken)
    {
        if (context.ApiVersion >= 7 && request.SessionEpoch > 0)
        {
            return new FetchResponse { ErrorCode = ErrorCode.FetchSessionIdNotFound.Code(), SessionId = 0 };
        }
        var time = context.Cluster.Options.TimeProvider;
        long start = time.GetTimestamp();
        var maxWait = TimeSpan.FromMilliseconds(Math.Max(0, request.MaxWaitMs));
        var signals = new List<Task>();
        while (true)
        {
            signals.Clear();
            var response = Read(context, request, signals, out int bytes, out bool anyError);
            var remaining = maxWait - time.GetElapsedTime(start);
            if (bytes >= request.MinBytes || anyError || signals.Count == 0 || remaining <= TimeSpan.Zero)
            {
                return response;
            }
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var timeout = Task.Delay(remaining, time, wake.Token);
            signals.Add(timeout);
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

    private static FetchResponse Read(RequestContext context, FetchRequest request, List<Task> signals, out int bytes, out bool anyError)
    {
        short version = context.ApiVersion;
        var cluster = context.Cluster;
        bool readCommitted = request.IsolationLevel == ReadCommitted;
        int responseMax = request.MaxBytes <= 0 ? int.MaxValue : request.MaxBytes;
        var response = new FetchResponse { SessionId = 0 };
        var endpoints = new HashSet<int>();
        bytes = 0;
        anyError = false;
        foreach (var wanted in request.Topics)
        {
            var topic = version >= 13 ? cluster.GetTopic(wanted.TopicId) : cluster.GetTopic(wanted.Topic);
            var topicResponse = NewTopicResponse(context, wanted.Topic, wanted.TopicId);
            response.Responses.Add(topicResponse);
            foreach (var p in wanted.Partitions)
            {
                var data = new FetchResponse.PartitionData
                {
                    PartitionIndex = p.Partition,
                    HighWatermark = -1,
                    LastStableOffset = -1,
                    LogStartOffset = -1,
                };
                topicResponse.Partitions.Add(data);
                ErrorCode error;
                if (topic is null && version >= 13)
                {
                    error = ErrorCode.UnknownTopicId;
                }
                else
                {
                    error = Partitions.FindLed(context, topic, p.Partition, out var partition, out var leadership);
                    if (error == ErrorCode.None && version >= 9)
                    {
                        error = Partitions.CheckEpoch(p.CurrentLeaderEpoch, leadership!.LeaderEpoch);
                    }
                    if (error == ErrorCode.None)
                    {
                        var log = partition!.Log;
                        signals.Add(log.Changed);
                        int available = responseMax - bytes;
                        bool first = bytes == 0;
                        int maxBytes = Math.Max(0, Math.Min(p.PartitionMaxBytes, available));
                        error = log.Read(p.FetchOffset, readCommitted, maxBytes, minOneBatch: first && maxBytes >= 0, out var read);
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
        }
        if (version >= 16)
        {
            foreach (int id in endpoints.Order())
            {
                var (host, port) = cluster.Endpoint(id);
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
