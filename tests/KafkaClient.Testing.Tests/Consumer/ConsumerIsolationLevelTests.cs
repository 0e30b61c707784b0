using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Producer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>IsolationLevel against our transactional producer: committed, aborted and still-open transactions.</summary>
public sealed class ConsumerIsolationLevelTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    /// <summary>
    /// Writes offsets 0-2 committed (marker at 3), 4-5 aborted (marker at 6), and 7 in a transaction left open;
    /// returns the producer so the caller can commit it.
    /// </summary>
    private async Task<(string Topic, KafkaProducer<string, string> Producer)> WriteTransactionsAsync()
    {
        string topic = NewTopic(Cluster, "isolation");
        var tp = new TopicPartition(topic, 0);
        var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            TransactionalId = EmbeddedClusterFixture.UniqueName("txn"),
        });
        await producer.InitTransactionsAsync(Ct);
        async Task Write(params string[] values)
        {
            foreach (string value in values)
            {
                await producer.ProduceAsync(tp, new Message<string, string> { Value = value }, Ct);
            }
        }
        producer.BeginTransaction();
        await Write("c0", "c1", "c2");
        await producer.CommitTransactionAsync(Ct);
        producer.BeginTransaction();
        await Write("a0", "a1");
        await producer.AbortTransactionAsync(Ct);
        producer.BeginTransaction();
        await Write("open");
        var info = Cluster.Partition(topic, 0);
        info.HighWatermark.Should().Be(8);
        info.LastStableOffset.Should().Be(7);
        return (topic, producer);
    }

    private KafkaConsumer<string, string> NewConsumer(IsolationLevel isolation, string topic)
    {
        var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            IsolationLevel = isolation,
            FetchMaxWait = TimeSpan.FromMilliseconds(50),
        });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        return consumer;
    }

    [Fact]
    public async Task ReadCommitted_skips_aborted_records_and_stops_at_an_open_transaction_until_it_commits()
    {
        var (topic, producer) = await WriteTransactionsAsync();
        await using var _ = producer;
        await using var consumer = NewConsumer(IsolationLevel.ReadCommitted, topic);
        var tp = new TopicPartition(topic, 0);

        var committed = await ConsumeAsync(consumer, 3);
        committed.Select(r => r.Value).Should().Equal("c0", "c1", "c2");
        (await DrainAsync(consumer)).Should().BeEmpty("the aborted records are dropped and the open transaction is beyond the last stable offset");
        await WaitUntilAsync(() => consumer.GetWatermarkOffsets(tp).LastStableOffset == 7, Deadline, "the fetch reported the last stable offset");
        consumer.GetWatermarkOffsets(tp).HighWatermark.Should().Be(8);
        consumer.Lag(tp).Should().Be(0, "under read_committed the end is the last stable offset");
        (await consumer.QueryWatermarkOffsetsAsync(tp, Ct)).Should().Be(new WatermarkOffsets(0, 8, 7), "the query reports the high watermark and the last stable offset apart");

        await producer.CommitTransactionAsync(Ct);
        var next = await ConsumeAsync(consumer, 1);
        next.Single().Value.Should().Be("open");
        next.Single().Offset.Should().Be(7);
        (await DrainAsync(consumer)).Should().BeEmpty("control records are never handed out");
    }

    [Fact]
    public async Task ReadUncommitted_reads_aborted_and_open_transactions_but_no_control_records()
    {
        var (topic, producer) = await WriteTransactionsAsync();
        await using var _ = producer;
        await using var consumer = NewConsumer(IsolationLevel.ReadUncommitted, topic);

        var records = await ConsumeAsync(consumer, 6);

        records.Select(r => r.Value).Should().Equal("c0", "c1", "c2", "a0", "a1", "open");
        records.Select(r => r.Offset).Should().Equal(0, 1, 2, 4, 5, 7);
        (await DrainAsync(consumer)).Should().BeEmpty();
        consumer.Lag(new TopicPartition(topic, 0)).Should().Be(0, "under read_uncommitted the end is the high watermark");
    }
}
