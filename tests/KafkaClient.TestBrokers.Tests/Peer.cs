using Confluent.Kafka;
using Xunit;

namespace KafkaClient.TestBrokers.Tests;

/// <summary>Confluent.Kafka clients pointed at a mock cluster, using the same librdkafka file as the mock.</summary>
internal static class Peer
{
    private static readonly Lazy<string> LoadedPath = new(() =>
    {
        // Bind Confluent's DllImports to the mock's file. Library.Load(path) is no use on Debian 12:
        // it P/Invokes dlopen from "libdl", and only libdl.so.2 exists without libc6-dev.
        LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);
        return LibrdkafkaNativeLibrary.Path;
    });

    public static string EnsureLoaded() => LoadedPath.Value;

    public static IAdminClient Admin(string bootstrap)
    {
        EnsureLoaded();
        return new AdminClientBuilder(new AdminClientConfig
        {
            BootstrapServers = bootstrap,
            SocketTimeoutMs = 5000,
            TopicMetadataRefreshIntervalMs = 200,
            LogConnectionClose = false,
        }).SetLogHandler(static (_, _) => { }).Build();
    }

    public static IProducer<string, string> Producer(string bootstrap, Action<ProducerConfig>? configure = null)
    {
        EnsureLoaded();
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            LingerMs = 0,
            MessageTimeoutMs = 10_000,
            RetryBackoffMs = 20,
            RetryBackoffMaxMs = 50,
            LogConnectionClose = false,
        };
        configure?.Invoke(config);
        return new ProducerBuilder<string, string>(config).SetLogHandler(static (_, _) => { }).Build();
    }

    public static IConsumer<string, string> Consumer(string bootstrap, string groupId, Action<ConsumerConfig>? configure = null)
    {
        EnsureLoaded();
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            FetchWaitMaxMs = 50,
            LogConnectionClose = false,
        };
        configure?.Invoke(config);
        return new ConsumerBuilder<string, string>(config).SetLogHandler(static (_, _) => { }).Build();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (condition())
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }
}
