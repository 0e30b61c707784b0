using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// PartitionAssignors: two members subscribed to two three-partition topics get the documented distributions. The members
/// are static ("m1", "m2") so that their order in the assignment is known (static members sort by instance id).
/// </summary>
public sealed class ConsumerAssignorTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<(IReadOnlySet<TopicPartition> M1, IReadOnlySet<TopicPartition> M2, string A, string B)> AssignAsync(IReadOnlyList<IPartitionAssignor>? assignors)
    {
        string prefix = EmbeddedClusterFixture.UniqueName("assign");
        string a = prefix + "-a", b = prefix + "-b";
        Cluster.CreateTopic(a, 3, 1);
        Cluster.CreateTopic(b, 3, 1);
        string group = EmbeddedClusterFixture.UniqueName("assignors");
        RebalanceLog log1 = new(), log2 = new();
        ConsumerOptions Options(string instance, RebalanceLog log)
        {
            var options = new ConsumerOptions
            {
                BootstrapServers = Cluster.BootstrapServers,
                GroupId = group,
                GroupInstanceId = instance,
                HeartbeatInterval = TimeSpan.FromMilliseconds(200),
                OnRebalance = log.Handler,
            };
            return assignors is null ? options : options with { PartitionAssignors = assignors };
        }
        await using var m1 = new KafkaConsumer<string, string>(Options("m1", log1));
        await using var m2 = new KafkaConsumer<string, string>(Options("m2", log2));
        m1.Subscribe([a, b]);
        m2.Subscribe([a, b]);
        await WaitForStableGroupAsync(6, (m1, log1), (m2, log2));
        return (m1.Assignment.ToHashSet(), m2.Assignment.ToHashSet(), a, b);
    }

    [Fact]
    public async Task Range_gives_each_member_a_contiguous_range_of_every_topic()
    {
        var (m1, m2, a, b) = await AssignAsync([new RangeAssignor()]);

        m1.Should().BeEquivalentTo([new TopicPartition(a, 0), new TopicPartition(a, 1), new TopicPartition(b, 0), new TopicPartition(b, 1)]);
        m2.Should().BeEquivalentTo([new TopicPartition(a, 2), new TopicPartition(b, 2)]);
    }

    [Fact]
    public async Task RoundRobin_deals_all_partitions_out_in_turn()
    {
        var (m1, m2, a, b) = await AssignAsync([new RoundRobinAssignor()]);

        m1.Should().BeEquivalentTo([new TopicPartition(a, 0), new TopicPartition(a, 2), new TopicPartition(b, 1)]);
        m2.Should().BeEquivalentTo([new TopicPartition(a, 1), new TopicPartition(b, 0), new TopicPartition(b, 2)]);
    }

    [Fact]
    public async Task The_default_assignors_use_range()
    {
        var (m1, m2, _, _) = await AssignAsync(null);

        m1.Should().HaveCount(4);
        m2.Should().HaveCount(2);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Cooperative_sticky_revokes_only_the_partitions_that_move_and_eager_revokes_all(bool cooperative)
    {
        string topic = NewTopic(Cluster, "cooperative", partitions: 4);
        string group = EmbeddedClusterFixture.UniqueName("cooperative");
        IReadOnlyList<IPartitionAssignor> assignors = cooperative ? [new CooperativeStickyAssignor()] : [new RangeAssignor()];
        RebalanceLog log1 = new(), log2 = new();
        ConsumerOptions Options(RebalanceLog log) => new()
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = group,
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            PartitionAssignors = assignors,
            OnRebalance = log.Handler,
        };
        await using var first = new KafkaConsumer<string, string>(Options(log1));
        first.Subscribe([topic]);
        await WaitForStableGroupAsync(4, (first, log1));
        int before = log1.Count;

        await using var second = new KafkaConsumer<string, string>(Options(log2));
        second.Subscribe([topic]);
        await WaitForStableGroupAsync(4, (first, log1), (second, log2));

        var revoked = log1.Events.Skip(before).Where(e => e.Kind == RebalanceEventKind.PartitionsRevoked).SelectMany(e => e.Partitions).ToList();
        if (cooperative)
        {
            revoked.Should().HaveCount(2, "only the partitions handed to the new member are revoked").And.BeEquivalentTo(second.Assignment);
            log1.Events.Skip(before).Where(e => e.Kind == RebalanceEventKind.PartitionsAssigned).Should().BeEmpty("the partitions kept were never given up");
        }
        else
        {
            revoked.Should().HaveCount(4, "the eager protocol revokes everything before rejoining");
        }
    }
}
