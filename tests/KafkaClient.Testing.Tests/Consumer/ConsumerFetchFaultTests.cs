using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// Fetching through leadership faults (assign mode, no group): errors injected on Fetch, a leader moved and a broker
/// restarted mid-consumption. Every record must be read exactly once and in order.
/// </summary>
public sealed class ConsumerFetchFaultTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private const int Partitions = 3;
    private const int PerPartition = 600;

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    /// <summary>Writes the first half, reads a quarter, applies <paramref name="fault"/>, writes the second half, reads the rest.</summary>
    private async Task ReadThroughAsync(Func<string, Task> fault, Func<string, Task>? afterwards = null)
    {
        string topic = NewTopic(Cluster, "faults", Partitions, replicationFactor: 3);
        for (int p = 0; p < Partitions; p++)
        {
            await ProduceAsync(Cluster, topic, p, PerPartition / 2);
        }
        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            MaxPartitionFetchBytes = 2048,
            RetryBackoff = TimeSpan.FromMilliseconds(50),
        });
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<(int Partition, long Offset, string Value)>();
        void Keep(IEnumerable<ConsumeResult<string, string>> batch) => records.AddRange(batch.Select(r => (r.Partition, r.Offset, r.Value!)));

        Keep(await ConsumeAsync(consumer, Partitions * PerPartition / 4));
        await fault(topic);
        for (int p = 0; p < Partitions; p++)
        {
            await ProduceAsync(Cluster, topic, p, PerPartition / 2, first: PerPartition / 2);
        }
        Keep(await ConsumeAsync(consumer, Partitions * PerPartition - records.Count));
        if (afterwards is not null)
        {
            await afterwards(topic);
        }

        (await DrainAsync(consumer)).Should().BeEmpty("nothing is read twice");
        for (int p = 0; p < Partitions; p++)
        {
            var partition = records.Where(r => r.Partition == p).ToList();
            partition.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, PerPartition).Select(i => (long)i), $"partition {p} is read once, in order");
            partition.Select(r => r.Value).Should().Equal(Enumerable.Range(0, PerPartition).Select(i => "v" + i));
            consumer.Position(new TopicPartition(topic, p)).Should().Be(PerPartition);
        }
    }

    [Theory]
    [InlineData(ErrorCode.NotLeaderOrFollower)]
    [InlineData(ErrorCode.FencedLeaderEpoch)]
    [InlineData(ErrorCode.UnknownLeaderEpoch)]
    public async Task Injected_fetch_errors_are_retried_without_loss_or_duplicates(ErrorCode error) =>
        await ReadThroughAsync(_ =>
        {
            Cluster.InjectErrors(ApiKey.Fetch, error, count: 5);
            return Task.CompletedTask;
        });

    [Fact]
    public async Task Leaders_moved_mid_consumption_are_followed()
    {
        await ReadThroughAsync(topic =>
        {
            for (int p = 0; p < Partitions; p++)
            {
                var info = Cluster.Partition(topic, p);
                Cluster.MovePartitionLeader(topic, p, info.Replicas.First(r => r != info.LeaderId));
            }
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task A_restarted_broker_does_not_lose_or_repeat_records()
    {
        int stopped = -1;
        try
        {
            await ReadThroughAsync(
                async topic =>
                {
                    stopped = Cluster.Partition(topic, 0).LeaderId;
                    await Cluster.StopBrokerAsync(stopped, Ct);
                    Cluster.Partition(topic, 0).LeaderId.Should().NotBe(stopped);
                },
                async topic =>
                {
                    await Cluster.StartBrokerAsync(stopped, Ct);
                    stopped = -1;
                    for (int p = 0; p < Partitions; p++)
                    {
                        var info = Cluster.Partition(topic, p);
                        Cluster.MovePartitionLeader(topic, p, info.Replicas[0]);
                    }
                });
        }
        finally
        {
            if (stopped >= 0)
            {
                await Cluster.StartBrokerAsync(stopped, Ct);
            }
        }
    }
}
