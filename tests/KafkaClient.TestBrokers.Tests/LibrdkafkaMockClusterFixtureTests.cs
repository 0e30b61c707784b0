using Confluent.Kafka;
using FluentAssertions;
using Xunit;

namespace KafkaClient.TestBrokers.Tests;

/// <summary>The xunit fixture shares one cluster between a class's tests.</summary>
public sealed class LibrdkafkaMockClusterFixtureTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private readonly LibrdkafkaMockClusterFixture _fixture;

    public LibrdkafkaMockClusterFixtureTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public void Fixture_starts_a_three_broker_cluster()
    {
        _fixture.Cluster.IsDisposed.Should().BeFalse();
        _fixture.Cluster.BrokerCount.Should().Be(3);
        _fixture.BootstrapServers.Should().Be(_fixture.Cluster.BootstrapServers);
    }

    [Fact]
    public async Task Fixture_cluster_serves_a_confluent_producer()
    {
        var topic = LibrdkafkaMockClusterFixture.UniqueName("fixture");
        _fixture.Cluster.CreateTopic(topic, 2);
        using var producer = Peer.Producer(_fixture.BootstrapServers);

        var result = await producer.ProduceAsync(new TopicPartition(topic, 1), new Message<string, string> { Value = "x" },
            TestContext.Current.CancellationToken);

        result.Status.Should().Be(PersistenceStatus.Persisted);
        result.TopicPartitionOffset.Should().Be(new TopicPartitionOffset(topic, 1, 0));
    }

    [Fact]
    public void UniqueName_never_repeats()
    {
        var names = Enumerable.Range(0, 100).Select(_ => LibrdkafkaMockClusterFixture.UniqueName("t")).ToList();
        names.Should().OnlyHaveUniqueItems().And.OnlyContain(n => n.StartsWith("t-", StringComparison.Ordinal));
    }
}
