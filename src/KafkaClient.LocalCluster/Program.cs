using System.Globalization;
using System.Runtime.InteropServices;
using KafkaClient.Testing;

namespace KafkaClient.LocalCluster;

/// <summary>
/// Runs an embedded Kafka cluster until SIGINT, SIGTERM or the end of standard input. The first
/// line of standard output is <c>BOOTSTRAP=host:port,...</c>, so scripts can start it and read one line.
/// </summary>
internal static class Program
{
    private const string Usage = """
        Usage: KafkaClient.LocalCluster [options]

        Starts an in-process Kafka cluster (KafkaClient.Testing) on loopback TCP and prints
        BOOTSTRAP=127.0.0.1:<port>,... as the first line of standard output. Stops cleanly on
        SIGINT (Ctrl+C), SIGTERM, or when standard input is closed.

        Options:
          --brokers N              number of brokers (default 3)
          --port P                 port of the first broker; the others use P+1, P+2, ...
                                   (default 0: ephemeral ports chosen by the OS)
          --partitions N           partitions of auto-created topics (default 1, as Kafka)
          --replication-factor N   replication factor of auto-created topics (default 1, as Kafka)
          --no-auto-create         do not create topics on first use (default: create)
          --cluster-id ID          the cluster id to report (default: random)
          --host H                 address to listen on and advertise (default 127.0.0.1)
          --ignore-stdin           keep running when standard input closes (e.g. started with < /dev/null)
          -h, --help               show this help

        Not yet available: TLS and SASL listeners.
        """;

    public static async Task<int> Main(string[] args)
    {
        EmbeddedKafkaClusterOptions options;
        bool ignoreStdin;
        try
        {
            if (args.Any(a => a is "-h" or "--help"))
            {
                Console.Out.WriteLine(Usage);
                return 0;
            }
            (options, ignoreStdin) = Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            Console.Error.WriteLine("Run with --help for usage.");
            return 2;
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stop.TrySetResult();
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.TrySetResult();
        });

        EmbeddedKafkaCluster cluster;
        try
        {
            cluster = await EmbeddedKafkaCluster.StartAsync(options).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            Console.Error.WriteLine($"error: cannot listen: {ex.Message}");
            return 1;
        }
        await using var running = cluster;
        Console.Out.WriteLine($"BOOTSTRAP={cluster.BootstrapServers}");
        Console.Out.Flush();
        Console.Error.WriteLine($"Kafka cluster {cluster.ClusterId} running: {string.Join(", ", cluster.Brokers)}. Stop with Ctrl+C, SIGTERM or by closing standard input.");

        if (!ignoreStdin)
        {
            var stdin = new Thread(() =>
            {
                try
                {
                    while (Console.In.ReadLine() is not null)
                    {
                    }
                }
                catch (IOException)
                {
                }
                stop.TrySetResult();
            })
            { IsBackground = true, Name = "stdin watcher" };
            stdin.Start();
        }

        await stop.Task.ConfigureAwait(false);
        Console.Error.WriteLine("Stopping.");
        return 0;
    }

    private static (EmbeddedKafkaClusterOptions Options, bool IgnoreStdin) Parse(string[] args)
    {
        var options = EmbeddedKafkaClusterOptions.Default;
        bool ignoreStdin = false;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            int Number() => int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
            options = arg switch
            {
                "--brokers" => options with { BrokerCount = Number() },
                "--port" => options with { Port = Number() },
                "--partitions" => options with { DefaultPartitions = Number() },
                "--replication-factor" => options with { DefaultReplicationFactor = checked((short)Number()) },
                "--no-auto-create" => options with { AutoCreateTopics = false },
                "--cluster-id" => options with { ClusterId = Value() },
                "--host" => options with { Host = Value() },
                "--ignore-stdin" => options,
                _ => throw new ArgumentException($"Unknown option {arg}."),
            };
            ignoreStdin |= arg == "--ignore-stdin";
        }
        return (options, ignoreStdin);
    }
}
