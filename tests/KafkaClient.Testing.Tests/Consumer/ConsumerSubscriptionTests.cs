using System.Text.RegularExpressions;
using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>What a consumer reads: pattern subscriptions, Unsubscribe, and the manual assignment calls.</summary>
public sealed class ConsumerSubscriptionTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string? group = null, RebalanceLog? log = null) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        MetadataMaxAge = TimeSpan.FromMilliseconds(300),
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
        OnRebalance = log?.Handler,
    };

    [Fact]
    public async Task A_pattern_subscription_picks_up_a_topic_created_later_and_matches_whole_names_only()
    {
        string prefix = EmbeddedClusterFixture.UniqueName("pattern");
        string first = prefix + "-t1", later = prefix + "-t2", longer = prefix + "-t3-not";
        Cluster.CreateTopic(first, 1, 1);
        Cluster.CreateTopic(longer, 1, 1);
        await ProduceAsync(Cluster, first, 0, 3);
        await ProduceAsync(Cluster, longer, 0, 3);
        await using var consumer = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("pattern")));
        consumer.Subscribe(new Regex(Regex.Escape(prefix) + @"-t\d"));

        var records = await ConsumeAsync(consumer, 3);
        records.Should().OnlyContain(r => r.Topic == first);
        consumer.Subscription.Should().Equal(first);

        Cluster.CreateTopic(later, 2, 1);
        await ProduceAsync(Cluster, later, 1, 4);
        var fromLater = await ConsumeAsync(consumer, 4);

        fromLater.Should().OnlyContain(r => r.Topic == later && r.Partition == 1);
        consumer.Subscription.Should().Equal(first, later);
        consumer.Assignment.Should().BeEquivalentTo([new TopicPartition(first, 0), new TopicPartition(later, 0), new TopicPartition(later, 1)]);
        (await DrainAsync(consumer)).Should().BeEmpty($"'{longer}' only contains a match; the pattern must match the whole name");
    }

    [Fact]
    public async Task Unsubscribe_revokes_and_leaves_so_the_other_member_takes_over_at_once()
    {
        string topic = NewTopic(Cluster, "unsubscribe", partitions: 2);
        string group = EmbeddedClusterFixture.UniqueName("unsubscribe");
        RebalanceLog aLog = new(), bLog = new();
        await using var a = new KafkaConsumer<string, string>(Options(group, aLog));
        await using var b = new KafkaConsumer<string, string>(Options(group, bLog));
        a.Subscribe([topic]);
        b.Subscribe([topic]);
        await WaitForStableGroupAsync(2, (a, aLog), (b, bLog));
        var aHeld = a.Assignment;

        a.Unsubscribe();

        await WaitUntilAsync(() => b.Assignment.Count == 2, Deadline, "the remaining member gets every partition (without waiting for a 45 s session timeout)");
        a.Assignment.Should().BeEmpty();
        a.Subscription.Should().BeEmpty();
        a.MemberId.Should().BeEmpty("the member left the group");
        aLog.Events.Last(e => e.Kind == RebalanceEventKind.PartitionsRevoked).Partitions.Should().BeEquivalentTo(aHeld);
        await ProduceAsync(Cluster, topic, 0, 3);
        (await ConsumeAsync(b, 3)).Should().HaveCount(3);
        (await DrainAsync(a)).Should().BeEmpty();
    }

    [Fact]
    public async Task Assign_IncrementalAssign_IncrementalUnassign_and_Unassign_change_what_is_read()
    {
        string topic = NewTopic(Cluster, "assign", partitions: 3);
        TopicPartition p0 = new(topic, 0), p1 = new(topic, 1), p2 = new(topic, 2);
        for (int p = 0; p < 3; p++)
        {
            await ProduceAsync(Cluster, topic, p, 10);
        }
        await using var consumer = new KafkaConsumer<string, string>(Options());

        consumer.Assign([new TopicPartitionOffset(p0, Offset.Beginning)]);
        (await ConsumeAsync(consumer, 10)).Should().OnlyContain(r => r.Partition == 0);
        consumer.Assignment.Should().Equal(p0);

        consumer.IncrementalAssign([new TopicPartitionOffset(p1, 5)]);
        (await ConsumeAsync(consumer, 5)).Select(r => (r.Partition, r.Offset)).Should().Equal((1, 5L), (1, 6L), (1, 7L), (1, 8L), (1, 9L));
        consumer.Assignment.Should().BeEquivalentTo([p0, p1]);

        consumer.IncrementalUnassign([p0]);
        await ProduceAsync(Cluster, topic, 0, 5, first: 10);
        await ProduceAsync(Cluster, topic, 1, 5, first: 10);
        (await ConsumeAsync(consumer, 5)).Should().OnlyContain(r => r.Partition == 1);
        (await DrainAsync(consumer)).Should().BeEmpty("partition 0 is no longer assigned");
        consumer.Assignment.Should().Equal(p1);

        consumer.Assign([new TopicPartitionOffset(p2, Offset.Beginning)]);
        consumer.Assignment.Should().Equal(p2);
        await ProduceAsync(Cluster, topic, 1, 5, first: 15);
        (await ConsumeAsync(consumer, 10)).Should().OnlyContain(r => r.Partition == 2);
        (await DrainAsync(consumer)).Should().BeEmpty("Assign replaced the assignment");

        consumer.Unassign();
        consumer.Assignment.Should().BeEmpty();
        await ProduceAsync(Cluster, topic, 2, 5, first: 10);
        (await DrainAsync(consumer)).Should().BeEmpty();
    }

    [Fact]
    public async Task Subscribe_and_Assign_exclude_each_other()
    {
        string topic = NewTopic(Cluster, "modes");
        await using var assigned = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("modes")));
        assigned.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        FluentActions.Invoking(() => assigned.Subscribe([topic])).Should().Throw<InvalidOperationException>();
        assigned.Unassign();
        assigned.Subscribe([topic]);
        FluentActions.Invoking(() => assigned.Assign([new TopicPartitionOffset(topic, 0, 0)])).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(assigned.Unassign).Should().Throw<InvalidOperationException>();

        await using var groupless = new KafkaConsumer<string, string>(Options());
        FluentActions.Invoking(() => groupless.Subscribe([topic])).Should().Throw<InvalidOperationException>("subscribing needs a group");
    }
}
