using Xunit;

namespace KafkaClient.TestBrokers;

/// <summary>
/// xunit v3 fixture that starts a <see cref="LibrdkafkaMockCluster"/> for a test class
/// (<c>IClassFixture&lt;LibrdkafkaMockClusterFixture&gt;</c>) or a collection
/// (<c>ICollectionFixture&lt;...&gt;</c>). Derive and override <see cref="BrokerCount"/> or
/// <see cref="CreateOptions"/> to change the set-up. Tests sharing one cluster should use
/// <see cref="UniqueName"/> for topics and group ids.
/// </summary>
public class LibrdkafkaMockClusterFixture : IAsyncLifetime
{
    private LibrdkafkaMockCluster? _cluster;

    /// <summary>The running cluster.</summary>
    /// <exception cref="InvalidOperationException">Before <see cref="InitializeAsync"/> ran.</exception>
    public LibrdkafkaMockCluster Cluster =>
        _cluster ?? throw new InvalidOperationException("The fixture has not been initialized.");

    /// <summary>The cluster's bootstrap servers.</summary>
    public string BootstrapServers => Cluster.BootstrapServers;

    /// <summary>How many brokers to start; 3 unless overridden.</summary>
    protected virtual int BrokerCount => 3;

    /// <summary>A name no other call in this process returns, e.g. <c>prefix-3f2a...</c>.</summary>
    /// <param name="prefix">A readable prefix.</param>
    /// <returns>The unique name.</returns>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Starts the cluster.</summary>
    /// <returns>A completed task.</returns>
    public virtual ValueTask InitializeAsync()
    {
        _cluster = LibrdkafkaMockCluster.Start(BrokerCount, CreateOptions());
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops the cluster.</summary>
    /// <returns>A task that completes when the cluster is gone.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        if (_cluster is { } cluster)
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The options the cluster starts with; the defaults unless overridden.</summary>
    /// <returns>The options.</returns>
    protected virtual LibrdkafkaMockClusterOptions CreateOptions() => new();
}
