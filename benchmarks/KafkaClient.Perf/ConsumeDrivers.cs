using KafkaClient.Cluster;
using Ck = Confluent.Kafka;

namespace KafkaClient.Perf;

/// <summary>What a consume run counted.</summary>
internal sealed class ConsumeTally
{
    public long Records;
    public long Bytes;
    public long Errors;
    public string? FirstError;

    /// <summary>Stopwatch timestamp of the first record (0 until then).</summary>
    public long FirstRecordAt;

    /// <summary>Records that are warm-up: when that many have been read, <see cref="WarmedUp"/> runs (starting the measurement).</summary>
    public long WarmupRecords;

    /// <summary>Bytes read during the warm-up.</summary>
    public long WarmupBytes;

    public Action? WarmedUp;

    public void Add(long bytes)
    {
        Records++;
        Bytes += bytes;
        if (Records == WarmupRecords)
        {
            WarmupBytes = Bytes;
            WarmedUp?.Invoke();
        }
    }
}

/// <summary>One client's consumer: reads <c>Messages</c> records of a topic from the beginning.</summary>
internal interface IConsumeDriver : IAsyncDisposable
{
    string Name { get; }

    /// <summary>
    /// Set-up that is not measured (creating the client, looking up partitions). Subscribing or
    /// assigning, and so a group join, happens in <see cref="RunAsync"/> and is measured.
    /// </summary>
    Task PrepareAsync(CancellationToken cancellationToken);

    Task RunAsync(ConsumeTally tally, CancellationToken cancellationToken);
}

internal static class ConsumeDrivers
{
    /// <summary>The consumer of each client.</summary>
    public static IConsumeDriver Create(ConsumeSettings s, string bootstrap) => s.Client switch
    {
        ClientKind.Confluent => new ConfluentConsumeDriver(s, bootstrap),
        _ => new KafkaClientConsumeDriver(s, bootstrap),
    };

    /// <summary>Partitions of the topic, from our protocol client (setup only, never measured).</summary>
    public static async Task<int[]> PartitionsAsync(string bootstrap, string topic, CancellationToken cancellationToken)
    {
        var options = KafkaClientOptions.Default with { BootstrapServers = bootstrap, ClientId = "kafkaclient-perf-setup" };
        await using var client = await KafkaProtocolClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        var metadata = await client.RefreshMetadataAsync([topic], cancellationToken).ConfigureAwait(false);
        if (!metadata.Topics.TryGetValue(topic, out var t) || t.Error != Errors.ErrorCode.None || t.Partitions.Count == 0)
        {
            throw new InvalidOperationException($"Topic {topic} does not exist (or has no partitions); produce to it first.");
        }
        return t.Partitions.Select(p => p.Partition).Order().ToArray();
    }
}

/// <summary>
/// Confluent.Kafka's consumer. It has one consumption API, <c>Consume(timeout)</c>: <c>stream</c>
/// is that loop; <c>batch</c> collects up to --batch-size records (or what arrived within 100 ms)
/// before handling them, as users do without a batch API; <c>callback</c> hands each record to a
/// delegate from the loop. Values and keys are read as byte arrays (its cheapest deserializer).
/// </summary>
internal sealed class ConfluentConsumeDriver : IConsumeDriver
{
    private readonly ConsumeSettings _settings;
    private readonly string _bootstrap;
    private Ck.IConsumer<byte[]?, byte[]?>? _consumer;
    private int[] _partitions = [];

    public ConfluentConsumeDriver(ConsumeSettings settings, string bootstrap)
    {
        _settings = settings;
        _bootstrap = bootstrap;
    }

    public string Name => "confluent";

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_settings.Group is null)
        {
            _partitions = await ConsumeDrivers.PartitionsAsync(_bootstrap, _settings.Topic, cancellationToken).ConfigureAwait(false);
        }
        var config = new Ck.ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            ClientId = "confluent-perf",
            // Assignment without a group still needs a group.id in librdkafka; it is never joined then.
            GroupId = _settings.Group ?? "kafkaclient-perf-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = Ck.AutoOffsetReset.Earliest,
            EnableAutoCommit = _settings.Group is not null,
            EnablePartitionEof = false,
        };
        _consumer = new Ck.ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler((_, e) => Console.Error.WriteLine($"[confluent] error: {e.Code} {e.Reason}"))
            .SetLogHandler((_, m) => Console.Error.WriteLine($"[confluent] {m.Level} {m.Facility}: {m.Message}"))
            .Build();
    }

    public Task RunAsync(ConsumeTally tally, CancellationToken cancellationToken)
    {
        var consumer = _consumer ?? throw new InvalidOperationException("PrepareAsync first.");
        if (_settings.Group is null)
        {
            consumer.Assign(_partitions.Select(p => new Ck.TopicPartitionOffset(_settings.Topic, p, Ck.Offset.Beginning)));
        }
        else
        {
            consumer.Subscribe(_settings.Topic);
        }

        long target = _settings.Total;
        var poll = TimeSpan.FromMilliseconds(100);
        switch (_settings.Mode)
        {
            case ConsumeMode.Batch:
                var batch = new List<Ck.ConsumeResult<byte[]?, byte[]?>>(_settings.BatchSize);
                while (tally.Records < target && !cancellationToken.IsCancellationRequested)
                {
                    batch.Clear();
                    long deadline = Environment.TickCount64 + 100;
                    int want = (int)Math.Min(_settings.BatchSize, target - tally.Records);
                    while (batch.Count < want)
                    {
                        long left = deadline - Environment.TickCount64;
                        if (left <= 0)
                        {
                            break;
                        }
                        var r = Next(consumer, TimeSpan.FromMilliseconds(left), tally);
                        if (r is not null)
                        {
                            batch.Add(r);
                        }
                    }
                    foreach (var r in batch)
                    {
                        Count(r, tally);
                    }
                }
                break;

            case ConsumeMode.Callback:
                Action<Ck.ConsumeResult<byte[]?, byte[]?>> handler = r => Count(r, tally);
                while (tally.Records < target && !cancellationToken.IsCancellationRequested)
                {
                    if (Next(consumer, poll, tally) is { } r)
                    {
                        handler(r);
                    }
                }
                break;

            default:
                while (tally.Records < target && !cancellationToken.IsCancellationRequested)
                {
                    if (Next(consumer, poll, tally) is { } r)
                    {
                        Count(r, tally);
                    }
                }
                break;
        }
        return Task.CompletedTask;
    }

    private static Ck.ConsumeResult<byte[]?, byte[]?>? Next(Ck.IConsumer<byte[]?, byte[]?> consumer, TimeSpan timeout, ConsumeTally tally)
    {
        try
        {
            var r = consumer.Consume(timeout);
            if (r is not null && tally.FirstRecordAt == 0)
            {
                tally.FirstRecordAt = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            return r;
        }
        catch (Ck.ConsumeException ex)
        {
            tally.Errors++;
            tally.FirstError ??= ex.Error.Reason;
            return null;
        }
    }

    private static void Count(Ck.ConsumeResult<byte[]?, byte[]?> r, ConsumeTally tally)
    {
        tally.Add((r.Message.Value?.Length ?? 0) + (r.Message.Key?.Length ?? 0));
    }

    public ValueTask DisposeAsync()
    {
        if (_consumer is { } consumer)
        {
            try
            {
                consumer.Close();
            }
            catch (Ck.KafkaException ex)
            {
                Console.Error.WriteLine($"[confluent] close: {ex.Message}");
            }
            consumer.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// KafkaClient's consumer, reading raw bytes without copies (<see cref="ReadOnlyMemory{T}"/> keys and values):
/// <c>stream</c> is <c>await foreach</c> over <c>ConsumeAllAsync</c>, <c>batch</c> is <c>ConsumeBatchAsync</c>
/// with --batch-size, <c>callback</c> is the runner's per-record handler.
/// </summary>
internal sealed class KafkaClientConsumeDriver(ConsumeSettings settings, string bootstrap) : IConsumeDriver
{
    private KafkaClient.Consumer.KafkaConsumer<ReadOnlyMemory<byte>, ReadOnlyMemory<byte>>? _consumer;
    private int[] _partitions = [];

    public string Name => "kafkaclient";

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (settings.Group is null)
        {
            _partitions = await ConsumeDrivers.PartitionsAsync(bootstrap, settings.Topic, cancellationToken).ConfigureAwait(false);
        }
        _consumer = new KafkaClient.Consumer.KafkaConsumer<ReadOnlyMemory<byte>, ReadOnlyMemory<byte>>(new KafkaClient.Consumer.ConsumerOptions
        {
            BootstrapServers = bootstrap,
            ClientId = "kafkaclient-perf",
            GroupId = settings.Group,
            AutoOffsetReset = KafkaClient.Consumer.AutoOffsetReset.Earliest,
        });
    }

    public async Task RunAsync(ConsumeTally tally, CancellationToken cancellationToken)
    {
        var consumer = _consumer ?? throw new InvalidOperationException("PrepareAsync first.");
        if (settings.Group is null)
        {
            consumer.Assign(_partitions.Select(p => new TopicPartitionOffset(new TopicPartition(settings.Topic, p), KafkaClient.Consumer.Offset.Beginning)));
        }
        else
        {
            consumer.Subscribe([settings.Topic]);
        }
        long target = settings.Total;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            switch (settings.Mode)
            {
                case ConsumeMode.Batch:
                    while (tally.Records < target)
                    {
                        var batch = await consumer.ConsumeBatchAsync((int)Math.Min(settings.BatchSize, target - tally.Records), TimeSpan.FromMilliseconds(100), done.Token).ConfigureAwait(false);
                        for (int i = 0; i < batch.Count; i++)
                        {
                            Count(batch[i], tally);
                        }
                    }
                    break;

                case ConsumeMode.Callback:
                    await consumer.RunAsync((r, _) =>
                    {
                        Count(r, tally);
                        if (tally.Records >= target)
                        {
                            done.Cancel();
                        }
                        return ValueTask.CompletedTask;
                    }, cancellationToken: done.Token).ConfigureAwait(false);
                    break;

                default:
                    await foreach (var r in consumer.ConsumeAllAsync(done.Token).ConfigureAwait(false))
                    {
                        Count(r, tally);
                        if (tally.Records >= target)
                        {
                            break;
                        }
                    }
                    break;
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
        }
        catch (KafkaClient.Errors.KafkaException ex)
        {
            tally.Errors++;
            tally.FirstError ??= ex.Message;
        }
    }

    private static void Count(in KafkaClient.Consumer.ConsumeResult<ReadOnlyMemory<byte>, ReadOnlyMemory<byte>> r, ConsumeTally tally)
    {
        if (tally.FirstRecordAt == 0)
        {
            tally.FirstRecordAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        tally.Add(r.Value.Length + r.Key.Length);
    }

    public async ValueTask DisposeAsync()
    {
        if (_consumer is { } consumer)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
