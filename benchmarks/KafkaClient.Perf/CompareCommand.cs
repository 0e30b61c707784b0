using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafkaClient.Perf;

/// <summary>
/// <c>compare produce|consume [the command's options] [--rounds R]</c>: one broker process for the
/// whole comparison; each round runs both clients (alternating which goes first) as child processes
/// with the same options; prints each run's JSON line, then the ratios ours / Confluent's with
/// min, median and max, and a final JSON line of medians.
/// </summary>
internal static class CompareCommand
{
    private static readonly string[] Clients = ["kafkaclient", "confluent"];

    // Options compare handles itself rather than forwarding verbatim.
    private static readonly HashSet<string> Own = new(StringComparer.Ordinal)
    {
        "rounds", "bootstrap", "broker", "brokers", "topic", "client", "prefill-client", "group",
    };

    public static async Task<int> RunAsync(string op, CommandLine cl)
    {
        if (cl.Has("client"))
        {
            throw new UsageException("compare runs both clients; drop --client.");
        }
        var brokerSettings = BrokerSettings.From(cl);
        int rounds = cl.Int32("rounds", 3, min: 1);
        string stamp = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        string topicBase = cl.String("topic", $"perf-{op}-{stamp}");
        string prefillClient = cl.Choice("prefill-client", "confluent", "confluent", "kafkaclient");
        string? group = cl.String("group");

        // Validate the forwarded options now (a typo must not cost a broker start and N child runs).
        var probe = CommandLine.Parse(cl.Pairs.Where(p => !Own.Contains(p.Key)).SelectMany(p => new[] { "--" + p.Key, p.Value }).Append("--client").Append("kafkaclient"));
        long messages;
        int partitions;
        int size = 100;
        double childTimeout;
        if (op == "produce")
        {
            var ps = ProduceSettings.From(probe, "x");
            probe.RejectUnknown();
            messages = ps.Messages;
            partitions = ps.Partitions;
            childTimeout = ps.TimeoutSeconds;
        }
        else
        {
            size = probe.Int32("size", 100, min: 0);
            partitions = probe.Int32("partitions", 6, min: 1);
            var cs = ConsumeSettings.From(probe, "x");
            probe.RejectUnknown();
            messages = cs.Total;
            childTimeout = cs.TimeoutSeconds + 30;
        }
        // Everything not handled above was validated by the probe.
        var forwarded = cl.Pairs
            .Where(p => !Own.Contains(p.Key) && !(op == "consume" && p.Key is "size" or "partitions"))
            .SelectMany(p => new[] { "--" + p.Key, p.Value })
            .ToList();

        await using var broker = await Broker.StartAsync(brokerSettings).ConfigureAwait(false);
        string? consumeTopic = null;
        if (op == "consume")
        {
            consumeTopic = topicBase;
            await Topics.EnsureAsync(broker, consumeTopic, partitions).ConfigureAwait(false);
            int fill = await Prefill.RunAsync(broker.Bootstrap, consumeTopic, messages, size, prefillClient).ConfigureAwait(false);
            if (fill != 0)
            {
                return fill;
            }
        }

        var results = new Dictionary<string, List<RunResult?>>(StringComparer.Ordinal) { ["kafkaclient"] = [], ["confluent"] = [] };
        var failures = new List<string>();
        for (int round = 1; round <= rounds; round++)
        {
            var order = round % 2 == 1 ? Clients : Clients.Reverse().ToArray();
            foreach (var client in order)
            {
                var args = new List<string> { op, "--client", client, "--bootstrap", broker.Bootstrap };
                if (op == "produce")
                {
                    string topic = $"{topicBase}-r{round}-{client}";
                    await Topics.EnsureAsync(broker, topic, partitions).ConfigureAwait(false);
                    args.AddRange(["--topic", topic]);
                }
                else
                {
                    args.AddRange(["--topic", consumeTopic!]);
                    if (group is not null)
                    {
                        args.AddRange(["--group", $"{group}-r{round}-{client}"]);
                    }
                }
                args.AddRange(forwarded);
                Console.Error.WriteLine($"== round {round}/{rounds}: {client}: {string.Join(' ', args)}");
                var (result, failure) = await RunChildAsync(args, client, TimeSpan.FromSeconds(childTimeout + 120)).ConfigureAwait(false);
                results[client].Add(result);
                if (failure is not null)
                {
                    failures.Add($"round {round} {client}: {failure}");
                    Console.Error.WriteLine($"== round {round} {client}: {failure}");
                }
                if (result is not null)
                {
                    Console.Out.WriteLine(result.ToString());
                }
            }
        }

        PrintSummary($"compare {op}", "compare-" + op, rounds, string.Join(' ', forwarded), ("kafkaclient", results["kafkaclient"]), ("confluent", results["confluent"]), failures);
        return failures.Count == 0 ? ExitCodes.Ok : ExitCodes.RecordErrors;
    }

    /// <summary>Runs one measured child process; a run with failed or missing records is no measurement (null).</summary>
    internal static async Task<(RunResult? Result, string? Failure)> RunChildAsync(List<string> args, string client, TimeSpan timeout)
    {
        var child = ChildProcess.StartSelf(args, client);
        await using (child.ConfigureAwait(false))
        {
            var (exitCode, lines, timedOut) = await child.WaitForExitAsync(timeout,
                line => Console.Error.WriteLine($"[{client}:out] {line}")).ConfigureAwait(false);
            RunResult? result = null;
            var last = lines.LastOrDefault(l => l.StartsWith('{'));
            if (last is not null)
            {
                try
                {
                    result = RunResult.Parse(last);
                }
                catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    return (null, $"unreadable JSON line ({ex.Message}): {last}");
                }
            }
            string? failure = (timedOut, exitCode) switch
            {
                (true, _) => $"killed after {timeout.TotalSeconds:0} s (hang)",
                (_, ExitCodes.Ok) => null,
                (_, ExitCodes.NotImplemented) => "not implemented yet (exit code 2)",
                (_, ExitCodes.Timeout) => $"timed out (exit code 3); {result?.Errors ?? 0} records missing or failed",
                (_, ExitCodes.RecordErrors) => $"{result?.Errors.ToString(CultureInfo.InvariantCulture) ?? "some"} records failed or lost (exit code 1)",
                _ => $"exit code {exitCode} (crash?)",
            };
            // A run with failed or missing records is not a valid measurement.
            return (failure is null ? result : null, failure);
        }
    }

    /// <summary>
    /// Prints, per metric, both sides' medians and the ratios <paramref name="ours"/> / <paramref name="theirs"/>
    /// over paired rounds (min / median / max), then one JSON line with the same figures.
    /// </summary>
    internal static void PrintSummary(string title, string op, int rounds, string args,
        (string Label, List<RunResult?> Runs) ours, (string Label, List<RunResult?> Runs) theirs, List<string> failures)
    {
        var metrics = new (string Name, Func<RunResult, double?> Get)[]
        {
            ("msgs_per_sec", r => r.MsgsPerSec),
            ("cpu_us_per_msg", r => r.CpuUsPerMsg),
            ("alloc_bytes_per_msg", r => r.AllocBytesPerMsg),
            ("p50_ms", r => r.P50Ms),
            ("p99_ms", r => r.P99Ms),
        };

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{title}, {rounds} rounds: {args}");
        text.AppendLine(CultureInfo.InvariantCulture, $"metric                  {ours.Label + "(med)",16}   {theirs.Label + "(med)",14}   ratio {ours.Label}/{theirs.Label}: min / median / max");
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("op", op);
            w.WriteNumber("rounds", rounds);
            w.WriteString("args", args);
            var ratioObjects = new List<(string Name, double[] Ratios, double? Ours, double? Theirs)>();
            foreach (var (name, get) in metrics)
            {
                var ratios = new List<double>();
                for (int i = 0; i < rounds && i < ours.Runs.Count && i < theirs.Runs.Count; i++)
                {
                    if (ours.Runs[i] is { } o && theirs.Runs[i] is { } t && get(o) is { } ov && get(t) is { } tv && tv > 0)
                    {
                        ratios.Add(ov / tv);
                    }
                }
                double? ourMedian = Median(ours.Runs.Where(r => r is not null).Select(r => get(r!)).OfType<double>());
                double? theirMedian = Median(theirs.Runs.Where(r => r is not null).Select(r => get(r!)).OfType<double>());
                if (ourMedian is null && theirMedian is null)
                {
                    continue;
                }
                ratios.Sort();
                ratioObjects.Add((name, [.. ratios], ourMedian, theirMedian));
                string range = ratios.Count > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{ratios[0]:0.000} / {Median(ratios):0.000} / {ratios[^1]:0.000}  ({ratios.Count} paired rounds)")
                    : "n/a";
                text.AppendLine(CultureInfo.InvariantCulture, $"{name,-22}  {Fmt(ourMedian),16}   {Fmt(theirMedian),14}   {range}");
            }

            w.WriteStartObject("ratio_median");
            foreach (var r in ratioObjects)
            {
                WriteNumberOrNull(w, r.Name, Median(r.Ratios));
            }
            w.WriteEndObject();
            w.WriteStartObject("ratio_min");
            foreach (var r in ratioObjects)
            {
                WriteNumberOrNull(w, r.Name, r.Ratios.Length > 0 ? r.Ratios[0] : null);
            }
            w.WriteEndObject();
            w.WriteStartObject("ratio_max");
            foreach (var r in ratioObjects)
            {
                WriteNumberOrNull(w, r.Name, r.Ratios.Length > 0 ? r.Ratios[^1] : null);
            }
            w.WriteEndObject();
            foreach (var (label, isOurs) in new[] { (ours.Label, true), (theirs.Label, false) })
            {
                w.WriteStartObject(label + "_median");
                foreach (var r in ratioObjects)
                {
                    WriteNumberOrNull(w, r.Name, isOurs ? r.Ours : r.Theirs);
                }
                w.WriteEndObject();
            }
            w.WriteStartArray("failures");
            foreach (var f in failures)
            {
                w.WriteStringValue(f);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        var vsBare = ours.Runs.Where(r => r?.P50VsBare is not null).Select(r => r!.P50VsBare!.Value).Order().ToArray();
        if (vsBare.Length > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{ours.Label} awaited p50 / bare Produce round trip p50: {vsBare[0]:0.000} / {Median(vsBare):0.000} / {vsBare[^1]:0.000}  ({vsBare.Length} rounds)");
        }
        foreach (var f in failures)
        {
            text.AppendLine("FAILED: " + f);
        }
        Console.Out.Write(text.ToString());
        Console.Out.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, RunResult.Round(v, 4));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string Fmt(double? v) => v is { } x ? x.ToString(x >= 1000 ? "#,0" : "0.000", CultureInfo.InvariantCulture) : "n/a";

    internal static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
