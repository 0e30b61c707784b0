using System.Globalization;
using KafkaClient.TestBrokers;

namespace KafkaClient.Perf;

/// <summary>
/// The broker a run talks to: one given with --bootstrap, or a cluster started in a separate
/// process (the embedded local-cluster command when this repository has it, else librdkafka's mock
/// through our own hidden <c>mock-broker</c> command) so that broker CPU is never charged to the
/// client being measured.
/// </summary>
internal sealed class Broker : IAsyncDisposable
{
    private readonly ChildProcess? _process;

    private Broker(string bootstrap, string kind, ChildProcess? process)
    {
        Bootstrap = bootstrap;
        Kind = kind;
        _process = process;
    }

    public string Bootstrap { get; }

    /// <summary>external | local | mock.</summary>
    public string Kind { get; }

    /// <summary>Whether topics can be created through the broker process's control channel (the mock has no CreateTopics API).</summary>
    public bool HasControlChannel => _process is not null && Kind == "mock";

    public static async Task<Broker> StartAsync(BrokerSettings settings)
    {
        if (settings.Bootstrap is { Length: > 0 } given)
        {
            return new Broker(given, "external", null);
        }

        var localCluster = settings.Broker == "mock" ? null : RepositoryLayout.LocalClusterProject();
        if (settings.Broker == "local" && localCluster is null)
        {
            throw new UsageException("--broker local: src/KafkaClient.LocalCluster was not found in this repository.");
        }

        ChildProcess child;
        string kind;
        if (localCluster is not null)
        {
            kind = "local";
            var extra = Environment.GetEnvironmentVariable("KAFKACLIENT_PERF_LOCAL_CLUSTER_ARGS");
            var args = new List<string> { "run", "-c", "Release", "--project", localCluster, "--" };
            if (!string.IsNullOrWhiteSpace(extra))
            {
                args.AddRange(extra.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
            Console.Error.WriteLine($"Starting the local cluster: dotnet {string.Join(' ', args)}");
            child = ChildProcess.Start("dotnet", args, "local-cluster");
        }
        else
        {
            kind = "mock";
            Console.Error.WriteLine($"Starting librdkafka's mock cluster ({settings.Brokers} brokers) in a separate process.");
            child = ChildProcess.StartSelf(["mock-broker", "--brokers", settings.Brokers.ToString(CultureInfo.InvariantCulture)], "mock-broker");
        }

        try
        {
            // `dotnet run` may build first: allow a few minutes for the first line.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
            while (true)
            {
                var remaining = deadline - DateTime.UtcNow;
                var line = remaining > TimeSpan.Zero ? await child.ReadLineAsync(remaining).ConfigureAwait(false) : null;
                if (line is null)
                {
                    throw new InvalidOperationException($"The {kind} broker process exited or printed no BOOTSTRAP= line.");
                }
                if (line.StartsWith("BOOTSTRAP=", StringComparison.Ordinal))
                {
                    var bootstrap = line["BOOTSTRAP=".Length..].Trim();
                    Console.Error.WriteLine($"Broker ({kind}, pid {child.Id}): {bootstrap}");
                    return new Broker(bootstrap, kind, child);
                }
                Console.Error.WriteLine($"[{child.Label}] {line}");
            }
        }
        catch
        {
            await child.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// CPU seconds used so far by the broker process and its children (the local cluster runs under
    /// <c>dotnet run</c>), from /proc; null for an external broker or off Linux.
    /// </summary>
    public double? CpuSeconds() => _process is not null ? ProcessCpu.TreeSeconds(_process.Id) : null;

    /// <summary>Asks the mock broker process to create a topic. Returns false when there is no control channel.</summary>
    public async Task<bool> TryCreateTopicThroughControlAsync(string topic, int partitions)
    {
        if (!HasControlChannel)
        {
            return false;
        }
        await _process!.WriteLineAsync($"create-topic {topic} {partitions.ToString(CultureInfo.InvariantCulture)}").ConfigureAwait(false);
        var reply = await _process.ReadLineAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        return reply switch
        {
            "OK" => true,
            null => throw new InvalidOperationException("The mock broker process did not answer create-topic."),
            _ => throw new InvalidOperationException($"The mock broker process refused create-topic {topic}: {reply}"),
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Where things are in this repository (found by walking up to KafkaClient.sln).</summary>
internal static class RepositoryLayout
{
    public static string? Root()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "KafkaClient.sln")))
                {
                    return dir.FullName;
                }
            }
        }
        return null;
    }

    /// <summary>The local-cluster project file, when this checkout has one.</summary>
    public static string? LocalClusterProject()
    {
        var root = Root();
        if (root is null)
        {
            return null;
        }
        var project = Path.Combine(root, "src", "KafkaClient.LocalCluster", "KafkaClient.LocalCluster.csproj");
        return File.Exists(project) ? project : null;
    }
}

/// <summary>
/// Hidden command <c>mock-broker --brokers N</c>: starts librdkafka's mock cluster in this process,
/// prints <c>BOOTSTRAP=...</c>, then serves <c>create-topic NAME PARTITIONS [RF]</c> lines on stdin
/// (answering <c>OK</c> or <c>ERR message</c>) until stdin closes.
/// </summary>
internal static class MockBrokerCommand
{
    public static async Task<int> RunAsync(CommandLine cl)
    {
        int brokers = cl.Int32("brokers", 3, min: 1);
        cl.RejectUnknown();
        await using var cluster = LibrdkafkaMockCluster.Start(brokers);
        Console.Out.WriteLine("BOOTSTRAP=" + cluster.BootstrapServers);
        Console.Out.Flush();
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            try
            {
                if (parts is ["create-topic", var name, var p, ..])
                {
                    int partitions = int.Parse(p, CultureInfo.InvariantCulture);
                    int rf = parts.Length > 3 ? int.Parse(parts[3], CultureInfo.InvariantCulture) : 1;
                    cluster.CreateTopic(name, partitions, rf);
                    Console.Out.WriteLine("OK");
                }
                else if (parts.Length == 0)
                {
                    continue;
                }
                else
                {
                    Console.Out.WriteLine("ERR unknown command: " + line);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
            {
                Console.Out.WriteLine("ERR " + ex.Message.ReplaceLineEndings(" "));
            }
            Console.Out.Flush();
        }
        return 0;
    }
}

/// <summary>CPU time of a process tree, read from Linux's /proc.</summary>
internal static class ProcessCpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static double? TreeSeconds(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        try
        {
            double total = 0;
            var pending = new Stack<int>();
            pending.Push(pid);
            while (pending.Count > 0)
            {
                int id = pending.Pop();
                string stat = File.ReadAllText($"/proc/{id}/stat");
                // Fields after the command name (which may hold spaces) start after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                total += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
                foreach (var task in Directory.EnumerateDirectories($"/proc/{id}/task"))
                {
                    string children = File.ReadAllText(Path.Combine(task, "children"));
                    foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        pending.Push(int.Parse(child, CultureInfo.InvariantCulture));
                    }
                }
            }
            return total;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
