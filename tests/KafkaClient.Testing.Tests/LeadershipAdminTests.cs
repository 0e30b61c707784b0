using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Tests;

/// <summary>ElectLeaders (through Confluent.Kafka's AdminClient) and DescribeLogDirs (through our wire layer) on the embedded cluster.</summary>
public sealed class LeadershipAdminTests : IClassFixture<EmbeddedClusterFixture>
{
    private readonly EmbeddedClusterFixture _fixture;

    public LeadershipAdminTests(EmbeddedClusterFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Preferred_election_moves_leadership_back_to_the_first_replica()
    {
        string topic = EmbeddedClusterFixture.UniqueName("elect");
        Cluster.CreateTopic(topic, 1, 3);
        var before = Cluster.DescribePartition(topic, 0)!.Value;
        int preferred = before.Replicas[0];
        Cluster.MovePartitionLeader(topic, 0, before.Replicas[1]);
        Cluster.DescribePartition(topic, 0)!.Value.LeaderId.Should().Be(before.Replicas[1]);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();

        var result = await admin.ElectLeadersAsync(ElectionType.Preferred, [new Confluent.Kafka.TopicPartition(topic, 0)]);

        result.TopicPartitions.Single().Error.IsError.Should().BeFalse();
        var after = Cluster.DescribePartition(topic, 0)!.Value;
        after.LeaderId.Should().Be(preferred);
        after.LeaderEpoch.Should().BeGreaterThan(before.LeaderEpoch + 1);
        after.Replicas.Should().Equal(before.Replicas);

        var again = async () => await admin.ElectLeadersAsync(ElectionType.Preferred, [new Confluent.Kafka.TopicPartition(topic, 0)]);
        (await again.Should().ThrowAsync<ElectLeadersException>()).Which.Results.TopicPartitions.Single().Error.Code
            .Should().Be(Confluent.Kafka.ErrorCode.ElectionNotNeeded);
        var unknown = async () => await admin.ElectLeadersAsync(ElectionType.Preferred, [new Confluent.Kafka.TopicPartition(topic, 7)]);
        (await unknown.Should().ThrowAsync<ElectLeadersException>()).Which.Results.TopicPartitions.Single().Error.Code
            .Should().Be(Confluent.Kafka.ErrorCode.UnknownTopicOrPart);
    }

    [Fact]
    public async Task DescribeLogDirs_reports_one_dir_per_broker_with_the_partitions_it_replicates_and_their_sizes()
    {
        string topic = EmbeddedClusterFixture.UniqueName("logdirs");
        Cluster.CreateTopic(topic, 2, 2);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = Cluster.BootstrapServers }).Build())
        {
            await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0), new Message<Null, string> { Value = new string('x', 500) }, Ct);
        }
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
        {
            BootstrapServers = Cluster.BootstrapServers,
            RequestTimeout = TimeSpan.FromSeconds(15),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        }, Ct);

        foreach (var broker in Cluster.Brokers)
        {
            var response = await client.SendAsync(new DescribeLogDirsRequest { Topics = null }, broker.NodeId, ConnectionPurpose.General, Ct);
            var dir = response.Results.Should().ContainSingle().Subject;
            dir.ErrorCode.Should().Be(0);
            dir.LogDir.Should().Contain(broker.NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var hosted = dir.Topics.Where(t => t.Name == topic).SelectMany(t => t.Partitions).ToDictionary(p => p.PartitionIndex, p => p.PartitionSize);
            for (int p = 0; p < 2; p++)
            {
                bool replica = Cluster.DescribePartition(topic, p)!.Value.Replicas.Contains(broker.NodeId);
                hosted.ContainsKey(p).Should().Be(replica);
            }
            if (hosted.TryGetValue(0, out long size))
            {
                size.Should().BeGreaterThan(500);
            }
            if (hosted.TryGetValue(1, out long empty))
            {
                empty.Should().Be(0);
            }
        }

        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;
        var filtered = await client.SendAsync(new DescribeLogDirsRequest
        {
            Topics = [new DescribeLogDirsRequest.DescribableLogDirTopic { Topic = topic, Partitions = [0] }],
        }, leader, ConnectionPurpose.General, Ct);
        filtered.Results.Single().Topics.Should().ContainSingle().Which.Partitions.Should().ContainSingle().Which.PartitionIndex.Should().Be(0);
    }
}
