using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Diagnostics;

/// <summary>The consumer's instruments (OpenTelemetry messaging conventions where they exist).</summary>
internal static class ConsumerMetrics
{
    public static readonly Counter<long> RecordsConsumed = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.consumer.records.consumed", "{record}", "Records handed to the application (records fetched and then dropped by a seek, pause or revocation do not count).");

    public static readonly Counter<long> BytesConsumed = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.consumer.bytes.consumed", "By", "Record batch bytes fetched (before decompression).");

    public static readonly Histogram<double> FetchLatency = KafkaDiagnostics.Meter.CreateHistogram<double>("kafka.consumer.fetch.duration", "ms", "Time from sending a Fetch request to its response (includes the broker's wait).");

    public static readonly Counter<long> Rebalances = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.consumer.rebalances", "{rebalance}", "Group generations joined.");

    public static readonly Histogram<double> CommitLatency = KafkaDiagnostics.Meter.CreateHistogram<double>("kafka.consumer.commit.duration", "ms", "Time to commit offsets.");

    public static readonly Counter<long> CommitFailures = KafkaDiagnostics.Meter.CreateCounter<long>("kafka.consumer.commit.failures", "{commit}", "Offset commits that failed.");

    /// <summary>The group tag of the group instruments (rebalances, commit duration and failures), as OpenTelemetry names it.</summary>
    public static KeyValuePair<string, object?> GroupTag(string? groupId) => new("messaging.consumer.group.name", groupId);

    private static readonly ConditionalWeakTable<object, Func<IEnumerable<(TopicPartition Partition, long Lag)>>> LagSources = [];

    static ConsumerMetrics()
    {
        KafkaDiagnostics.Meter.CreateObservableGauge("kafka.consumer.lag", ObserveLag, "{record}", "Records not yet consumed per assigned partition.");
    }

    /// <summary>Registers a consumer's lag reading; held weakly so a forgotten consumer is not kept alive.</summary>
    public static void RegisterLag(object consumer, Func<IEnumerable<(TopicPartition Partition, long Lag)>> lag) => LagSources.AddOrUpdate(consumer, lag);

    private static IEnumerable<Measurement<long>> ObserveLag()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (_, source) in LagSources)
        {
            foreach (var (partition, lag) in source())
            {
                measurements.Add(new Measurement<long>(lag,
                    new KeyValuePair<string, object?>("topic", partition.Topic),
                    new KeyValuePair<string, object?>("partition", partition.Partition)));
            }
        }
        return measurements;
    }
}

/// <summary>A consumer span per record, linked to the producer's span through the record's <c>traceparent</c> header.</summary>
internal static class ConsumerTracing
{
    public static void RecordReceived(TopicPartition partition, in RecordView record, string? groupId)
    {
        ActivityContext parent = default;
        foreach (var header in record.Headers)
        {
            if (header.KeyUtf8.SequenceEqual("traceparent"u8) && !header.IsValueNull)
            {
                ActivityContext.TryParse(System.Text.Encoding.ASCII.GetString(header.Value), null, out parent);
            }
        }
        ActivityLink[]? links = parent == default ? null : [new ActivityLink(parent)];
        using var activity = KafkaDiagnostics.ActivitySource.StartActivity(partition.Topic + " receive", ActivityKind.Consumer, parent, links: links);
        if (activity is null)
        {
            return;
        }
        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.type", "receive");
        activity.SetTag("messaging.destination.name", partition.Topic);
        activity.SetTag("messaging.destination.partition.id", partition.Partition);
        activity.SetTag("messaging.kafka.offset", record.Offset);
        if (groupId is not null)
        {
            activity.SetTag("messaging.consumer.group.name", groupId);
        }
    }
}
