using System.Collections.Concurrent;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Testing.Server;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Helpers shared by the consumer tests: condition waits with deadlines, producing, and request spies on the embedded cluster.</summary>
internal static class ConsumerTestKit
{
    /// <summary>A deadline for anything that should happen "soon": generous, so that a slow machine does not fail a test.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Waits (polling every 10 ms, no fixed sleep) until <paramref name="condition"/> holds; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {what}.");
            }
            await Task.Delay(10, Ct);
        }
    }

    /// <summary>Waits until an asynchronous <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {what}.");
            }
            await Task.Delay(20, Ct);
        }
    }

    /// <summary>Consumes until <paramref name="count"/> records have arrived; fails after the deadline.</summary>
    public static async Task<List<ConsumeResult<TKey, TValue>>> ConsumeAsync<TKey, TValue>(IConsumer<TKey, TValue> consumer, int count, TimeSpan? timeout = null)
    {
        var records = new List<ConsumeResult<TKey, TValue>>(count);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(timeout ?? Deadline);
        try
        {
            while (records.Count < count)
            {
                records.AddRange(await consumer.ConsumeBatchAsync(count - records.Count, TimeSpan.FromSeconds(1), cts.Token));
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Only {records.Count} of {count} records arrived before the deadline.");
        }
        return records;
    }

    /// <summary>Waits a short while for records that should not come; returns whatever came.</summary>
    public static async Task<IReadOnlyList<ConsumeResult<TKey, TValue>>> DrainAsync<TKey, TValue>(IConsumer<TKey, TValue> consumer, int wait = 300) =>
        await consumer.ConsumeBatchAsync(1000, TimeSpan.FromMilliseconds(wait), Ct);

    public static string NewTopic(EmbeddedKafkaCluster cluster, string prefix, int partitions = 1, short replicationFactor = 1)
    {
        string topic = EmbeddedClusterFixture.UniqueName(prefix);
        cluster.CreateTopic(topic, partitions, replicationFactor);
        return topic;
    }

    /// <summary>Produces <paramref name="count"/> records "v{i}" (key "k{i}") to one partition, all in flight at once (few batches).</summary>
    public static async Task ProduceAsync(EmbeddedKafkaCluster cluster, string topic, int partition, int count, int first = 0)
    {
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });
        await Task.WhenAll(Enumerable.Range(first, count).Select(i =>
            producer.ProduceAsync(new TopicPartition(topic, partition), new Message<string, string> { Key = "k" + i, Value = "v" + i }, Ct).AsTask()));
    }

    /// <summary>Produces <paramref name="count"/> records to one partition one at a time, so each is a batch of its own, with a value of <paramref name="valueBytes"/> bytes.</summary>
    public static async Task ProduceOneBatchEachAsync(EmbeddedKafkaCluster cluster, string topic, int partition, int count, int valueBytes)
    {
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers, Linger = TimeSpan.Zero });
        for (int i = 0; i < count; i++)
        {
            string value = i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture).PadRight(valueBytes, 'x');
            await producer.ProduceAsync(new TopicPartition(topic, partition), new Message<string, string> { Key = "k" + i, Value = value }, Ct);
        }
    }

    /// <summary>Wraps the cluster's handler of <paramref name="apiKey"/> with a spy (replacing any earlier spy of that key).</summary>
    public static ApiSpy Spy(this EmbeddedKafkaCluster cluster, ApiKey apiKey)
    {
        var current = cluster.Handlers.Get((short)apiKey) ?? throw new InvalidOperationException($"No handler for {apiKey}.");
        var inner = current is ApiSpy spy ? spy.Inner : current;
        var wrapper = new ApiSpy(inner);
        cluster.Handlers.Register(wrapper);
        return wrapper;
    }

    /// <summary>
    /// Waits until the members agree on one generation and their assignments (as joined and as held) split
    /// <paramref name="partitions"/> partitions between them with none left out.
    /// </summary>
    public static Task WaitForStableGroupAsync(int partitions, params (IConsumer<string, string> Consumer, RebalanceLog Log)[] members) =>
        WaitUntilAsync(() =>
        {
            var joins = members.Select(m => m.Log.LastJoined).ToList();
            if (joins.Any(j => j is null) || joins.Select(j => j!.GenerationId).Distinct().Count() != 1)
            {
                return false;
            }
            var held = members.Select(m => m.Consumer.Assignment.ToHashSet()).ToList();
            return held.Zip(joins).All(p => p.First.SetEquals(p.Second!.Partitions))
                && held.Sum(h => h.Count) == partitions
                && held.SelectMany(h => h).Distinct().Count() == partitions;
        }, Deadline, $"{members.Length} members share {partitions} partitions in one generation");

    /// <summary>Leadership and offsets of an existing partition.</summary>
    public static EmbeddedPartitionInfo Partition(this EmbeddedKafkaCluster cluster, string topic, int partition) =>
        cluster.DescribePartition(topic, partition) ?? throw new InvalidOperationException($"{topic}[{partition}] does not exist.");

    /// <summary>Parses a record set into (base offset, record count, total length) per batch.</summary>
    public static List<(long BaseOffset, int Records, int Length)> Batches(ReadOnlySpan<byte> recordSet)
    {
        var batches = new List<(long, int, int)>();
        int p = 0;
        while (recordSet.Length - p >= 61)
        {
            long baseOffset = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(recordSet[p..]);
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 8)..]);
            if (length > recordSet.Length - p - 12)
            {
                break;
            }
            int records = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 57)..]);
            batches.Add((baseOffset, records, 12 + length));
            p += 12 + length;
        }
        return batches;
    }
}

/// <summary>Records a consumer's rebalance events (use <see cref="Handler"/> as <see cref="ConsumerOptions.OnRebalance"/>).</summary>
internal sealed class RebalanceLog
{
    private readonly ConcurrentQueue<RebalanceEvent> _events = new();

    /// <summary>Runs (and is awaited) before the event is recorded as finished; may block the membership task.</summary>
    public Func<RebalanceEvent, CancellationToken, Task>? OnEvent { get; set; }

    public Func<RebalanceEvent, CancellationToken, ValueTask> Handler => async (e, ct) =>
    {
        _events.Enqueue(e);
        if (OnEvent is { } onEvent)
        {
            await onEvent(e, ct);
        }
    };

    public IReadOnlyList<RebalanceEvent> Events => [.. _events];

    public int Count => _events.Count;

    public RebalanceEvent? LastJoined => _events.LastOrDefault(e => e.Kind == RebalanceEventKind.GroupJoined);

    public IEnumerable<RebalanceEventKind> Kinds => _events.Select(e => e.Kind);
}

/// <summary>A request the spy saw and what was answered.</summary>
internal sealed record SpiedRequest(int BrokerId, string? ClientId, IKafkaRequest Request, IKafkaResponse? Response);

/// <summary>
/// Wraps an embedded-cluster API handler: records every request it answers (injected faults never reach it), and lets a
/// test replace the handling (<see cref="Override"/>) or adjust the response (<see cref="OnResponse"/>).
/// </summary>
internal sealed class ApiSpy(IApiHandler inner) : IApiHandler
{
    private readonly ConcurrentQueue<SpiedRequest> _seen = new();

    public IApiHandler Inner { get; } = inner;

    public ApiKey ApiKey => Inner.ApiKey;

    public ApiDescriptor Descriptor => Inner.Descriptor;

    public short MinVersion => Inner.MinVersion;

    public short MaxVersion => AdvertisedMaxVersion ?? Inner.MaxVersion;

    /// <summary>When set, the highest version ApiVersions advertises (a broker older than the codec).</summary>
    public short? AdvertisedMaxVersion { get; set; }

    /// <summary>Replaces the handling: given the context, the request and the inner handler, answers.</summary>
    public Func<RequestContext, IKafkaRequest, IApiHandler, CancellationToken, ValueTask<IKafkaResponse?>>? Override { get; set; }

    /// <summary>Adjusts a response before it is sent (copy record memory before changing it: it is the log's).</summary>
    public Action<RequestContext, IKafkaRequest, IKafkaResponse>? OnResponse { get; set; }

    public IReadOnlyList<SpiedRequest> Seen => [.. _seen];

    public IEnumerable<SpiedRequest> From(string clientId) => _seen.Where(s => s.ClientId == clientId);

    /// <summary>Requests as they arrive (before they are answered), by client id.</summary>
    public ConcurrentQueue<(string? ClientId, IKafkaRequest Request)> Arrived { get; } = new();

    public async ValueTask<IKafkaResponse?> HandleAsync(RequestContext context, IKafkaRequest request, CancellationToken cancellationToken)
    {
        Arrived.Enqueue((context.Header.ClientId, request));
        var response = Override is { } handle
            ? await handle(context, request, Inner, cancellationToken)
            : await Inner.HandleAsync(context, request, cancellationToken);
        if (response is not null)
        {
            OnResponse?.Invoke(context, request, response);
        }
        _seen.Enqueue(new SpiedRequest(context.BrokerId, context.Header.ClientId, request, response));
        return response;
    }

    public IKafkaResponse ErrorResponse(RequestContext context, IKafkaRequest request, ErrorCode error) => Inner.ErrorResponse(context, request, error);
}

/// <summary>A three-broker cluster whose group coordinator accepts session timeouts down to 500 ms.</summary>
public sealed class ShortSessionClusterFixture : EmbeddedClusterFixture
{
    protected override EmbeddedKafkaClusterOptions Options =>
        EmbeddedKafkaClusterOptions.Default with { GroupMinSessionTimeout = TimeSpan.FromMilliseconds(500) };
}
