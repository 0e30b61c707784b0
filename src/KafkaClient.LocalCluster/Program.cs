using System.Globalization;
using System.Runtime.InteropServices;
using KafkaClient.Testing;

namespace KafkaClient.LocalCluster;

/// <summary>
/// Runs an embedded Kafka cluster until SIGINT, SIGTERM or the end of standard input. The first
/// line of standard output is <c>BOOTSTRAP=host:port,...</c>, so scripts can start it and read one
/// line; with <c>--tls</c> the second is <c>CA=path</c>, the certificate authority to trust.
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
          --retention-bytes B      log.retention.bytes: bytes kept per partition, oldest batches dropped
                                   first (default -1: no limit, as Kafka)
          --retention-ms MS        log.retention.ms: how long batches are kept (default 604800000, 7 days)
          --cluster-id ID          the cluster id to report (default: random)
          --host H                 address to listen on and advertise (default 127.0.0.1)
          --ignore-stdin           keep running when standard input closes (e.g. started with < /dev/null)
          --sasl-plain USER:PASS   accept this user with SASL/PLAIN (repeatable); the listeners become
                                   SASL_PLAINTEXT (SASL_SSL with --tls)
          --sasl-scram USER:PASS   accept this user with SCRAM-SHA-256 and SCRAM-SHA-512 (repeatable)
          --tls                    TLS listeners (SSL, or SASL_SSL with a --sasl-* user) with a generated
                                   certificate for localhost, 127.0.0.1 and --host; the certificate
                                   authority is written in PEM to a file and its path printed as
                                   CA=<path> on the second line of standard output (librdkafka:
                                   ssl.ca.location=<path>); the file is deleted on exit
          --ca-file PATH           where --tls writes the CA (default: a new file in the temp directory)
          -h, --help               show this help
        """;

    public static async Task<int> Main(string[] args)
    {
        EmbeddedKafkaClusterOptions options;
        bool ignoreStdin;
        string? caFile;
        try
        {
            if (args.Any(a => a is "-h" or "--help"))
            {
                Console.Out.WriteLine(Usage);
                return 0;
            }
            (options, ignoreStdin, caFile) = Parse(args);
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
        if (cluster.CaCertificatePem is { } pem)
        {
            caFile ??= Path.Combine(Path.GetTempPath(), $"kafka-local-cluster-{cluster.ClusterId}-ca.pem");
            await File.WriteAllTextAsync(caFile, pem).ConfigureAwait(false);
            Console.Out.WriteLine($"CA={Path.GetFullPath(caFile)}");
        }
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
        if (cluster.CaCertificatePem is not null && caFile is not null)
        {
            File.Delete(caFile);
        }
        return 0;
    }

    private static (EmbeddedKafkaClusterOptions Options, bool IgnoreStdin, string? CaFile) Parse(string[] args)
    {
        var options = EmbeddedKafkaClusterOptions.Default;
        bool ignoreStdin = false;
        bool tls = false;
        string? caFile = null;
        var users = new List<EmbeddedSaslUser>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            int Number() => int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
            long LongNumber() => long.Parse(Value(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            switch (arg)
            {
                case "--sasl-plain":
                    AddUser(users, Value(), EmbeddedSaslMechanisms.Plain, arg);
                    continue;
                case "--sasl-scram":
                    AddUser(users, Value(), EmbeddedSaslMechanisms.Scram, arg);
                    continue;
                case "--tls":
                    tls = true;
                    continue;
                case "--ca-file":
                    caFile = Value();
                    continue;
            }
            options = arg switch
            {
                "--brokers" => options with { BrokerCount = Number() },
                "--port" => options with { Port = Number() },
                "--partitions" => options with { DefaultPartitions = Number() },
                "--replication-factor" => options with { DefaultReplicationFactor = checked((short)Number()) },
                "--no-auto-create" => options with { AutoCreateTopics = false },
                "--retention-bytes" => options with { LogRetentionBytes = LongNumber() },
                "--retention-ms" => options with { LogRetention = TimeSpan.FromMilliseconds(LongNumber()) },
                "--cluster-id" => options with { ClusterId = Value() },
                "--host" => options with { Host = Value() },
                "--ignore-stdin" => options,
                _ => throw new ArgumentException($"Unknown option {arg}."),
            };
            ignoreStdin |= arg == "--ignore-stdin";
        }
        if (caFile is not null && !tls)
        {
            throw new ArgumentException("--ca-file needs --tls.");
        }
        var protocol = (tls, users.Count > 0) switch
        {
            (true, true) => EmbeddedSecurityProtocol.SaslSsl,
            (true, false) => EmbeddedSecurityProtocol.Ssl,
            (false, true) => EmbeddedSecurityProtocol.SaslPlaintext,
            _ => EmbeddedSecurityProtocol.Plaintext,
        };
        return (options with { SecurityProtocol = protocol, SaslUsers = users }, ignoreStdin, caFile);
    }

    /// <summary>Adds <c>user:password</c> with <paramref name="mechanisms"/>; a user named twice gets both sets, if the passwords agree.</summary>
    private static void AddUser(List<EmbeddedSaslUser> users, string value, EmbeddedSaslMechanisms mechanisms, string option)
    {
        int colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new ArgumentException($"{option} takes USER:PASSWORD.");
        }
        string name = value[..colon];
        string password = value[(colon + 1)..];
        int existing = users.FindIndex(u => u.Name == name);
        if (existing < 0)
        {
            users.Add(new EmbeddedSaslUser(name, password, mechanisms));
            return;
        }
        if (users[existing].Password != password)
        {
            throw new ArgumentException($"User '{name}' is given two different passwords.");
        }
        users[existing] = users[existing] with { Mechanisms = users[existing].Mechanisms | mechanisms };
    }
}
