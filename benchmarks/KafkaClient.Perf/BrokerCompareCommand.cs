using System.Globalization;

namespace KafkaClient.Perf;

/// <summary>
/// <c>compare-brokers produce [produce options] [--client confluent|kafkaclient] [--rounds R]</c>:
/// one client, two brokers — the local-cluster command (our embedded cluster, its own process) and
/// librdkafka's mock cluster (its own process) — started once and measured alternately, round by
/// round, with the same options. Prints each run's JSON line with the broker process's CPU, then
/// the ratios local / mock. This is the embedded cluster's speed proof: it must not be what limits
/// a client benchmark. Extra local-cluster arguments come from KAFKACLIENT_PERF_LOCAL_CLUSTER_ARGS
/// (e.g. <c>--retention-bytes 5242880</c>, the size the mock keeps per partition).
/// </summary>
internal static class BrokerCompareCommand
{
    private static readonly HashSet<string> Own = new(StringComparer.Ordinal)
    {
        "rounds", "bootstrap", "broker", "brokers", "topic", "client",
    };

    public static async Task<int> RunAsync(string op, CommandLine cl)
    {
        if (op != "produce")
        {
            throw new UsageException("compare-brokers measures produce only.");
        }
        if (cl.Has("bootstrap") || cl.Has("broker"))
        {
            throw new UsageException("compare-brokers starts both brokers itself; drop --bootstrap/--broker.");
        }
        int brokers = cl.Int32("brokers", 3, min: 1);
        int rounds = cl.Int32("rounds", 3, min: 1);
        string client = cl.Choice("client", "confluent", "confluent", "kafkaclient");
        string stamp = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        string topicBase = cl.String("topic", $"perf-brokers-{stamp}");
        var forwardedPairs = cl.Pairs.Where(p => !Own.Contains(p.Key)).ToList();
        var probe = CommandLine.Parse(forwardedPairs.SelectMany(p => new[] { "--" + p.Key, p.Value }).Append("--client").Append(client));
        var settings = ProduceSettings.From(probe, "x");
        probe.RejectUnknown();
        var forwarded = forwardedPairs.SelectMany(p => new[] { "--" + p.Key, p.Value }).ToList();
        // One run's arguments: the forwarded options, with --messages replaced when given.
        async Task<List<string>> RunArgsAsync(Broker broker, string topic, string? messages)
        {
            await Topics.EnsureAsync(broker, topic, settings.Partitions).ConfigureAwait(false);
            var args = new List<string> { op, "--client", client, "--bootstrap", broker.Bootstrap, "--topic", topic };
            for (int i = 0; i < forwarded.Count; i += 2)
            {
                if (messages is null || forwarded[i] != "--messages")
                {
                    args.AddRange([forwarded[i], forwarded[i + 1]]);
                }
            }
            if (messages is not null)
            {
                args.AddRange(["--messages", messages]);
            }
            return args;
        }

        await using var local = await Broker.StartAsync(new BrokerSettings { Broker = "local", Brokers = brokers }).ConfigureAwait(false);
        await using var mock = await Broker.StartAsync(new BrokerSettings { Broker = "mock", Brokers = brokers }).ConfigureAwait(false);
        var sides = new[] { ("local", local), ("mock", mock) };
        var results = new Dictionary<string, List<RunResult?>>(StringComparer.Ordinal) { ["local"] = [], ["mock"] = [] };
        var brokerCpu = new Dictionary<string, List<double>>(StringComparer.Ordinal) { ["local"] = [], ["mock"] = [] };
        var failures = new List<string>();
        // Warm both brokers up first (unmeasured): the local cluster compiles its code on first use,
        // the mock has nothing to compile; steady state is what a client benchmark meets.
        string warmupMessages = Math.Max(1000, settings.Messages / 5).ToString(CultureInfo.InvariantCulture);
        foreach (var (label, broker) in sides)
        {
            var args = await RunArgsAsync(broker, $"{topicBase}-warmup-{label}", warmupMessages).ConfigureAwait(false);
            Console.Error.WriteLine($"== warm-up: {label} broker ({warmupMessages} records, not measured)");
            var (_, failure) = await CompareCommand.RunChildAsync(args, $"{client}@{label}-warmup", TimeSpan.FromSeconds(settings.TimeoutSeconds + 120)).ConfigureAwait(false);
            if (failure is not null)
            {
                failures.Add($"warm-up {label}: {failure}");
            }
        }
        for (int round = 1; round <= rounds; round++)
        {
            var order = round % 2 == 1 ? sides : sides.Reverse().ToArray();
            foreach (var (label, broker) in order)
            {
                var args = await RunArgsAsync(broker, $"{topicBase}-r{round}-{label}", null).ConfigureAwait(false);
                Console.Error.WriteLine($"== round {round}/{rounds}: {label} broker: {string.Join(' ', args)}");
                double? cpuBefore = broker.CpuSeconds();
                var (result, failure) = await CompareCommand.RunChildAsync(args, $"{client}@{label}", TimeSpan.FromSeconds(settings.TimeoutSeconds + 120)).ConfigureAwait(false);
                double? cpuAfter = broker.CpuSeconds();
                results[label].Add(result);
                if (cpuBefore is { } b && cpuAfter is { } a && result is not null)
                {
                    brokerCpu[label].Add(a - b);
                }
                if (failure is not null)
                {
                    failures.Add($"round {round} {label}: {failure}");
                    Console.Error.WriteLine($"== round {round} {label}: {failure}");
                }
                if (result is not null)
                {
                    Console.Out.WriteLine(result.ToString());
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"broker {label}: {(cpuBefore is { } x && cpuAfter is { } y ? $"{y - x:0.00} s CPU for the run, {(y - x) * 1e6 / settings.Messages:0.00} us per record" : "CPU not measurable here")}"));
                }
            }
        }

        foreach (var label in new[] { "local", "mock" })
        {
            if (CompareCommand.Median(brokerCpu[label]) is { } median)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"broker {label}: median {median:0.00} s CPU per run ({median * 1e6 / settings.Messages:0.00} us per record)"));
            }
        }
        CompareCommand.PrintSummary($"compare-brokers {op} with {client}", "compare-brokers-" + op, rounds, string.Join(' ', forwarded),
            ("local", results["local"]), ("mock", results["mock"]), failures);
        return failures.Count == 0 ? ExitCodes.Ok : ExitCodes.RecordErrors;
    }
}
