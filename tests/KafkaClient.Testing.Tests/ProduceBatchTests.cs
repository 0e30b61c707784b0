using System.Text;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Producer;

namespace KafkaClient.Testing.Tests;

/// <summary><see cref="IProducer{TKey, TValue}.ProduceBatchAsync(string, IEnumerable{Message{TKey, TValue}}, CancellationToken)"/> on the embedded cluster.</summary>
public sealed class ProduceBatchTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ProducerOptions Options => new() { BootstrapServers = fixture.Cluster.BootstrapServers, Linger = TimeSpan.FromMilliseconds(5) };

    [Fact]
    public async Task Every_message_gets_its_result_in_the_order_given_and_each_partition_keeps_that_order()
    {
        string topic = EmbeddedClusterFixture.UniqueName("batch");
        fixture.Cluster.CreateTopic(topic, partitions: 3, replicationFactor: 1);
        var messages = Enumerable.Range(0, 1000).Select(i => new Message<string, string> { Key = $"k{i % 7}", Value = $"v{i}" }).ToList();
        await using var producer = new KafkaProducer<string, string>(Options);

        var results = await producer.ProduceBatchAsync(topic, messages, Ct);

        results.Should().HaveCount(1000);
        results.Select(r => r.Message).Should().Equal(messages, ReferenceEquals, "result i is message i's");
        results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted && r.Error == null);
        foreach (var partition in results.GroupBy(r => r.Partition))
        {
            partition.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, partition.Count()).Select(o => (long)o),
                $"partition {partition.Key} got its messages in the order given, with no gap");
        }
        results.Should().OnlyContain(r => r.Partition == Partitioners.PartitionForKey(Encoding.UTF8.GetBytes(r.Message.Key!), 3));

        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = fixture.Cluster.BootstrapServers });
        consumer.Assign(Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        var read = new List<string>();
        while (read.Count < 1000)
        {
            read.Add((await consumer.ConsumeAsync(Ct)).Value);
        }
        read.Should().BeEquivalentTo(messages.Select(m => m.Value));
    }

    [Fact]
    public async Task A_message_that_fails_does_not_stop_the_others_and_the_exception_reports_every_result()
    {
        string topic = EmbeddedClusterFixture.UniqueName("batch-fail");
        fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var messages = Enumerable.Range(0, 10).Select(i => new Message<string, string> { Value = i == 4 ? new string('x', 8000) : $"v{i}" }).ToList();
        await using var producer = new KafkaProducer<string, string>(Options with { MaxRequestSize = 4096, BufferMemory = 1 << 20 });

        var act = () => producer.ProduceBatchAsync(new TopicPartition(topic, 0), messages, Ct);

        var thrown = (await act.Should().ThrowAsync<ProduceBatchException<string, string>>()).Which;
        thrown.FailedCount.Should().Be(1);
        thrown.ErrorCode.Should().Be(ErrorCode.MessageTooLarge);
        thrown.Results.Should().HaveCount(10);
        thrown.Results[4].Error!.ErrorCode.Should().Be(ErrorCode.MessageTooLarge);
        thrown.Results[4].Status.Should().Be(PersistenceStatus.NotPersisted);
        thrown.Results.Where((_, i) => i != 4).Select(r => (r.Status, r.Offset, r.Message.Value))
            .Should().Equal(messages.Where((_, i) => i != 4).Select((m, n) => (PersistenceStatus.Persisted, (long)n, m.Value)),
                "the other nine were written in order, one after the other");
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_the_producer_goes_on()
    {
        string topic = EmbeddedClusterFixture.UniqueName("batch-cancel");
        fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<string, string>(Options);
        await producer.ProduceAsync(topic, new Message<string, string> { Value = "warm" }, Ct);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var act = () => producer.ProduceBatchAsync(topic, [new Message<string, string> { Value = "a" }, new Message<string, string> { Value = "b" }], cancelled.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        var after = await producer.ProduceBatchAsync(topic, [new Message<string, string> { Value = "c" }], Ct);
        after.Should().ContainSingle().Which.Status.Should().Be(PersistenceStatus.Persisted);
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_anything_is_queued()
    {
        await using var producer = new KafkaProducer<string, string>(Options);
        await producer.Invoking(p => p.ProduceBatchAsync(new TopicPartition("t", -1), [], Ct)).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await producer.Invoking(p => p.ProduceBatchAsync("t", null!, Ct)).Should().ThrowAsync<ArgumentNullException>();
        (await producer.ProduceBatchAsync("t", [], Ct)).Should().BeEmpty();
    }
}
