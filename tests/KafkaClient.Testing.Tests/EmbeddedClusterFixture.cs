using Confluent.Kafka;
using KafkaClient.TestBrokers;

namespace KafkaClient.Testing.Tests;

/// <summary>One three-broker embedded cluster shared by a test class; topic names are unique per test.</summary>
public class EmbeddedClusterFixture : IAsyncLifetime
{
    static EmbeddedClusterFixture()
    {
        // librdkafka's default native build needs libsasl2.so.3, which Debian 12 lacks: bind
        // Confluent.Kafka to the build that loads (tests/KafkaClient.TestBrokers/README.md).
        LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);
    }

    private EmbeddedKafkaCluster? _cluster;

    public EmbeddedKafkaCluster Cluster => _cluster ?? throw new InvalidOperationException("Not started.");

    protected virtual EmbeddedKafkaClusterOptions Options => EmbeddedKafkaClusterOptions.Default;

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public async ValueTask InitializeAsync() => _cluster = await EmbeddedKafkaCluster.StartAsync(Options, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Forces the static constructor (the native library binding) before a Confluent client is built.</summary>
    public static void EnsureNativeLibrary()
    {
    }
}

/// <summary>
/// A cluster without time-based retention, for tests whose raw batches carry synthetic (1970)
/// timestamps that Kafka's default 7-day <c>log.retention.ms</c> would delete at the next sweep.
/// </summary>
public sealed class KeepForeverClusterFixture : EmbeddedClusterFixture
{
    protected override EmbeddedKafkaClusterOptions Options => base.Options with { LogRetention = Timeout.InfiniteTimeSpan };
}
