using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FluentAssertions;

namespace KafkaClient.Testing.Tests;

/// <summary>Confluent.Kafka (librdkafka, a client nobody here wrote) against the embedded cluster.</summary>
public sealed class ConfluentInteropTests : IClassFixture<EmbeddedClusterFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly EmbeddedClusterFixture _fixture;

    public ConfluentInteropTests(EmbeddedClusterFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private IAdminClient NewAdmin() => new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();

    [Fact]
    public void AdminClient_metadata_lists_every_broker_and_the_controller()
    {
        using var admin = NewAdmin();
        var metadata = admin.GetMetadata(Timeout);
        metadata.Brokers.Select(b => b.BrokerId).Should().BeEquivalentTo(Cluster.Brokers.Select(b => b.NodeId));
        metadata.Brokers.Select(b => b.Port).Should().BeEquivalentTo(Cluster.Brokers.Select(b => b.Port));
    }

    [Fact]
    public async Task AdminClient_creates_grows_and_deletes_topics()
    {
        string topic = EmbeddedClusterFixture.UniqueName("admin");
        using var admin = NewAdmin();

        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 3, ReplicationFactor = 2 }]);
        var described = Cluster.DescribePartition(topic, 2);
        described.Should().NotBeNull();
        described!.Value.Replicas.Should().HaveCount(2);
        admin.GetMetadata(topic, Timeout).Topics.Single().Partitions.Should().HaveCount(3);

        var again = async () => await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 1 }]);
        (await again.Should().ThrowAsync<CreateTopicsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.TopicAlreadyExists);

        var tooMany = async () => await admin.CreateTopicsAsync([new TopicSpecification { Name = topic + "-rf", NumPartitions = 1, ReplicationFactor = 4 }]);
        (await tooMany.Should().ThrowAsync<CreateTopicsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidReplicationFactor);

        await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = topic, IncreaseTo = 5 }]);
        Cluster.DescribePartition(topic, 4).Should().NotBeNull();

        var shrink = async () => await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = topic, IncreaseTo = 2 }]);
        (await shrink.Should().ThrowAsync<CreatePartitionsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidPartitions);

        await admin.DeleteTopicsAsync([topic]);
        Cluster.TopicNames().Should().NotContain(topic);
        var deleteAgain = async () => await admin.DeleteTopicsAsync([topic]);
        (await deleteAgain.Should().ThrowAsync<DeleteTopicsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.UnknownTopicOrPart);
    }

    [Fact]
    public async Task Idempotent_lz4_producer_writes_1000_records_that_a_consumer_reads_back_in_order()
    {
        string topic = EmbeddedClusterFixture.UniqueName("lz4");
        Cluster.CreateTopic(topic, partitions: 1);
        var config = new ProducerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            CompressionType = Confluent.Kafka.CompressionType.Lz4,
            LingerMs = 5,
        };
        using (var producer = new ProducerBuilder<string, string>(config).Build())
        {
            var deliveries = Enumerable.Range(0, 1000)
                .Select(i => producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = $"value-{i}" }, TestContext.Current.CancellationToken))
                .ToList();
            var results = await Task.WhenAll(deliveries);
            results.Select(r => r.Offset.Value).Should().Equal(Enumerable.Range(0, 1000).Select(i => (long)i));
        }
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(1000);

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = EmbeddedClusterFixture.UniqueName("unused"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning));
        var read = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + Timeout;
        while (read.Count < 1000 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is not null && !result.IsPartitionEOF)
            {
                read.Add(result);
            }
        }
        read.Select(r => r.Message.Value).Should().Equal(Enumerable.Range(0, 1000).Select(i => $"value-{i}"));
        read.Select(r => r.Offset.Value).Should().Equal(Enumerable.Range(0, 1000).Select(i => (long)i));
    }

    [Fact]
    public async Task Producing_to_an_unknown_topic_creates_it()
    {
        string topic = EmbeddedClusterFixture.UniqueName("auto");
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = Cluster.BootstrapServers }).Build();
        var result = await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = Encoding.UTF8.GetBytes("hello") }, TestContext.Current.CancellationToken);
        result.Status.Should().Be(PersistenceStatus.Persisted);
        Cluster.TopicNames().Should().Contain(topic);
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(1);
    }

    private List<string> ConsumeValues(IConsumer<Null, string> consumer, int count)
    {
        var values = new List<string>();
        var deadline = DateTime.UtcNow + Timeout;
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is not null && !result.IsPartitionEOF)
            {
                values.Add(result.Message.Value);
            }
        }
        return values;
    }

    [Fact]
    public async Task Producer_and_consumer_follow_a_moved_leader_and_a_stopped_broker()
    {
        string topic = EmbeddedClusterFixture.UniqueName("failover");
        Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 1,
        }).Build();
        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = EmbeddedClusterFixture.UniqueName("unused"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning));

        async Task ProduceBatch(string prefix)
        {
            for (int i = 0; i < 10; i++)
            {
                var r = await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"{prefix}{i}" }, TestContext.Current.CancellationToken);
                r.Status.Should().Be(PersistenceStatus.Persisted);
            }
        }

        await ProduceBatch("a");
        ConsumeValues(consumer, 10).Should().Equal(Enumerable.Range(0, 10).Select(i => $"a{i}"));

        var before = Cluster.DescribePartition(topic, 0)!.Value;
        Cluster.MovePartitionLeader(topic, 0, before.Replicas.First(r => r != before.LeaderId));
        await ProduceBatch("b");
        ConsumeValues(consumer, 10).Should().Equal(Enumerable.Range(0, 10).Select(i => $"b{i}"));

        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;
        await Cluster.StopBrokerAsync(leader, TestContext.Current.CancellationToken);
        try
        {
            Cluster.DescribePartition(topic, 0)!.Value.LeaderId.Should().NotBe(leader);
            await ProduceBatch("c");
            ConsumeValues(consumer, 10).Should().Equal(Enumerable.Range(0, 10).Select(i => $"c{i}"));
        }
        finally
        {
            await Cluster.StartBrokerAsync(leader, TestContext.Current.CancellationToken);
        }
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(30);
    }
}
