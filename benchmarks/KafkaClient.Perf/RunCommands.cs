using System.Globalization;
using KafkaClient.TestBrokers;

namespace KafkaClient.Perf;

/// <summary>Exit codes of the harness.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The run finished but some records failed or went missing.</summary>
    public const int RecordErrors = 1;

    /// <summary>The client does not implement this command yet.</summary>
    public const int NotImplemented = 2;

    /// <summary>The run did not finish within --timeout-s (a hang); the JSON line still comes last.</summary>
    public const int Timeout = 3;

    public const int Usage = 64;
}

/// <summary>Ends a hung run: prints what is known, the JSON line last, and exits with <see cref="ExitCodes.Timeout"/>.</summary>
internal sealed class Watchdog : IDisposable
{
    private readonly Timer _timer;

    public Watchdog(TimeSpan timeout, Func<string> describe, Func<RunResult> partial)
    {
        _timer = new Timer(_ =>
        {
            Console.Error.WriteLine($"TIMEOUT after {timeout.TotalSeconds:0} s: {describe()}");
            Console.Out.WriteLine(partial().ToJson());
            Console.Out.Flush();
            Environment.Exit(ExitCodes.Timeout);
        }, null, timeout, Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _timer.Dispose();
}

internal static class ProduceCommand
{
    public static async Task<int> RunAsync(CommandLine cl)
    {
        var brokerSettings = BrokerSettings.From(cl);
        var s = ProduceSettings.From(cl, defaultTopic: "perf-produce-" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture));
        cl.RejectUnknown();
        string clientName = s.Client == ClientKind.Confluent ? "confluent" : "kafkaclient";
        await using var broker = await Broker.StartAsync(brokerSettings).ConfigureAwait(false);
        int partitions = await Topics.EnsureAsync(broker, s.Topic, s.Partitions).ConfigureAwait(false);
        if (s.Client == ClientKind.Confluent)
        {
            LibrdkafkaNativeLibrary.ShareWith(typeof(Confluent.Kafka.Library).Assembly);
        }
        long? before = await Watermarks.SumEndOffsetsAsync(broker.Bootstrap, s.Topic).ConfigureAwait(false);
        Console.Error.WriteLine($"produce --client {clientName}: {s.Describe()}, topic {s.Topic} ({partitions} partitions) on {broker.Bootstrap}");

        var payloads = new Payloads(s.Size, s.Keys);
        var progress = new Progress();
        var meter = new Meter();
        var latency = s.Mode == ProduceMode.Awaited ? new LatencyRecorder(s.Messages) : null;
        long bytesPerRecord = s.Size + payloads.KeySize;
        bool measuring = false;
        long warmupCompleted = 0;

        var extra = new List<KeyValuePair<string, object?>>
        {
            new("mode", s.Mode.ToString().ToLowerInvariant()),
            new("topic", s.Topic),
            new("partitions", partitions),
            new("size", s.Size),
            new("acks", s.Acks switch { AcksSetting.Leader => "1", AcksSetting.None => "0", _ => "all" }),
            new("linger_ms", s.LingerMs),
            new("batch_bytes", s.BatchBytes),
            new("compression", s.Compression),
            new("idempotent", s.Idempotent),
            new("keys", s.Keys.ToString().ToLowerInvariant()),
            new("warmup", s.Warmup),
            new("broker", broker.Kind),
        };

        using var watchdog = new Watchdog(TimeSpan.FromSeconds(s.TimeoutSeconds),
            () => $"{(measuring ? "measured run" : "warm-up/teardown")}: {progress.Completed - warmupCompleted} of {s.Messages} records completed, {progress.Errors} errors, first error: {progress.FirstError ?? "none"}",
            () =>
            {
                meter.Stop();
                long done = Math.Max(0, progress.Completed - warmupCompleted);
                return RunResult.FromMeter(clientName, "produce", done, done * bytesPerRecord, meter, null, s.Messages - done + progress.Errors,
                    [.. extra, new("timed_out", true)]);
            });

        var driver = ProduceDrivers.Create(s, broker.Bootstrap, payloads);
        RunResult result;
        // The floor for awaited latency: a bare single-record Produce round trip, same broker, same
        // size, on its own topic (so the run's offset check counts only the producer's records).
        string? bareSide = null;
        BareRoundTrip? bare = null;
        var bareLatency = new LatencyRecorder((int)Math.Min(s.Messages, 5_000));
        if (s.Mode == ProduceMode.Awaited && s.Client == ClientKind.KafkaClient && s.Acks != AcksSetting.None)
        {
            bareSide = s.Topic + "-bare";
            await Topics.EnsureAsync(broker, bareSide, 1).ConfigureAwait(false);
        }
        try
        {
            if (s.Warmup > 0)
            {
                await driver.RunAsync(0, s.Warmup, s.Mode, progress, null).ConfigureAwait(false);
            }
            warmupCompleted = progress.Completed;
            long warmupErrors = progress.Errors;
            if (warmupErrors > 0)
            {
                Console.Error.WriteLine($"Warm-up: {warmupErrors} of {s.Warmup} records failed; first error: {progress.FirstError}");
            }

            if (bareSide is not null)
            {
                bare = await BareRoundTrip.StartAsync(broker.Bootstrap, bareSide, s.Size, s.Acks == AcksSetting.Leader ? (short)1 : (short)-1, s.Idempotent).ConfigureAwait(false);
            }

            measuring = true;
            using var sampler = AllocationSampler.StartIfRequested();
            sampler?.Start();
            meter.Start();
            if (bare is null)
            {
                await driver.RunAsync(s.Warmup, s.Messages, s.Mode, progress, latency).ConfigureAwait(false);
            }
            else
            {
                // Blocks of the producer's awaited records alternate with blocks of bare round
                // trips (not metered), so both sides see the same moments of a shared machine.
                const int Block = 100;
                long bareLeft = Math.Min(s.Messages, 5_000);
                for (long done = 0; done < s.Messages; done += Block)
                {
                    long n = Math.Min(Block, s.Messages - done);
                    await driver.RunAsync(s.Warmup + done, n, s.Mode, progress, latency).ConfigureAwait(false);
                    if (bareLeft > 0)
                    {
                        meter.Pause();
                        int m = (int)Math.Min(bareLeft, n);
                        await bare.MeasureAsync(m, bareLatency).ConfigureAwait(false);
                        bareLeft -= m;
                        meter.Resume();
                    }
                }
            }
            meter.Stop();
            sampler?.Stop();
            sampler?.Report(s.Messages);
            measuring = false;

            long errors = progress.Errors - warmupErrors;
            result = RunResult.FromMeter(clientName, "produce", s.Messages, s.Messages * bytesPerRecord, meter, latency?.Percentiles(), errors, extra);
            if (errors > 0)
            {
                Console.Error.WriteLine($"{errors} of {s.Messages} records failed; first error: {progress.FirstError}");
            }
        }
        finally
        {
            if (bare is not null)
            {
                await bare.DisposeAsync().ConfigureAwait(false);
            }
            var disposing = driver.DisposeAsync().AsTask();
            if (await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(60))).ConfigureAwait(false) != disposing)
            {
                Console.Error.WriteLine($"{clientName}: disposing the producer took more than 60 s (hang?).");
            }
        }

        if (bareSide is not null && result.P50Ms is { } producerP50 && bareLatency.Percentiles() is { } floor)
        {
            extra.Add(new("bare_p50_ms", Math.Round(floor.P50, 4)));
            extra.Add(new("bare_p99_ms", Math.Round(floor.P99, 4)));
            extra.Add(new("p50_vs_bare", Math.Round(producerP50 / floor.P50, 4)));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"awaited p50 {producerP50:0.000} ms vs bare Produce round trip p50 {floor.P50:0.000} ms (p99 {floor.P99:0.000} ms): ratio {producerP50 / floor.P50:0.000}"));
        }

        // Every acknowledged record must be in the log: compare end offsets before and after.
        long? after = await Watermarks.SumEndOffsetsAsync(broker.Bootstrap, s.Topic).ConfigureAwait(false);
        long expected = s.Warmup + s.Messages - progress.Errors;
        int exit = result.Errors > 0 ? ExitCodes.RecordErrors : ExitCodes.Ok;
        if (before is { } b && after is { } a)
        {
            long appended = a - b;
            extra.Add(new("records_appended", appended));
            if (s.Acks != AcksSetting.None && appended < expected)
            {
                Console.Error.WriteLine($"LOST RECORDS: {expected} records were acknowledged (warm-up included) but the topic's end offsets grew by {appended}.");
                extra.Add(new("lost", expected - appended));
                exit = ExitCodes.RecordErrors;
            }
            else if (appended > s.Warmup + s.Messages)
            {
                Console.Error.WriteLine($"DUPLICATES: {s.Warmup + s.Messages} records were produced but the topic's end offsets grew by {appended}.");
                extra.Add(new("duplicates", appended - (s.Warmup + s.Messages)));
            }
        }
        result = result with { Extra = extra };
        Console.Error.WriteLine(result.ToString());
        Console.Out.WriteLine(result.ToJson());
        return exit;
    }
}

internal static class ConsumeCommand
{
    public static async Task<int> RunAsync(CommandLine cl)
    {
        var brokerSettings = BrokerSettings.From(cl);
        var s = ConsumeSettings.From(cl, defaultTopic: "");
        cl.RejectUnknown();
        if (s.Topic.Length == 0)
        {
            throw new UsageException("consume needs --topic (a topic holding at least --messages records).");
        }
        string clientName = s.Client == ClientKind.Confluent ? "confluent" : "kafkaclient";
        await using var broker = await Broker.StartAsync(brokerSettings).ConfigureAwait(false);
        if (brokerSettings.Bootstrap is null)
        {
            // A fresh broker has no records: fill the topic first, with the same client (outside the measurement).
            Console.Error.WriteLine("No --bootstrap: the started broker is empty, so the topic is filled first (not measured).");
            await Topics.EnsureAsync(broker, s.Topic, 6).ConfigureAwait(false);
            var fill = await Prefill.RunAsync(broker.Bootstrap, s.Topic, s.Total, 100, "confluent").ConfigureAwait(false);
            if (fill != 0)
            {
                return fill;
            }
        }
        var driver = ConsumeDrivers.Create(s, broker.Bootstrap);
        if (s.Client == ClientKind.Confluent)
        {
            LibrdkafkaNativeLibrary.ShareWith(typeof(Confluent.Kafka.Library).Assembly);
        }

        var tally = new ConsumeTally();
        var meter = new Meter();
        var extra = new List<KeyValuePair<string, object?>>
        {
            new("mode", s.Mode.ToString().ToLowerInvariant()),
            new("topic", s.Topic),
            new("group", s.Group),
            new("broker", broker.Kind),
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(s.TimeoutSeconds));
        using var watchdog = new Watchdog(TimeSpan.FromSeconds(s.TimeoutSeconds + 30),
            () => $"{tally.Records} of {s.Messages} records consumed",
            () =>
            {
                meter.Stop();
                return RunResult.FromMeter(clientName, "consume", Math.Max(0, tally.Records - s.Warmup), tally.Bytes - tally.WarmupBytes, meter, null, s.Total - tally.Records + tally.Errors,
                    [.. extra, new("timed_out", true)]);
            });
        Console.Error.WriteLine($"consume --client {clientName}: {s.Messages} records of {s.Topic}, mode {s.Mode}, {(s.Group is null ? "assigned partitions" : "group " + s.Group)} on {broker.Bootstrap}");
        await using (driver.ConfigureAwait(false))
        {
            await driver.PrepareAsync(cts.Token).ConfigureAwait(false);
            if (s.Warmup > 0)
            {
                tally.WarmupRecords = s.Warmup;
                tally.WarmedUp = meter.Start;
            }
            else
            {
                meter.Start();
            }
            await driver.RunAsync(tally, cts.Token).ConfigureAwait(false);
            meter.Stop();
        }
        long measured = Math.Max(0, tally.Records - s.Warmup);
        long missing = Math.Max(0, s.Total - tally.Records);
        if (missing > 0)
        {
            Console.Error.WriteLine($"Only {tally.Records} of {s.Total} records arrived within {s.TimeoutSeconds} s.");
        }
        extra.Add(new("warmup", s.Warmup));
        if (tally.FirstRecordAt != 0 && s.Warmup == 0)
        {
            extra.Add(new("first_record_ms", Math.Round((tally.FirstRecordAt - meter.StartTimestamp) * 1000.0 / System.Diagnostics.Stopwatch.Frequency, 1)));
        }
        var result = RunResult.FromMeter(clientName, "consume", measured, tally.Bytes - tally.WarmupBytes, meter, null, missing + tally.Errors, extra);
        Console.Error.WriteLine(result.ToString());
        Console.Out.WriteLine(result.ToJson());
        return result.Errors > 0 ? ExitCodes.RecordErrors : ExitCodes.Ok;
    }
}

/// <summary>Fills a topic for consume runs by running <c>produce</c> in a child process.</summary>
internal static class Prefill
{
    public static async Task<int> RunAsync(string bootstrap, string topic, long messages, int size, string client)
    {
        Console.Error.WriteLine($"Filling {topic} with {messages} records of {size} B using {client}'s producer.");
        var child = ChildProcess.StartSelf(
        [
            "produce", "--client", client, "--bootstrap", bootstrap, "--topic", topic,
            "--messages", messages.ToString(CultureInfo.InvariantCulture), "--size", size.ToString(CultureInfo.InvariantCulture),
            "--warmup", "0", "--mode", "callback",
        ], "prefill");
        await using (child.ConfigureAwait(false))
        {
            var (exitCode, _, timedOut) = await child.WaitForExitAsync(TimeSpan.FromMinutes(10)).ConfigureAwait(false);
            if (timedOut || exitCode != 0)
            {
                Console.Error.WriteLine($"Filling {topic} failed (exit code {exitCode}{(timedOut ? ", timed out" : "")}).");
                return exitCode == 0 ? ExitCodes.Timeout : exitCode;
            }
        }
        return 0;
    }
}
