using System.Collections.Concurrent;
using Confluent.Kafka;
using FluentAssertions;

namespace KafkaClient.Testing.Tests;

using KafkaException = Confluent.Kafka.KafkaException;
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>A cluster whose group coordinator accepts the short session timeouts the group tests use.</summary>
public sealed class GroupClusterFixture : EmbeddedClusterFixture
{
    protected override EmbeddedKafkaClusterOptions Options =>
        EmbeddedKafkaClusterOptions.Default with { GroupMinSessionTimeout = TimeSpan.FromSeconds(1) };
}

/// <summary>Confluent.Kafka consumer groups (classic protocol) against the embedded cluster's group coordinator.</summary>
public sealed class ConfluentGroupTests : IClassFixture<GroupClusterFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly GroupClusterFixture _fixture;

    public ConfluentGroupTests(GroupClusterFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private ConsumerConfig ConsumerConfig(string groupId, PartitionAssignmentStrategy strategy = PartitionAssignmentStrategy.Range) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = strategy,
        TopicMetadataRefreshIntervalMs = 1000,
    };

    private void Produce(string topic, int partitions, int perPartition, int start)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = Cluster.BootstrapServers, LingerMs = 5 }).Build();
        for (int p = 0; p < partitions; p++)
        {
            for (int i = 0; i < perPartition; i++)
            {
                producer.Produce(new TopicPartition(topic, p), new Message<Null, string> { Value = $"p{p}-{start + i}" });
            }
        }
        producer.Flush(Timeout).Should().Be(0);
    }

    private static void WaitUntil(Func<bool> condition, string because)
    {
        var deadline = DateTime.UtcNow + Timeout;
        using var tick = new ManualResetEventSlim();
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, because);
            tick.Wait(TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken);
        }
    }

    /// <summary>One group member consuming on its own thread; commits what it consumed on every revocation and before closing.</summary>
    private sealed class Member : IDisposable
    {
        private readonly IConsumer<Null, string> _consumer;
        private readonly ConcurrentBag<(int Partition, long Offset)> _sink;
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private volatile TopicPartition[] _assignment = [];
        private Exception? _failure;
        private int _consumed;

        public Member(ConsumerConfig config, string topic, ConcurrentBag<(int Partition, long Offset)> sink)
        {
            _sink = sink;
            _consumer = new ConsumerBuilder<Null, string>(config)
                .SetPartitionsAssignedHandler((c, added) => { _assignment = [.. c.Assignment.Union(added)]; })
                .SetPartitionsRevokedHandler((c, revoked) =>
                {
                    CommitQuietly(c);
                    _assignment = [.. c.Assignment.Except(revoked.Select(r => r.TopicPartition))];
                })
                .Build();
            _consumer.Subscribe(topic);
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        public IReadOnlyList<TopicPartition> Assignment => _assignment;

        public int Consumed => Volatile.Read(ref _consumed);

        /// <summary>Stops consuming, commits, and leaves the group (Close sends LeaveGroup).</summary>
        public void Close()
        {
            _stop.Cancel();
            _thread.Join(Timeout).Should().BeTrue("the consumer loop stops");
            _failure.Should().BeNull();
        }

        public void Dispose()
        {
            if (!_stop.IsCancellationRequested)
            {
                Close();
            }
            _consumer.Dispose();
            _stop.Dispose();
        }

        private void Run()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var result = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                    if (result is { IsPartitionEOF: false, Message: not null })
                    {
                        _sink.Add((result.Partition.Value, result.Offset.Value));
                        Interlocked.Increment(ref _consumed);
                    }
                }
                CommitQuietly(_consumer);
                _consumer.Close();
            }
            catch (Exception ex)
            {
                _failure = ex;
            }
        }

        private static void CommitQuietly(IConsumer<Null, string> consumer)
        {
            try
            {
                consumer.Commit();
            }
            catch (KafkaException)
            {
                // Nothing new to commit (_NO_OFFSET), or the partitions were lost: the test's
                // exactly-once check would show any record read twice.
            }
        }
    }

    [Theory]
    [InlineData(PartitionAssignmentStrategy.Range)]
    [InlineData(PartitionAssignmentStrategy.RoundRobin)]
    [InlineData(PartitionAssignmentStrategy.CooperativeSticky)]
    public void Three_members_share_six_partitions_and_a_leaving_member_hands_over_without_loss_or_duplicates(PartitionAssignmentStrategy strategy)
    {
        const int Partitions = 6;
        const int PerPartition = 50;
        string topic = EmbeddedClusterFixture.UniqueName("group");
        string groupId = EmbeddedClusterFixture.UniqueName("g-" + strategy);
        Cluster.CreateTopic(topic, partitions: Partitions);
        Produce(topic, Partitions, PerPartition, start: 0);

        var consumed = new ConcurrentBag<(int Partition, long Offset)>();
        var members = Enumerable.Range(0, 3).Select(_ => new Member(ConsumerConfig(groupId, strategy), topic, consumed)).ToList();
        try
        {
            WaitUntil(() => members.All(m => m.Assignment.Count > 0) && members.Sum(m => m.Assignment.Count) == Partitions,
                "every member gets partitions and together they hold all six");
            WaitUntil(() => consumed.Select(c => c).Distinct().Count() == Partitions * PerPartition, "the first batch is consumed");
            members.SelectMany(m => m.Assignment).Distinct().Should().HaveCount(Partitions);

            // One member leaves mid-stream: its partitions move to the other two.
            var leaving = members[2];
            leaving.Close();
            WaitUntil(() => members.Take(2).Sum(m => m.Assignment.Count) == Partitions, "the two remaining members take over all partitions");
            members.Take(2).Should().AllSatisfy(m => m.Assignment.Should().NotBeEmpty());
            Produce(topic, Partitions, PerPartition, start: PerPartition);

            WaitUntil(() => consumed.Select(c => c).Distinct().Count() == 2 * Partitions * PerPartition, "the second batch is consumed");
            var all = consumed.ToList();
            all.Should().OnlyHaveUniqueItems("every record is consumed exactly once across the members");
            all.Should().BeEquivalentTo(Enumerable.Range(0, Partitions).SelectMany(p => Enumerable.Range(0, 2 * PerPartition).Select(o => (p, (long)o))));
            members.Take(2).Should().AllSatisfy(m => m.Consumed.Should().BePositive());
        }
        finally
        {
            foreach (var member in members)
            {
                member.Dispose();
            }
        }
    }

    [Fact]
    public async Task Committed_offsets_are_listed_by_the_admin_client_and_a_new_member_resumes_from_them_and_groups_are_listed_described_and_deleted()
    {
        string topic = EmbeddedClusterFixture.UniqueName("commits");
        string groupId = EmbeddedClusterFixture.UniqueName("g-commits");
        Cluster.CreateTopic(topic, partitions: 3);
        Produce(topic, 3, 10, start: 0);
        var committed = new[] { 4L, 5L, 6L };
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();

        using (var first = new ConsumerBuilder<Null, string>(ConsumerConfig(groupId)).Build())
        {
            first.Subscribe(topic);
            WaitUntil(() => { first.Consume(TimeSpan.FromMilliseconds(100)); return first.Assignment.Count == 3; }, "the single member gets every partition");
            first.Commit([.. committed.Select((o, p) => new TopicPartitionOffset(topic, p, o))]);

            var listed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(groupId, null)]);
            listed.Single().Partitions.Select(p => (p.Partition.Value, p.Offset.Value)).Should()
                .BeEquivalentTo(committed.Select((o, p) => (p, o)));

            var groups = admin.ListGroups(Timeout);
            groups.Should().ContainSingle(g => g.Group == groupId).Which.ProtocolType.Should().Be("consumer");
            var modern = await admin.ListConsumerGroupsAsync();
            modern.Valid.Should().Contain(g => g.GroupId == groupId);

            var described = (await admin.DescribeConsumerGroupsAsync([groupId])).ConsumerGroupDescriptions.Single();
            described.State.Should().Be(ConsumerGroupState.Stable);
            described.PartitionAssignor.Should().Be("range");
            described.Members.Should().ContainSingle().Which.Assignment.TopicPartitions.Should().HaveCount(3);

            first.Close();
        }

        var resumed = new List<(int Partition, long Offset)>();
        using (var second = new ConsumerBuilder<Null, string>(ConsumerConfig(groupId)).Build())
        {
            second.Subscribe(topic);
            WaitUntil(() =>
            {
                if (second.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r)
                {
                    resumed.Add((r.Partition.Value, r.Offset.Value));
                }
                return resumed.Count >= 15;
            }, "the new member reads what was not committed");
            second.Close();
        }
        resumed.Should().BeEquivalentTo(Enumerable.Range(0, 3).SelectMany(p => Enumerable.Range((int)committed[p], 10 - (int)committed[p]).Select(o => (p, (long)o))));

        await admin.DeleteGroupsAsync([groupId]);
        admin.ListGroups(Timeout).Should().NotContain(g => g.Group == groupId);
    }
    [Fact]
    public async Task When_the_coordinator_broker_stops_the_member_finds_the_new_coordinator_and_keeps_consuming_and_committing()
    {
        string topic = EmbeddedClusterFixture.UniqueName("failover");
        string groupId = EmbeddedClusterFixture.UniqueName("g-failover");
        Cluster.CreateTopic(topic, partitions: 3, replicationFactor: 3);
        Produce(topic, 3, 10, start: 0);
        int coordinator = Cluster.State.CoordinatorFor(groupId);
        var consumed = new ConcurrentBag<(int Partition, long Offset)>();
        var member = new Member(ConsumerConfig(groupId), topic, consumed);
        try
        {
            WaitUntil(() => consumed.Count == 30, "the first batch is consumed");
            await Cluster.StopBrokerAsync(coordinator, TestContext.Current.CancellationToken);
            Cluster.State.CoordinatorFor(groupId).Should().NotBe(coordinator).And.BePositive("FindCoordinator points to a running broker");

            Produce(topic, 3, 10, start: 10);
            WaitUntil(() => consumed.Count >= 60, "the second batch is consumed after the coordinator moved");
            member.Close();
            consumed.Should().OnlyHaveUniqueItems();

            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();
            var listed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(groupId, null)]);
            listed.Single().Partitions.Select(p => (p.Partition.Value, p.Offset.Value)).Should().BeEquivalentTo(new[] { (0, 20L), (1, 20L), (2, 20L) });
        }
        finally
        {
            member.Dispose();
            if (!Cluster.Broker(coordinator).IsRunning)
            {
                await Cluster.StartBrokerAsync(coordinator, TestContext.Current.CancellationToken);
            }
        }
    }
}
