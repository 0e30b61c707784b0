using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>CloseTimeout: closing never hangs, even with every broker gone (this class stops its own cluster's brokers).</summary>
public sealed class ConsumerCloseTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    /// <summary>
    /// A group member with a position to commit closes while every broker is stopped: the commit and the leave cannot
    /// succeed, and are abandoned after the 1 s CloseTimeout (with the 30 s default the commit would retry for the whole
    /// request timeout). The deadline is generous; it only separates "bounded by CloseTimeout" from "bounded by 30 s".
    /// </summary>
    [Fact]
    public async Task CloseAsync_returns_within_the_close_timeout_when_every_broker_is_stopped()
    {
        string topic = NewTopic(Cluster, "close", partitions: 2);
        await ProduceAsync(Cluster, topic, 0, 10);
        var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = EmbeddedClusterFixture.UniqueName("close"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            AutoCommitInterval = TimeSpan.FromMinutes(1),
            CloseTimeout = TimeSpan.FromSeconds(1),
        });
        consumer.Subscribe([topic]);
        (await ConsumeAsync(consumer, 10)).Should().HaveCount(10);

        try
        {
            foreach (var broker in Cluster.Brokers)
            {
                await Cluster.StopBrokerAsync(broker.NodeId, Ct);
            }

            var close = consumer.CloseAsync(Ct);
            await close.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            close.IsCompletedSuccessfully.Should().BeTrue();
            await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(Ct)).Should().ThrowAsync<ObjectDisposedException>();
        }
        finally
        {
            foreach (var broker in Cluster.Brokers.Where(b => !b.IsRunning))
            {
                await Cluster.StartBrokerAsync(broker.NodeId, Ct);
            }
        }
    }
}
