using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>OnRebalance: the events of joining, of being fenced (partitions lost) and of closing (partitions revoked).</summary>
public sealed class ConsumerRebalanceEventTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string group, RebalanceLog log) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = group,
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        AutoOffsetReset = AutoOffsetReset.Earliest,
        OnRebalance = log.Handler,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
    };

    [Fact]
    public async Task Joining_emits_Rebalancing_GroupJoined_and_PartitionsAssigned_and_closing_emits_PartitionsRevoked()
    {
        string topic = NewTopic(Cluster, "events", partitions: 2);
        TopicPartition[] all = [new(topic, 0), new(topic, 1)];
        var log = new RebalanceLog();
        var consumer = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("events"), log));
        consumer.Subscribe([topic]);
        await WaitForStableGroupAsync(2, (consumer, log));
        await WaitUntilAsync(() => log.Kinds.Contains(RebalanceEventKind.PartitionsAssigned), Deadline, "the partitions are assigned");

        var events = log.Events;
        events.Select(e => e.Kind).Should().Equal(RebalanceEventKind.Rebalancing, RebalanceEventKind.GroupJoined, RebalanceEventKind.PartitionsAssigned);
        events[0].Partitions.Should().BeEmpty();
        events[1].Partitions.Should().BeEquivalentTo(all);
        events[1].IsLeader.Should().BeTrue("the only member computes the assignment");
        events[1].GenerationId.Should().BeGreaterThan(0);
        events[1].MemberId.Should().Be(consumer.MemberId).And.NotBeEmpty();
        events[2].Partitions.Should().BeEquivalentTo(all);

        await consumer.CloseAsync(Ct);

        log.Events.Skip(3).Should().ContainSingle().Which.Should().Match<RebalanceEvent>(e => e.Kind == RebalanceEventKind.PartitionsRevoked && e.Partitions.Count == 2);
    }

    /// <summary>The coordinator answers a heartbeat ILLEGAL_GENERATION: the member lost its partitions (no commit), rejoins, and gets them back.</summary>
    [Fact]
    public async Task A_fenced_member_loses_its_partitions_then_rejoins_and_reads_on()
    {
        string topic = NewTopic(Cluster, "lost", partitions: 2);
        string group = EmbeddedClusterFixture.UniqueName("lost");
        var log = new RebalanceLog();
        var commits = Cluster.Spy(ApiKey.OffsetCommit);
        await using var consumer = new KafkaConsumer<string, string>(Options(group, log) with { CommitStrategy = CommitStrategy.Manual });
        consumer.Subscribe([topic]);
        await WaitForStableGroupAsync(2, (consumer, log));
        await ProduceAsync(Cluster, topic, 0, 10);
        var read = await ConsumeAsync(consumer, 10);
        consumer.StoreOffset(read[4]);
        int before = log.Count;
        int generation = log.LastJoined!.GenerationId;

        Cluster.InjectErrors(ApiKey.Heartbeat, ErrorCode.IllegalGeneration);
        await WaitUntilAsync(() => log.Events.Skip(before).Any(e => e.Kind == RebalanceEventKind.PartitionsAssigned), Deadline, "the member rejoined");

        var after = log.Events.Skip(before).ToList();
        after.Select(e => e.Kind).Should().StartWith([RebalanceEventKind.PartitionsLost, RebalanceEventKind.Rebalancing, RebalanceEventKind.GroupJoined]);
        after[0].Partitions.Should().HaveCount(2);
        after.Should().NotContain(e => e.Kind == RebalanceEventKind.PartitionsRevoked, "lost partitions are not revoked (and not committed)");
        log.LastJoined!.GenerationId.Should().BeGreaterThan(generation);
        commits.Seen.Should().BeEmpty("a lost partition's stored offset is not committed (an orderly revocation would have)");

        await ProduceAsync(Cluster, topic, 1, 5);
        var more = await ConsumeAsync(consumer, 15);
        more.Count(r => r.Partition == 1).Should().Be(5);
    }

    [Fact]
    public async Task An_exception_in_the_handler_does_not_stop_the_consumer()
    {
        string topic = NewTopic(Cluster, "throwing", partitions: 1);
        var log = new RebalanceLog { OnEvent = (_, _) => throw new InvalidOperationException("handler bug") };
        await using var consumer = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("throwing"), log));
        consumer.Subscribe([topic]);
        await WaitForStableGroupAsync(1, (consumer, log));
        await ProduceAsync(Cluster, topic, 0, 3);

        (await ConsumeAsync(consumer, 3)).Should().HaveCount(3);
    }
}
