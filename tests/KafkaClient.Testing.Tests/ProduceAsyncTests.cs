using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Serialization;

namespace KafkaClient.Testing.Tests;

/// <summary><c>ProduceAsync</c>'s pooled completions: each use sees its own result, and cancellation ends only the wait.</summary>
public sealed class ProduceAsyncTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Completions_reused_one_after_another_each_report_their_own_record()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("reuse", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });

        for (int round = 0; round < 3; round++)
        {
            // A window of outstanding results, then awaited in order: the second and third rounds
            // run on completions the earlier rounds gave back.
            var pending = new ValueTask<DeliveryResult<Null, string>>[50];
            for (int i = 0; i < pending.Length; i++)
            {
                pending[i] = producer.ProduceAsync("reuse", new Message<Null, string> { Value = $"{round}-{i}" }, Ct);
            }
            for (int i = 0; i < pending.Length; i++)
            {
                var result = await pending[i];
                result.Message.Value.Should().Be($"{round}-{i}");
                result.Offset.Should().Be(round * 50 + i);
                result.Status.Should().Be(PersistenceStatus.Persisted);
            }
        }
    }

    [Fact]
    public async Task Cancelling_ends_the_wait_for_a_queued_record_but_the_record_is_still_written()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("impatient", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });
        await producer.ProduceAsync("impatient", new Message<Null, string> { Value = "warm-up" }, Ct);
        cluster.InjectLatency(ApiKey.Produce, TimeSpan.FromSeconds(30));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var slow = producer.ProduceAsync("impatient", new Message<Null, string> { Value = "late" }, cancel.Token).AsTask();
        await cancel.CancelAsync();

        await slow.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        cluster.ClearInjectedFaults();
        // The cancelled record was queued: it is written, ahead of the next one.
        var next = await producer.ProduceAsync("impatient", new Message<Null, string> { Value = "next" }, Ct);
        next.Offset.Should().Be(2);
    }

    [Fact]
    public async Task A_token_cancelled_after_delivery_changes_nothing()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("settled", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var first = await producer.ProduceAsync("settled", new Message<Null, string> { Value = "a" }, cancel.Token);
        await cancel.CancelAsync();
        // The first completion is back in the pool; its old registration must not cancel its next use.
        var second = await producer.ProduceAsync("settled", new Message<Null, string> { Value = "b" }, Ct);

        first.Offset.Should().Be(0);
        second.Offset.Should().Be(1);
        second.Message.Value.Should().Be("b");
    }
}
