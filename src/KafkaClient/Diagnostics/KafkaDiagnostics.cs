using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KafkaClient.Diagnostics;

/// <summary>
/// The names under which KafkaClient publishes metrics (<see cref="System.Diagnostics.Metrics"/>)
/// and traces (<see cref="ActivitySource"/>). Subscribe with OpenTelemetry's
/// <c>AddMeter(KafkaDiagnostics.MeterName)</c> and <c>AddSource(KafkaDiagnostics.ActivitySourceName)</c>.
/// </summary>
public static class KafkaDiagnostics
{
    /// <summary>The meter name: <c>KafkaClient</c>.</summary>
    public const string MeterName = "KafkaClient";

    /// <summary>The activity source name: <c>KafkaClient</c>.</summary>
    public const string ActivitySourceName = "KafkaClient";

    internal static readonly Meter Meter = new(MeterName, typeof(KafkaDiagnostics).Assembly.GetName().Version?.ToString());

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName, typeof(KafkaDiagnostics).Assembly.GetName().Version?.ToString());
}

/// <summary>The producer's instruments (OpenTelemetry messaging conventions where they exist).</summary>
internal static class ProducerMetrics
{
    public static readonly Counter<long> RecordsSent = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.producer.records.sent", "{record}", "Records acknowledged by the broker.");

    public static readonly Counter<long> BytesSent = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.producer.bytes.sent", "By", "Record batch bytes sent (after compression).");

    public static readonly Histogram<int> BatchRecords = KafkaDiagnostics.Meter.CreateHistogram<int>("kafka.producer.batch.records", "{record}", "Records per batch sent.");

    public static readonly Counter<long> Errors = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.producer.record.errors", "{record}", "Records that failed for good.");

    public static readonly Counter<long> Retries = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.producer.batch.retries", "{batch}", "Batches sent again after a retriable error.");

    public static readonly Histogram<double> RequestLatency = KafkaDiagnostics.Meter.CreateHistogram<double>("kafka.producer.request.duration", "ms", "Time from sending a Produce request to its response.");

    private static readonly List<WeakReference<Func<long>>> BufferSources = [];

    static ProducerMetrics()
    {
        KafkaDiagnostics.Meter.CreateObservableGauge("kafka.producer.buffer.available", ObserveBuffer, "By", "Bytes of buffer memory available to producers.");
    }

    /// <summary>Registers a producer's available-buffer reading; held weakly so a forgotten producer is not kept alive.</summary>
    public static void RegisterBuffer(Func<long> available)
    {
        lock (BufferSources)
        {
            BufferSources.Add(new WeakReference<Func<long>>(available));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveBuffer()
    {
        lock (BufferSources)
        {
            BufferSources.RemoveAll(w => !w.TryGetTarget(out _));
            return BufferSources.Select(w => w.TryGetTarget(out var f) ? new Measurement<long>(f()) : new Measurement<long>(0)).ToList();
        }
    }
}
