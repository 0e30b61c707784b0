using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;

namespace KafkaClient.Perf;

/// <summary>
/// With <c>KAFKACLIENT_PERF_ALLOCATIONS=1</c>: samples the runtime's GCAllocationTick events (one per
/// about 100 KB allocated) during the measured run and prints the allocating types, most first, to
/// stderr. For finding what allocates, not for the figures (the listener itself costs a little).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytesByType = new();
    private volatile bool _sampling;
    private readonly MeterListener _meters = new();
    private long _batches;
    private long _batchRecords;

    private AllocationSampler()
    {
        // Records per batch (KafkaClient's own histogram): small batches mean more per-batch work and allocation.
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "KafkaClient" && instrument.Name == "kafka.producer.batch.records")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            if (_sampling)
            {
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _batchRecords, value);
            }
        });
        _meters.Start();
    }

    public static AllocationSampler? StartIfRequested() =>
        Environment.GetEnvironmentVariable("KAFKACLIENT_PERF_ALLOCATIONS") == "1" ? new AllocationSampler() : null;

    public void Start() => _sampling = true;

    public void Stop() => _sampling = false;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1 /* GC */);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_sampling || e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null)
        {
            return;
        }
        int typeIndex = e.PayloadNames!.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        string type = typeIndex >= 0 ? e.Payload[typeIndex] as string ?? "?" : "?";
        long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytesByType.AddOrUpdate(type, amount, (_, total) => total + amount);
    }

    public override void Dispose()
    {
        _meters.Dispose();
        base.Dispose();
    }

    public void Report(long messages)
    {
        if (Interlocked.Read(ref _batches) > 0)
        {
            Console.Error.WriteLine($"Batches acknowledged during the measured run: {_batches}, {(double)_batchRecords / _batches:0.0} records each.");
        }
        Console.Error.WriteLine("Allocations sampled during the measured run (bytes per message, by type):");
        foreach (var (type, bytes) in _bytesByType.OrderByDescending(p => p.Value).Take(25))
        {
            Console.Error.WriteLine($"  {(double)bytes / messages,10:0.00}  {type}");
        }
    }
}
