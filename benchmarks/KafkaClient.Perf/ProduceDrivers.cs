using System.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Producer;
using Ck = Confluent.Kafka;
using KcNull = KafkaClient.Serialization.Null;

namespace KafkaClient.Perf;

/// <summary>One client's producer, driven in one of the three modes.</summary>
internal interface IProduceDriver : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Produces records <paramref name="from"/>..<paramref name="from"/>+<paramref name="count"/>-1 and returns once each is delivered or failed.</summary>
    Task RunAsync(long from, long count, ProduceMode mode, Progress progress, LatencyRecorder? latency);
}

internal static class ProduceDrivers
{
    public static IProduceDriver Create(ProduceSettings s, string bootstrap, Payloads payloads) => (s.Client, payloads.Keys) switch
    {
        (ClientKind.KafkaClient, KeyMode.None) => new KafkaClientDriver<KcNull>(s, bootstrap, Unkeyed<KcNull>(payloads)),
        (ClientKind.KafkaClient, _) => new KafkaClientDriver<long>(s, bootstrap, i => new Message<long, byte[]> { Key = payloads.KeyFor(i), Value = payloads.Value }),
        (ClientKind.Confluent, KeyMode.None) => new ConfluentDriver<Ck.Null>(s, bootstrap, UnkeyedConfluent(payloads)),
        _ => new ConfluentDriver<long>(s, bootstrap, i => new Ck.Message<long, byte[]> { Key = payloads.KeyFor(i), Value = payloads.Value }),
    };

    // Without keys one message object serves every record: only the client's own allocations are counted.
    private static Func<long, Message<TKey, byte[]>> Unkeyed<TKey>(Payloads payloads)
    {
        var message = new Message<TKey, byte[]> { Value = payloads.Value };
        return _ => message;
    }

    private static Func<long, Ck.Message<Ck.Null, byte[]>> UnkeyedConfluent(Payloads payloads)
    {
        var message = new Ck.Message<Ck.Null, byte[]> { Value = payloads.Value };
        return _ => message;
    }
}

/// <summary>KafkaClient's <see cref="KafkaProducer{TKey,TValue}"/>.</summary>
internal sealed class KafkaClientDriver<TKey> : IProduceDriver
{
    private readonly KafkaProducer<TKey, byte[]> _producer;
    private readonly string _topic;
    private readonly int _window;
    private readonly Func<long, Message<TKey, byte[]>> _message;
    private ValueTask<DeliveryResult<TKey, byte[]>>?[]? _slots;

    public KafkaClientDriver(ProduceSettings s, string bootstrap, Func<long, Message<TKey, byte[]>> message)
    {
        var options = new ProducerOptions
        {
            BootstrapServers = bootstrap,
            ClientId = "kafkaclient-perf",
            Acks = s.Acks switch { AcksSetting.Leader => Acks.Leader, AcksSetting.None => Acks.None, _ => Acks.All },
            Linger = TimeSpan.FromMilliseconds(s.LingerMs),
            Compression = s.Compression switch
            {
                "gzip" => CompressionType.Gzip,
                "snappy" => CompressionType.Snappy,
                "lz4" => CompressionType.Lz4,
                "zstd" => CompressionType.Zstd,
                _ => CompressionType.None,
            },
            EnableIdempotence = s.Idempotent,
        };
        if (s.BatchBytes is { } batch)
        {
            options = options with { BatchSize = batch };
        }
        _producer = new KafkaProducer<TKey, byte[]>(options);
        _topic = s.Topic;
        _window = s.Window;
        _message = message;
    }

    public string Name => "kafkaclient";

    public async Task RunAsync(long from, long count, ProduceMode mode, Progress progress, LatencyRecorder? latency)
    {
        long end = from + count;
        var all = progress.Expect(progress.Completed + count);
        switch (mode)
        {
            case ProduceMode.Callback:
                Action<DeliveryResult<TKey, byte[]>> onDelivery = r =>
                {
                    if (r.Error is { } error)
                    {
                        progress.Failure(error.Message);
                    }
                    else
                    {
                        progress.Success();
                    }
                };
                for (long i = from; i < end; i++)
                {
                    try
                    {
                        _producer.Produce(_topic, _message(i), onDelivery);
                    }
                    catch (KafkaException ex)
                    {
                        progress.Failure(ex.Message);
                    }
                }
                await _producer.FlushAsync().ConfigureAwait(false);
                await all.ConfigureAwait(false);
                break;

            case ProduceMode.Async:
                // The harness's slots are allocated once, before the measured run (they are not the client's allocations).
                var window = _slots ??= new ValueTask<DeliveryResult<TKey, byte[]>>?[_window];
                Array.Clear(window);
                int length = (int)Math.Min(window.Length, count);
                for (long i = from; i < end; i++)
                {
                    int slot = (int)((i - from) % length);
                    if (window[slot] is { } oldest)
                    {
                        await Observe(oldest, progress).ConfigureAwait(false);
                    }
                    window[slot] = _producer.ProduceAsync(_topic, _message(i));
                }
                for (long i = end; i < end + length; i++)
                {
                    if (window[(int)((i - from) % length)] is { } pending)
                    {
                        await Observe(pending, progress).ConfigureAwait(false);
                    }
                }
                break;

            case ProduceMode.Awaited:
                for (long i = from; i < end; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    await Observe(_producer.ProduceAsync(_topic, _message(i)), progress).ConfigureAwait(false);
                    latency?.Add(Stopwatch.GetTimestamp() - start);
                }
                break;
        }
    }

    private static async ValueTask Observe(ValueTask<DeliveryResult<TKey, byte[]>> task, Progress progress)
    {
        try
        {
            await task.ConfigureAwait(false);
            progress.Success();
        }
        catch (KafkaException ex)
        {
            progress.Failure(ex.Message);
        }
    }

    public ValueTask DisposeAsync() => _producer.DisposeAsync();
}

/// <summary>Confluent.Kafka's producer (librdkafka).</summary>
internal sealed class ConfluentDriver<TKey> : IProduceDriver
{
    private readonly Ck.IProducer<TKey, byte[]> _producer;
    private readonly string _topic;
    private readonly int _window;
    private readonly Func<long, Ck.Message<TKey, byte[]>> _message;
    private Task<Ck.DeliveryResult<TKey, byte[]>>?[]? _slots;

    public ConfluentDriver(ProduceSettings s, string bootstrap, Func<long, Ck.Message<TKey, byte[]>> message)
    {
        var config = new Ck.ProducerConfig
        {
            BootstrapServers = bootstrap,
            ClientId = "confluent-perf",
            Acks = s.Acks switch { AcksSetting.Leader => Ck.Acks.Leader, AcksSetting.None => Ck.Acks.None, _ => Ck.Acks.All },
            LingerMs = s.LingerMs,
            CompressionType = s.Compression switch
            {
                "gzip" => Ck.CompressionType.Gzip,
                "snappy" => Ck.CompressionType.Snappy,
                "lz4" => Ck.CompressionType.Lz4,
                "zstd" => Ck.CompressionType.Zstd,
                _ => Ck.CompressionType.None,
            },
            EnableIdempotence = s.Idempotent,
            // Same key -> partition mapping as the Java client (and KafkaClient's default partitioner).
            Partitioner = Ck.Partitioner.Murmur2Random,
        };
        if (s.BatchBytes is { } batch)
        {
            config.BatchSize = batch;
        }
        if (s.Mode == ProduceMode.Async)
        {
            // ProduceAsync fails with Local_QueueFull past 100,000 queued records by default: leave room for the window.
            config.QueueBufferingMaxMessages = Math.Max(100_000, s.Window + 10_000);
        }
        _producer = new Ck.ProducerBuilder<TKey, byte[]>(config)
            .SetErrorHandler((_, e) => Console.Error.WriteLine($"[confluent] error: {e.Code} {e.Reason}"))
            .SetLogHandler((_, m) => Console.Error.WriteLine($"[confluent] {m.Level} {m.Facility}: {m.Message}"))
            .Build();
        _topic = s.Topic;
        _window = s.Window;
        _message = message;
    }

    public string Name => "confluent";

    public async Task RunAsync(long from, long count, ProduceMode mode, Progress progress, LatencyRecorder? latency)
    {
        long end = from + count;
        var all = progress.Expect(progress.Completed + count);
        switch (mode)
        {
            case ProduceMode.Callback:
                Action<Ck.DeliveryReport<TKey, byte[]>> onDelivery = r =>
                {
                    if (r.Error.IsError)
                    {
                        progress.Failure(r.Error.Reason);
                    }
                    else
                    {
                        progress.Success();
                    }
                };
                for (long i = from; i < end; i++)
                {
                    var message = _message(i);
                    while (true)
                    {
                        try
                        {
                            _producer.Produce(_topic, message, onDelivery);
                            break;
                        }
                        catch (Ck.ProduceException<TKey, byte[]> ex) when (ex.Error.Code == Ck.ErrorCode.Local_QueueFull)
                        {
                            // librdkafka's queue (queue.buffering.max.messages) is full: let deliveries drain.
                            Thread.Sleep(1);
                        }
                        catch (Ck.KafkaException ex)
                        {
                            progress.Failure(ex.Error.Reason);
                            break;
                        }
                    }
                }
                while (_producer.Flush(TimeSpan.FromSeconds(1)) > 0)
                {
                }
                await all.ConfigureAwait(false);
                break;

            case ProduceMode.Async:
                // The harness's slots are allocated once, before the measured run (they are not the client's allocations).
                var window = _slots ??= new Task<Ck.DeliveryResult<TKey, byte[]>>?[_window];
                Array.Clear(window);
                int length = (int)Math.Min(window.Length, count);
                for (long i = from; i < end; i++)
                {
                    int slot = (int)((i - from) % length);
                    if (window[slot] is { } oldest)
                    {
                        await Observe(oldest, progress).ConfigureAwait(false);
                    }
                    window[slot] = _producer.ProduceAsync(_topic, _message(i));
                }
                for (long i = end; i < end + length; i++)
                {
                    if (window[(int)((i - from) % length)] is { } pending)
                    {
                        await Observe(pending, progress).ConfigureAwait(false);
                    }
                }
                break;

            case ProduceMode.Awaited:
                for (long i = from; i < end; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    await Observe(_producer.ProduceAsync(_topic, _message(i)), progress).ConfigureAwait(false);
                    latency?.Add(Stopwatch.GetTimestamp() - start);
                }
                break;
        }
    }

    private static async Task Observe(Task<Ck.DeliveryResult<TKey, byte[]>> task, Progress progress)
    {
        try
        {
            await task.ConfigureAwait(false);
            progress.Success();
        }
        catch (Ck.KafkaException ex)
        {
            progress.Failure(ex.Error.Reason);
        }
    }

    public ValueTask DisposeAsync()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
        return ValueTask.CompletedTask;
    }
}
