using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Producer;
using KafkaClient.Protocol.Compression;
using KafkaClient.Serialization;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>The consumer against the embedded cluster: reading what our producer wrote, alone and in a group.</summary>
public sealed class ConsumerBasicsTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<string> ProduceAsync(int partitions, int count, CompressionType compression = CompressionType.None)
    {
        string topic = EmbeddedClusterFixture.UniqueName("consume");
        Cluster.CreateTopic(topic, partitions, replicationFactor: 1);
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = Cluster.BootstrapServers, Compression = compression });
        var sends = new List<Task>();
        for (int i = 0; i < count; i++)
        {
            sends.Add(producer.ProduceAsync(new TopicPartition(topic, i % partitions), new Message<string, string>
            {
                Key = "k" + i,
                Value = "v" + i,
                Headers = [new Header("n", BitConverter.GetBytes(i))],
            }, Ct).AsTask());
        }
        await Task.WhenAll(sends);
        return topic;
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task Assigned_partitions_are_read_from_the_beginning_in_order(CompressionType compression)
    {
        string topic = await ProduceAsync(partitions: 3, count: 3000, compression);
        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers });
        consumer.Assign(Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));

        var seen = new Dictionary<int, List<(long Offset, int N)>>();
        while (seen.Values.Sum(l => l.Count) < 3000)
        {
            var record = await consumer.ConsumeAsync(Ct);
            record.Headers.TryGetLastValue("n", out var n).Should().BeTrue();
            int i = BitConverter.ToInt32(n.Span);
            record.Key.Should().Be("k" + i);
            record.Value.Should().Be("v" + i);
            (i % 3).Should().Be(record.Partition);
            if (!seen.TryGetValue(record.Partition, out var list))
            {
                seen[record.Partition] = list = [];
            }
            list.Add((record.Offset, i));
        }

        foreach (var (partition, list) in seen)
        {
            list.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 1000).Select(o => (long)o), $"partition {partition} is read in offset order without gaps");
            list.Select(r => r.N).Should().BeInAscendingOrder();
            consumer.Position(new TopicPartition(topic, partition)).Should().Be(1000);
            consumer.Lag(new TopicPartition(topic, partition)).Should().Be(0);
        }
    }

    [Fact]
    public async Task A_group_member_commits_and_the_next_member_resumes_after_it()
    {
        string topic = await ProduceAsync(partitions: 2, count: 200);
        string group = EmbeddedClusterFixture.UniqueName("group");
        var options = new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitStrategy = CommitStrategy.Manual,
        };
        await using (var first = new KafkaConsumer<string, string>(options))
        {
            first.Subscribe([topic]);
            var batch = new List<ConsumeResult<string, string>>();
            while (batch.Count < 120)
            {
                batch.AddRange(await first.ConsumeBatchAsync(120 - batch.Count, TimeSpan.FromSeconds(5), Ct));
            }
            var committed = await first.CommitAsync(Ct);
            committed.Should().NotBeEmpty();
        }

        await using var second = new KafkaConsumer<string, string>(options);
        second.Subscribe([topic]);
        var rest = new List<ConsumeResult<string, string>>();
        while (rest.Count < 80)
        {
            rest.AddRange(await second.ConsumeBatchAsync(200, TimeSpan.FromSeconds(5), Ct));
        }
        rest.Should().HaveCount(80, "the second member starts where the first committed");
        var committedNow = await second.CommittedAsync([new TopicPartition(topic, 0), new TopicPartition(topic, 1)], Ct);
        committedNow.Sum(o => o.Offset).Should().Be(120);
    }
}
