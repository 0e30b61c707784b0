using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>The consume calls: ConsumeAsync, ConsumeAllAsync and ConsumeBatchAsync.</summary>
public sealed class ConsumerConsumeApiTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<(KafkaConsumer<string, string> Consumer, TopicPartition Partition)> AssignedAsync(int records)
    {
        string topic = NewTopic(Cluster, "consume");
        if (records > 0)
        {
            await ProduceAsync(Cluster, topic, 0, records);
        }
        var consumer = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, FetchMaxWait = TimeSpan.FromMilliseconds(50) });
        var tp = new TopicPartition(topic, 0);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        return (consumer, tp);
    }

    [Fact]
    public async Task ConsumeAllAsync_yields_every_record_until_cancelled()
    {
        var (consumer, _) = await AssignedAsync(25);
        await using var _ = consumer;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Deadline);
        var offsets = new List<long>();

        var enumerate = async () =>
        {
            await foreach (var record in consumer.ConsumeAllAsync(cts.Token))
            {
                offsets.Add(record.Offset);
                record.Value.Should().Be("v" + record.Offset);
                if (offsets.Count == 25)
                {
                    await cts.CancelAsync();
                }
            }
        };

        await enumerate.Should().ThrowAsync<OperationCanceledException>();
        offsets.Should().Equal(Enumerable.Range(0, 25).Select(i => (long)i));
    }

    [Fact]
    public async Task ConsumeBatchAsync_returns_at_most_maxRecords()
    {
        var (consumer, _) = await AssignedAsync(100);
        await using var _ = consumer;
        var batches = new List<IReadOnlyList<ConsumeResult<string, string>>>();

        while (batches.Sum(b => b.Count) < 100)
        {
            batches.Add(await consumer.ConsumeBatchAsync(7, Deadline, Ct));
        }

        batches.Should().OnlyContain(b => b.Count >= 1 && b.Count <= 7);
        batches.Count(b => b.Count == 7).Should().BeGreaterThan(1, "buffered records fill a batch");
        batches.SelectMany(b => b).Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 100).Select(i => (long)i));
    }

    [Fact]
    public async Task ConsumeBatchAsync_is_empty_after_maxWait_when_there_is_nothing_to_read_and_returns_a_record_that_arrives_meanwhile()
    {
        var (consumer, tp) = await AssignedAsync(0);
        await using var _ = consumer;

        (await consumer.ConsumeBatchAsync(10, TimeSpan.FromMilliseconds(200), Ct)).Should().BeEmpty();
        (await consumer.ConsumeBatchAsync(10, TimeSpan.Zero, Ct)).Should().BeEmpty();

        var waiting = consumer.ConsumeBatchAsync(10, Deadline, Ct).AsTask();
        await ProduceAsync(Cluster, tp.Topic, 0, 1);
        (await waiting).Should().ContainSingle().Which.Value.Should().Be("v0");
    }

    [Fact]
    public async Task ConsumeAsync_waits_for_a_record_and_honours_cancellation()
    {
        var (consumer, tp) = await AssignedAsync(0);
        await using var _ = consumer;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var waiting = consumer.ConsumeAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await FluentActions.Awaiting(() => waiting).Should().ThrowAsync<OperationCanceledException>();

        var next = consumer.ConsumeAsync(Ct).AsTask();
        await ProduceAsync(Cluster, tp.Topic, 0, 1);
        (await next.WaitAsync(Deadline, Ct)).Value.Should().Be("v0");
    }

    [Fact]
    public async Task Consuming_after_close_throws_ObjectDisposedException()
    {
        var (consumer, _) = await AssignedAsync(1);
        await consumer.CloseAsync(Ct);

        await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(Ct)).Should().ThrowAsync<ObjectDisposedException>();
        await consumer.DisposeAsync();
    }
}
