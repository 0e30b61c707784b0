using System.Collections.Concurrent;
using System.Diagnostics;
using KafkaClient.Producer;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>A cluster whose group coordinator accepts the short session timeouts the consumer group tests use.</summary>
public sealed class ConsumerGroupFixture : EmbeddedClusterFixture
{
    protected override EmbeddedKafkaClusterOptions Options =>
        EmbeddedKafkaClusterOptions.Default with { GroupMinSessionTimeout = TimeSpan.FromSeconds(1) };
}

/// <summary>A signal that wakes every waiter each time it is pulsed; a waiter takes <see cref="Next"/> before checking its condition, so no pulse is missed.</summary>
internal sealed class Pulse
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Next => Volatile.Read(ref _next).Task;

    public void Fire() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}

internal static class GroupTestKit
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, re-checking whenever <paramref name="pulse"/> fires and at least every
    /// 100 ms (for conditions nothing pulses, such as a consumer's assignment); fails with <paramref name="because"/> at the deadline.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string because, Pulse? pulse = null, Func<string>? diagnostics = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        Task? ticked = null;
        while (true)
        {
            var next = pulse?.Next;
            if (condition())
            {
                return;
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {because}.{(diagnostics is null ? "" : Environment.NewLine + diagnostics())}");
            }
            if (ticked is null || ticked.IsCompleted)
            {
                ticked = tick.WaitForNextTickAsync(Ct).AsTask();
            }
            await (next is null ? ticked : Task.WhenAny(ticked, next)).WaitAsync(Ct);
        }
    }

    /// <summary>Waits until the asynchronous <paramref name="condition"/> holds (a Kafka error counts as not yet), checking every 100 ms.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string because, Func<string>? diagnostics = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (true)
        {
            bool holds;
            try
            {
                holds = await condition();
            }
            catch (Errors.KafkaException)
            {
                holds = false;
            }
            if (holds)
            {
                return;
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {because}.{(diagnostics is null ? "" : Environment.NewLine + diagnostics())}");
            }
            await tick.WaitForNextTickAsync(Ct);
        }
    }

    /// <summary>
    /// Writes <paramref name="count"/> records with keys <paramref name="first"/>, <paramref name="first"/> + 1, ...: key <c>i</c> goes to
    /// partition <c>i % partitions</c>, in order, so a topic filled only this way (from key 0 on) has key <c>i</c> at offset <c>i / partitions</c>.
    /// </summary>
    public static async Task ProduceIndexedAsync(string bootstrap, string topic, int partitions, int count, int valueBytes = 100, int first = 0)
    {
        await using var producer = new KafkaProducer<int, byte[]>(new ProducerOptions
        {
            BootstrapServers = bootstrap,
            Linger = TimeSpan.FromMilliseconds(20),
            BatchSize = 256 * 1024,
        });
        var value = new byte[valueBytes];
        Exception? failure = null;
        for (int i = first; i < first + count; i++)
        {
            producer.Produce(new TopicPartition(topic, i % partitions), new Message<int, byte[]> { Key = i, Value = value }, d =>
            {
                if (d.Error is { } e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
            });
        }
        await producer.FlushAsync(Ct);
        if (failure is not null)
        {
            throw new InvalidOperationException("Producing the test records failed.", failure);
        }
    }
}

/// <summary>Collects the consumers' log lines (with the member's name) so a failing test can show what the group did.</summary>
internal sealed class CapturedLog : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Called for every captured line: member name, event id, message.</summary>
    public Action<string, EventId, string>? OnLine { get; set; }

    public ILoggerFactory For(string member) => new Named(this, member);

    public string Dump(int last = 300) => string.Join(Environment.NewLine, _lines.TakeLast(last));

    public void Note(string member, string message) => _lines.Enqueue($"{_clock.Elapsed.TotalSeconds,8:0.000} {member,-6} TEST {message}");

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, "?");

    public void Dispose()
    {
    }

    private void Add(string member, LogLevel level, EventId id, string message)
    {
        _lines.Enqueue($"{_clock.Elapsed.TotalSeconds,8:0.000} {member,-6} {level,-11} {id.Id} {message}");
        OnLine?.Invoke(member, id, message);
    }

    private sealed class Named(CapturedLog log, string member) : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => new Logger(log, member);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(CapturedLog log, string member) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Add(member, logLevel, eventId, formatter(state, exception));
    }
}
