using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafkaClient.Perf;

/// <summary>
/// Wall clock, CPU of this process (every thread, native ones included: librdkafka's threads
/// count for Confluent.Kafka) and managed allocations (every thread) between <see cref="Start"/>
/// and <see cref="Stop"/>.
/// </summary>
internal sealed class Meter
{
    private long _startTicks;
    private TimeSpan _startCpu;
    private long _startAlloc;
    private TimeSpan _pausedElapsed;
    private TimeSpan _pausedCpu;
    private long _pausedAlloc;

    /// <summary>The stopwatch timestamp <see cref="Start"/> took.</summary>
    public long StartTimestamp => _startTicks;

    public TimeSpan Elapsed { get; private set; }
    public TimeSpan Cpu { get; private set; }
    public long Allocated { get; private set; }

    public void Start()
    {
        // Settle the heap so a collection owed to set-up is not charged to the run.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        (_pausedElapsed, _pausedCpu, _pausedAlloc) = (TimeSpan.Zero, TimeSpan.Zero, 0);
        Resume();
    }

    /// <summary>Stops counting until <see cref="Resume"/> (what runs meanwhile is not charged); <see cref="Stop"/> adds up the counted parts.</summary>
    public void Pause()
    {
        Stop();
        (_pausedElapsed, _pausedCpu, _pausedAlloc) = (Elapsed, Cpu, Allocated);
    }

    /// <summary>Counts again after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        using var self = Process.GetCurrentProcess();
        _startAlloc = GC.GetTotalAllocatedBytes(precise: true);
        _startCpu = self.TotalProcessorTime;
        _startTicks = Stopwatch.GetTimestamp();
    }

    public void Stop()
    {
        long end = Stopwatch.GetTimestamp();
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        long alloc = GC.GetTotalAllocatedBytes(precise: true);
        Elapsed = _pausedElapsed + Stopwatch.GetElapsedTime(_startTicks, end);
        Cpu = _pausedCpu + (cpu - _startCpu);
        Allocated = _pausedAlloc + (alloc - _startAlloc);
    }
}

/// <summary>Per-record latencies in stopwatch ticks, for percentiles.</summary>
internal sealed class LatencyRecorder(long capacity)
{
    private readonly long[] _ticks = new long[Math.Min(capacity, 50_000_000)];
    private long _count;

    public void Add(long ticks)
    {
        if (_count < _ticks.Length)
        {
            _ticks[_count++] = ticks;
        }
    }

    public (double P50, double P99)? Percentiles()
    {
        if (_count == 0)
        {
            return null;
        }
        var span = _ticks.AsSpan(0, (int)_count);
        span.Sort();
        return (ToMs(span[Index(0.50)]), ToMs(span[Index(0.99)]));

        int Index(double q) => Math.Clamp((int)Math.Ceiling(q * _count) - 1, 0, (int)_count - 1);
        static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
    }
}

/// <summary>One run's outcome: the JSON summary line.</summary>
internal sealed record RunResult
{
    public required string Client { get; init; }
    public required string Op { get; init; }
    public required long Messages { get; init; }
    public required long Bytes { get; init; }
    public required double Seconds { get; init; }
    public required double CpuSeconds { get; init; }
    public required long AllocBytes { get; init; }
    public double? P50Ms { get; init; }
    public double? P99Ms { get; init; }
    public long Errors { get; init; }

    /// <summary>Awaited mode, KafkaClient only: the producer's p50 over a bare Produce round trip's p50 (read back by compare).</summary>
    public double? P50VsBare { get; init; }

    /// <summary>Extra descriptive fields appended after the required ones (mode, settings, ...).</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Extra { get; init; } = [];

    public double MsgsPerSec => Seconds > 0 ? Messages / Seconds : 0;
    public double MbPerSec => Seconds > 0 ? Bytes / Seconds / (1024.0 * 1024.0) : 0;
    public double CpuUsPerMsg => Messages > 0 ? CpuSeconds * 1e6 / Messages : 0;
    public double AllocBytesPerMsg => Messages > 0 ? (double)AllocBytes / Messages : 0;

    public static RunResult FromMeter(string client, string op, long messages, long bytes, Meter meter,
        (double P50, double P99)? latency, long errors, IReadOnlyList<KeyValuePair<string, object?>> extra) => new()
    {
        Client = client,
        Op = op,
        Messages = messages,
        Bytes = bytes,
        Seconds = meter.Elapsed.TotalSeconds,
        CpuSeconds = meter.Cpu.TotalSeconds,
        AllocBytes = meter.Allocated,
        P50Ms = latency?.P50,
        P99Ms = latency?.P99,
        Errors = errors,
        Extra = extra,
    };

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("client", Client);
            w.WriteString("op", Op);
            w.WriteNumber("messages", Messages);
            w.WriteNumber("bytes", Bytes);
            w.WriteNumber("seconds", Round(Seconds, 4));
            w.WriteNumber("msgs_per_sec", Round(MsgsPerSec, 1));
            w.WriteNumber("mb_per_sec", Round(MbPerSec, 3));
            w.WriteNumber("cpu_seconds", Round(CpuSeconds, 4));
            w.WriteNumber("cpu_us_per_msg", Round(CpuUsPerMsg, 3));
            w.WriteNumber("alloc_bytes_per_msg", Round(AllocBytesPerMsg, 2));
            WriteNullable(w, "p50_ms", P50Ms);
            WriteNullable(w, "p99_ms", P99Ms);
            w.WriteNumber("errors", Errors);
            foreach (var (name, value) in Extra)
            {
                w.WritePropertyName(name);
                JsonSerializer.Serialize(w, value, value?.GetType() ?? typeof(object), PerfJson.Options);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Round(v, 4));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    internal static double Round(double v, int digits) =>
        double.IsFinite(v) ? Math.Round(v, digits, MidpointRounding.AwayFromZero) : 0;

    /// <summary>Reads a summary line back (compare reads its children's last line).</summary>
    public static RunResult Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        return new RunResult
        {
            Client = root.GetProperty("client").GetString() ?? "",
            Op = root.GetProperty("op").GetString() ?? "",
            Messages = root.GetProperty("messages").GetInt64(),
            Bytes = root.GetProperty("bytes").GetInt64(),
            Seconds = root.GetProperty("seconds").GetDouble(),
            CpuSeconds = root.GetProperty("cpu_seconds").GetDouble(),
            AllocBytes = (long)Math.Round(root.GetProperty("alloc_bytes_per_msg").GetDouble() * root.GetProperty("messages").GetInt64()),
            P50Ms = NullableDouble(root, "p50_ms"),
            P99Ms = NullableDouble(root, "p99_ms"),
            P50VsBare = NullableDouble(root, "p50_vs_bare"),
            Errors = root.GetProperty("errors").GetInt64(),
        };
    }

    private static double? NullableDouble(JsonElement root, string name) =>
        root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;

    public override string ToString()
    {
        var latency = P50Ms is { } p50 ? string.Create(CultureInfo.InvariantCulture, $", p50 {p50:0.000} ms, p99 {P99Ms:0.000} ms") : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Client} {Op}: {Messages} msgs in {Seconds:0.000} s = {MsgsPerSec:#,0} msg/s, {MbPerSec:0.00} MiB/s, CPU {CpuUsPerMsg:0.00} us/msg, alloc {AllocBytesPerMsg:0.0} B/msg{latency}, errors {Errors}");
    }
}

internal static class PerfJson
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };
}
