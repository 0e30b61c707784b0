using KafkaClient.Testing;
using KafkaClient.TestBrokers;
using Testcontainers.Kafka;

namespace KafkaClient.IntegrationTests.Tiers;

/// <summary>The brokers a behaviour is proven against (TEST-BROKERS.md): one test body, every tier that fits.</summary>
public enum BrokerTier
{
    /// <summary>Tier 2: our embedded cluster.</summary>
    Embedded,

    /// <summary>Tier 3: librdkafka's mock cluster.</summary>
    LibrdkafkaMock,

    /// <summary>Tier 4: real Apache Kafka, from KAFKA_BOOTSTRAP_SERVERS or a Testcontainers container when a Docker engine answers.</summary>
    RealKafka,
}

/// <summary>A running broker of some tier, and how to create a topic on it.</summary>
public sealed class TierBroker : IAsyncDisposable
{
    private readonly Func<string, int, Task> _createTopic;
    private readonly Func<ValueTask> _dispose;

    private TierBroker(string bootstrapServers, Func<string, int, Task> createTopic, Func<ValueTask> dispose)
    {
        BootstrapServers = bootstrapServers;
        _createTopic = createTopic;
        _dispose = dispose;
    }

    public string BootstrapServers { get; }

    public Task CreateTopicAsync(string name, int partitions) => _createTopic(name, partitions);

    public ValueTask DisposeAsync() => _dispose();

    /// <summary>Starts (or finds) a broker of <paramref name="tier"/>, or skips the test saying why it cannot.</summary>
    public static async Task<TierBroker> StartAsync(BrokerTier tier, CancellationToken cancellationToken)
    {
        switch (tier)
        {
            case BrokerTier.Embedded:
                var embedded = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 3 }, cancellationToken);
                return new TierBroker(embedded.BootstrapServers, (name, partitions) =>
                {
                    embedded.CreateTopic(name, partitions, replicationFactor: 3);
                    return Task.CompletedTask;
                }, embedded.DisposeAsync);
            case BrokerTier.LibrdkafkaMock:
                var mock = LibrdkafkaMockCluster.Start(3);
                return new TierBroker(mock.BootstrapServers, (name, partitions) =>
                {
                    mock.CreateTopic(name, partitions, replicationFactor: 3);
                    return Task.CompletedTask;
                }, mock.DisposeAsync);
            default:
                string? external = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
                if (!string.IsNullOrWhiteSpace(external))
                {
                    return new TierBroker(external, (name, partitions) => CreateTopicWithAdminAsync(external, name, partitions), () => ValueTask.CompletedTask);
                }
                KafkaContainer container;
                try
                {
                    container = new KafkaBuilder("apache/kafka:4.1.0").Build();
                    using var startup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    startup.CancelAfter(TimeSpan.FromMinutes(3));
                    await container.StartAsync(startup.Token);
                }
#pragma warning disable CA1031 // Any failure to reach Docker means: no tier 4 here.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Assert.Skip($"Tier 4 (real Apache Kafka) needs KAFKA_BOOTSTRAP_SERVERS or a Docker engine for Testcontainers; neither is available here ({ex.GetType().Name}: {ex.Message.Split('\n')[0]}).");
                    throw; // unreachable: Assert.Skip throws
                }
                string bootstrap = container.GetBootstrapAddress().Replace("PLAINTEXT://", "", StringComparison.Ordinal);
                return new TierBroker(bootstrap, (name, partitions) => CreateTopicWithAdminAsync(bootstrap, name, partitions), container.DisposeAsync);
        }
    }

    private static async Task CreateTopicWithAdminAsync(string bootstrap, string name, int partitions)
    {
        using var admin = new Confluent.Kafka.AdminClientBuilder(new Confluent.Kafka.AdminClientConfig { BootstrapServers = bootstrap }).Build();
        await admin.CreateTopicsAsync([new Confluent.Kafka.Admin.TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = -1 }]);
    }
}
