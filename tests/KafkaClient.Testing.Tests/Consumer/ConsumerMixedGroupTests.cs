using System.Collections.Concurrent;
using Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;
using ConfluentConsumer = Confluent.Kafka.IConsumer<int, byte[]>;
using TopicPartition = KafkaClient.TopicPartition;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Our consumers and Confluent.Kafka (librdkafka) consumers in one group, with the same assignment strategy.</summary>
public sealed class ConsumerMixedGroupTests : IClassFixture<ConsumerGroupFixture>
{
    private const int Partitions = 8;
    private const int PerPartition = 500;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);
    private readonly ConsumerGroupFixture _fixture;

    public ConsumerMixedGroupTests(ConsumerGroupFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private interface IMember : IAsyncDisposable
    {
        string Name { get; }

        IReadOnlyList<int> Assignment { get; }

        /// <summary>Whether the member led its last generation (computed the assignment); null when it does not tell.</summary>
        bool? Leads { get; }
    }

    /// <summary>A librdkafka member consuming on its own thread; it commits what it consumed whenever partitions are revoked.</summary>
    private sealed class ConfluentMember : IMember
    {
        private readonly ConfluentConsumer _consumer;
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private volatile int[] _assignment = [];
        private Exception? _failure;

        public ConfluentMember(string name, string bootstrap, string group, string topic, string strategy, ConcurrentQueue<(string Member, int Partition, long Offset)> sink, Pulse progress, CapturedLog log)
        {
            Name = name;
            _consumer = new ConsumerBuilder<int, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                ClientId = name,
                AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Earliest,
                EnableAutoCommit = false,
                SessionTimeoutMs = 6000,
                HeartbeatIntervalMs = 300,
                Debug = Environment.GetEnvironmentVariable("MIXED_DEBUG"),
                PartitionAssignmentStrategy = strategy switch
                {
                    CooperativeStickyAssignor.AssignorName => PartitionAssignmentStrategy.CooperativeSticky,
                    RoundRobinAssignor.AssignorName => PartitionAssignmentStrategy.RoundRobin,
                    _ => PartitionAssignmentStrategy.Range,
                },
            })
                .SetKeyDeserializer(Deserializers.Int32)
                .SetLogHandler((_, m) => log.Note(name, $"{m.Level} {m.Facility} {m.Message}"))
                .SetPartitionsAssignedHandler((c, added) =>
                {
                    log.Note(name, "assigned " + string.Join(",", added.Select(p => p.Partition.Value)));
                    _assignment = [.. _assignment.Union(added.Select(p => p.Partition.Value)).Order()];
                    progress.Fire();
                })
                .SetPartitionsRevokedHandler((c, revoked) =>
                {
                    log.Note(name, "revoked " + string.Join(",", revoked.Select(p => p.Partition.Value)));
                    if (!_stop.IsCancellationRequested)
                    {
                        // Not while closing: the loop committed before Close, and a commit from the revocation Close
                        // serves after the group sub-system has terminated never completes.
                        CommitQuietly(c);
                    }
                    _assignment = [.. _assignment.Except(revoked.Select(p => p.Partition.Value))];
                    progress.Fire();
                })
                .SetPartitionsLostHandler((c, lost) =>
                {
                    log.Note(name, "lost " + string.Join(",", lost.Select(p => p.Partition.Value)));
                    _assignment = [.. _assignment.Except(lost.Select(p => p.Partition.Value))];
                    progress.Fire();
                })
                .Build();
            _consumer.Subscribe(topic);
            _thread = new Thread(() =>
            {
                try
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        var result = _consumer.Consume(TimeSpan.FromMilliseconds(50));
                        if (result is { IsPartitionEOF: false, Message: not null })
                        {
                            sink.Enqueue((Name, result.Partition.Value, result.Offset.Value));
                            progress.Fire();
                        }
                    }
                    log.Note(name, "stopping: commit");
                    CommitQuietly(_consumer);
                    log.Note(name, "stopping: close");
                    _consumer.Close();
                    log.Note(name, "closed");
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            })
            { IsBackground = true, Name = name };
            _thread.Start();
        }

        public string Name { get; }

        public IReadOnlyList<int> Assignment => _assignment;

        public bool? Leads => null;

        public ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _thread.Join(Timeout).Should().BeTrue($"{Name}'s consume loop stops");
            _consumer.Dispose();
            _stop.Dispose();
            _failure.Should().BeNull();
            return ValueTask.CompletedTask;
        }

        private static void CommitQuietly(ConfluentConsumer consumer)
        {
            try
            {
                consumer.Commit();
            }
            catch (Confluent.Kafka.KafkaException)
            {
                // Nothing consumed since the last commit (_NO_OFFSET); the exactly-once check would show anything else.
            }
        }
    }

    /// <summary>One of our consumers, consuming on its own task (commits what it delivered on revocation and close).</summary>
    private sealed class OurMember : IMember
    {
        private readonly KafkaConsumer<int, ReadOnlyMemory<byte>> _consumer;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private volatile bool _leads;

        public OurMember(string name, string bootstrap, string group, string topic, IPartitionAssignor assignor, ConcurrentQueue<(string Member, int Partition, long Offset)> sink, Pulse progress, CapturedLog log)
        {
            Name = name;
            _consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                ClientId = name,
                AutoOffsetReset = KafkaClient.Consumer.AutoOffsetReset.Earliest,
                PartitionAssignors = [assignor],
                SessionTimeout = TimeSpan.FromSeconds(6),
                HeartbeatInterval = TimeSpan.FromMilliseconds(300),
                RebalanceTimeout = TimeSpan.FromSeconds(20),
                LoggerFactory = log.For(name),
                OnRebalance = (e, _) =>
                {
                    log.Note(name, e.ToString());
                    if (e.Kind == RebalanceEventKind.GroupJoined)
                    {
                        _leads = e.IsLeader;
                    }
                    progress.Fire();
                    return ValueTask.CompletedTask;
                },
            });
            _consumer.Subscribe([topic]);
            _loop = Task.Run(async () =>
            {
                try
                {
                    await foreach (var record in _consumer.ConsumeAllAsync(_stop.Token))
                    {
                        sink.Enqueue((Name, record.Partition, record.Offset));
                        progress.Fire();
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            });
        }

        public string Name { get; }

        public IReadOnlyList<int> Assignment => [.. _consumer.Assignment.Select(p => p.Partition).Order()];

        public bool? Leads => _leads;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await _consumer.DisposeAsync();
            _stop.Dispose();
        }
    }

    [Theory]
    [InlineData(RangeAssignor.AssignorName, true)]
    [InlineData(RangeAssignor.AssignorName, false)]
    [InlineData(RoundRobinAssignor.AssignorName, true)]
    [InlineData(RoundRobinAssignor.AssignorName, false)]
    [InlineData(CooperativeStickyAssignor.AssignorName, true)]
    [InlineData(CooperativeStickyAssignor.AssignorName, false)]
    public async Task Our_consumers_and_librdkafka_consumers_share_a_topic_without_overlap_or_gaps(string strategy, bool oursLeads)
    {
        string topic = EmbeddedClusterFixture.UniqueName("mixed");
        string group = EmbeddedClusterFixture.UniqueName("mixed-" + strategy);
        Cluster.CreateTopic(topic, Partitions, replicationFactor: 1);
        var consumed = new ConcurrentQueue<(string Member, int Partition, long Offset)>();
        var progress = new Pulse();
        IPartitionAssignor Assignor() => strategy switch
        {
            RangeAssignor.AssignorName => new RangeAssignor(),
            RoundRobinAssignor.AssignorName => new RoundRobinAssignor(),
            _ => new CooperativeStickyAssignor(),
        };
        var log = new CapturedLog();
        IMember Ours(string name) => new OurMember(name, Cluster.BootstrapServers, group, topic, Assignor(), consumed, progress, log);
        IMember Theirs(string name) => new ConfluentMember(name, Cluster.BootstrapServers, group, topic, strategy, consumed, progress, log);

        var members = new List<IMember>();
        string Describe() => log.Dump(150) + Environment.NewLine + string.Join("; ", members.Select(m => $"{m.Name}: [{string.Join(",", m.Assignment)}]"));
        try
        {
            // The first member alone is the leader (it computes every later assignment while it stays).
            members.Add(oursLeads ? Ours("ours-1") : Theirs("rdkafka-1"));
            await WaitUntilAsync(() => members[0].Assignment.Count == Partitions, Timeout, "the first member owns every partition", progress, Describe);
            members.Add(oursLeads ? Theirs("rdkafka-1") : Ours("ours-1"));
            members.Add(Ours("ours-2"));
            members.Add(Theirs("rdkafka-2"));
            await WaitUntilAsync(() => members.All(m => m.Assignment.Count == Partitions / members.Count)
                    && members.SelectMany(m => m.Assignment).Distinct().Count() == Partitions,
                Timeout, "the four members hold two partitions each, together all of them", progress, Describe);

            await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, Partitions * PerPartition);
            await WaitUntilAsync(() => consumed.Select(c => (c.Partition, c.Offset)).Distinct().Count() == Partitions * PerPartition, Timeout,
                "every record is consumed", progress, Describe);

            members.Count(m => m.Leads == true).Should().Be(oursLeads ? 1 : 0, $"the first member ({members[0].Name}) leads the group ({Describe()})");
            var owners = members.SelectMany(m => m.Assignment.Select(p => (p, m.Name))).ToDictionary(x => x.p, x => x.Name);
            owners.Keys.Should().BeEquivalentTo(Enumerable.Range(0, Partitions), "together the members own every partition, each exactly once");
            var records = consumed.ToList();
            records.Select(c => (c.Partition, c.Offset)).Order().Should().Equal(
                Enumerable.Range(0, Partitions).SelectMany(p => Enumerable.Range(0, PerPartition).Select(o => (p, (long)o))),
                "every record is consumed exactly once across the group");
            records.Should().OnlyContain(c => owners[c.Partition] == c.Member, $"each partition is read by its owner only ({Describe()})");
            members.Should().AllSatisfy(m => records.Count(c => c.Member == m.Name).Should().Be(2 * PerPartition, $"{m.Name} reads its two partitions"));
        }
        finally
        {
            try
            {
                foreach (var member in members)
                {
                    log.Note(member.Name, "disposing");
                    await member.DisposeAsync();
                }
            }
            catch (Exception ex)
            {
                if (Environment.GetEnvironmentVariable("MIXED_DEBUG_FILE") is { } file)
                {
                    await File.WriteAllTextAsync(file, log.Dump(int.MaxValue), Ct);
                }
                throw new InvalidOperationException(ex.Message + Environment.NewLine + log.Dump(400), ex);
            }
        }
    }
}
