using Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Producer;
using ProducerFencedException = KafkaClient.Errors.ProducerFencedException;
using KafkaException = Confluent.Kafka.KafkaException;
using ConfluentProducer = Confluent.Kafka.IProducer<Confluent.Kafka.Null, string>;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using KafkaClient.Testing.Transactions;

namespace KafkaClient.Testing.Tests;

/// <summary>The embedded transaction coordinator, driven by Confluent.Kafka and by our own producer.</summary>
public sealed class TransactionTests : IClassFixture<EmbeddedClusterFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly EmbeddedClusterFixture _fixture;

    public TransactionTests(EmbeddedClusterFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ConfluentProducer NewConfluentProducer(string transactionalId, int transactionTimeoutMs = 60_000) =>
        new Confluent.Kafka.ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            TransactionalId = transactionalId,
            TransactionTimeoutMs = transactionTimeoutMs,
            LingerMs = 1,
        }).Build();

    private KafkaProducer<string, string> NewProducer(string transactionalId) =>
        new(new ProducerOptions { BootstrapServers = Cluster.BootstrapServers, TransactionalId = transactionalId });

    /// <summary>Reads partition 0 of <paramref name="topic"/> from the start until <paramref name="last"/> is read.</summary>
    private List<string> ReadUntil(string topic, IsolationLevel isolation, string last)
    {
        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = "unused-" + Guid.NewGuid().ToString("N"),
            IsolationLevel = isolation,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result?.Message is null)
            {
                continue;
            }
            values.Add(result.Message.Value);
            if (result.Message.Value == last)
            {
                return values;
            }
        }
        throw new TimeoutException($"'{last}' not read from {topic} ({isolation}); read: {string.Join(',', values)}");
    }

    private string NewTopic(string prefix)
    {
        string topic = EmbeddedClusterFixture.UniqueName(prefix);
        Cluster.CreateTopic(topic, partitions: 1);
        return topic;
    }

    private Task<TransactionOutcome> NextOutcome(string transactionalId, string reason)
    {
        var outcome = new TaskCompletionSource<TransactionOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Transactions.Completed += o =>
        {
            if (o.TransactionalId == transactionalId && o.Reason == reason)
            {
                outcome.TrySetResult(o);
            }
        };
        return outcome.Task;
    }

    [Fact]
    public async Task Confluent_commit_across_two_topics_is_read_by_a_read_committed_consumer()
    {
        string a = NewTopic("txn-a");
        string b = NewTopic("txn-b");
        string id = EmbeddedClusterFixture.UniqueName("tx");
        using var producer = NewConfluentProducer(id);
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        for (int i = 0; i < 10; i++)
        {
            producer.Produce(a, new Confluent.Kafka.Message<Null, string> { Value = $"a{i}" });
            producer.Produce(b, new Confluent.Kafka.Message<Null, string> { Value = $"b{i}" });
        }
        producer.CommitTransaction(Timeout);

        ReadUntil(a, IsolationLevel.ReadCommitted, "a9").Should().Equal(Enumerable.Range(0, 10).Select(i => $"a{i}"));
        ReadUntil(b, IsolationLevel.ReadCommitted, "b9").Should().Equal(Enumerable.Range(0, 10).Select(i => $"b{i}"));
        Cluster.DescribePartition(a, 0)!.Value.LastStableOffset.Should().Be(11, "ten records and the commit marker");
        var described = Cluster.Transactions.Describe(id)!;
        described.Status.Should().Be(TransactionStatus.CompleteCommit);
        described.Epoch.Should().Be(0);
    }

    [Fact]
    public async Task Confluent_aborted_records_are_hidden_from_read_committed_but_not_read_uncommitted()
    {
        string topic = NewTopic("txn-abort");
        using var producer = NewConfluentProducer(EmbeddedClusterFixture.UniqueName("tx"));
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "aborted-1" }, Ct);
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "aborted-2" }, Ct);
        Cluster.DescribePartition(topic, 0)!.Value.LastStableOffset.Should().Be(0, "the transaction is open");
        producer.AbortTransaction(Timeout);

        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "committed" }, Ct);
        producer.CommitTransaction(Timeout);

        ReadUntil(topic, IsolationLevel.ReadCommitted, "committed").Should().Equal("committed");
        ReadUntil(topic, IsolationLevel.ReadUncommitted, "committed").Should().Equal("aborted-1", "aborted-2", "committed");
    }

    [Fact]
    public async Task Confluent_second_producer_with_the_same_id_fences_the_first_and_aborts_its_transaction()
    {
        string topic = NewTopic("txn-fence");
        string id = EmbeddedClusterFixture.UniqueName("tx");
        using var first = NewConfluentProducer(id);
        first.InitTransactions(Timeout);
        first.BeginTransaction();
        await first.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "zombie" }, Ct);

        var aborted = NextOutcome(id, "InitProducerId");
        using var second = NewConfluentProducer(id);
        second.InitTransactions(Timeout);
        (await aborted.WaitAsync(Timeout, Ct)).Committed.Should().BeFalse();
        Cluster.Transactions.Describe(id)!.Epoch.Should().Be(1);

        var commit = () => first.CommitTransaction(Timeout);
        var error = commit.Should().Throw<KafkaException>().Which.Error;
        (error.Code is Confluent.Kafka.ErrorCode.ProducerFenced or Confluent.Kafka.ErrorCode.InvalidProducerEpoch || error.IsFatal)
            .Should().BeTrue($"the first producer is fenced, got {error}");

        second.BeginTransaction();
        await second.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "winner" }, Ct);
        second.CommitTransaction(Timeout);
        ReadUntil(topic, IsolationLevel.ReadCommitted, "winner").Should().Equal("winner");
    }

    [Fact]
    public async Task Confluent_transaction_past_its_timeout_is_aborted_by_the_coordinator()
    {
        string topic = NewTopic("txn-timeout");
        string id = EmbeddedClusterFixture.UniqueName("tx");
        using var producer = NewConfluentProducer(id, transactionTimeoutMs: 1000);
        producer.InitTransactions(Timeout);
        var timedOut = NextOutcome(id, "Timeout");
        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<Null, string> { Value = "late" }, Ct);

        var outcome = await timedOut.WaitAsync(Timeout, Ct);
        outcome.Committed.Should().BeFalse();
        Cluster.Transactions.Describe(id)!.Status.Should().Be(TransactionStatus.CompleteAbort);
        Cluster.DescribePartition(topic, 0)!.Value.LastStableOffset.Should().Be(2, "the record and the abort marker");

        var commit = () => producer.CommitTransaction(Timeout);
        commit.Should().Throw<KafkaException>();
        ReadUntil(topic, IsolationLevel.ReadUncommitted, "late").Should().Equal("late");
    }

    [Fact]
    public async Task Our_producer_commits_for_a_confluent_read_committed_consumer()
    {
        string topic = NewTopic("ours-txn");
        string id = EmbeddedClusterFixture.UniqueName("tx");
        await using var producer = NewProducer(id);
        await producer.InitTransactionsAsync(Ct);

        producer.BeginTransaction();
        for (int i = 0; i < 5; i++)
        {
            producer.Produce(topic, new Producer.Message<string, string> { Value = $"c{i}" });
        }
        await producer.CommitTransactionAsync(Ct);

        ReadUntil(topic, IsolationLevel.ReadCommitted, "c4").Should().Equal(Enumerable.Range(0, 5).Select(i => $"c{i}"));
        Cluster.Transactions.Describe(id)!.Status.Should().Be(TransactionStatus.CompleteCommit);
    }

    [Fact]
    public async Task Our_producer_aborted_records_are_hidden_from_a_confluent_read_committed_consumer()
    {
        string topic = NewTopic("ours-abort");
        await using var producer = NewProducer(EmbeddedClusterFixture.UniqueName("tx"));
        await producer.InitTransactionsAsync(Ct);

        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Producer.Message<string, string> { Value = "aborted" }, Ct);
        Cluster.DescribePartition(topic, 0)!.Value.LastStableOffset.Should().Be(0, "the transaction is open");
        await producer.AbortTransactionAsync(Ct);

        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Producer.Message<string, string> { Value = "committed" }, Ct);
        await producer.CommitTransactionAsync(Ct);

        ReadUntil(topic, IsolationLevel.ReadCommitted, "committed").Should().Equal("committed");
        ReadUntil(topic, IsolationLevel.ReadUncommitted, "committed").Should().Equal("aborted", "committed");
    }

    [Fact]
    public async Task Our_producer_is_fenced_by_a_second_instance_with_the_same_id()
    {
        string topic = NewTopic("ours-fence");
        string id = EmbeddedClusterFixture.UniqueName("tx");
        await using var first = NewProducer(id);
        await first.InitTransactionsAsync(Ct);
        first.BeginTransaction();
        await first.ProduceAsync(topic, new Producer.Message<string, string> { Value = "zombie" }, Ct);

        await using var second = NewProducer(id);
        await second.InitTransactionsAsync(Ct);

        var commit = async () => await first.CommitTransactionAsync(Ct);
        await commit.Should().ThrowAsync<ProducerFencedException>();

        second.BeginTransaction();
        await second.ProduceAsync(topic, new Producer.Message<string, string> { Value = "winner" }, Ct);
        await second.CommitTransactionAsync(Ct);
        // Exactly "winner": the zombie's record was aborted when the second instance fenced it.
        ReadUntil(topic, IsolationLevel.ReadCommitted, "winner").Should().Equal("winner");
        Cluster.Transactions.Describe(id)!.Epoch.Should().Be(1);
    }

    [Fact]
    public async Task Our_producer_sends_offsets_that_reach_the_group_only_when_the_transaction_commits()
    {
        string topic = NewTopic("ours-offsets");
        using var groups = new GroupCoordinator();
        Cluster.Transactions.Groups = groups;
        await using var producer = NewProducer(EmbeddedClusterFixture.UniqueName("tx"));
        await producer.InitTransactionsAsync(Ct);
        var group = new KafkaClient.ConsumerGroupMetadata("eos-group-" + Guid.NewGuid().ToString("N"));

        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Producer.Message<string, string> { Value = "x" }, Ct);
        await producer.SendOffsetsToTransactionAsync([new KafkaClient.TopicPartitionOffset("input", 0, 41)], group, Ct);
        await producer.AbortTransactionAsync(Ct);
        (await Committed(groups, group.GroupId)).Should().Be(-1, "aborted offsets are discarded");

        producer.BeginTransaction();
        await producer.ProduceAsync(topic, new Producer.Message<string, string> { Value = "y" }, Ct);
        await producer.SendOffsetsToTransactionAsync([new KafkaClient.TopicPartitionOffset("input", 0, 42)], group, Ct);
        (await Committed(groups, group.GroupId)).Should().Be(-1, "offsets wait for the commit");
        await producer.CommitTransactionAsync(Ct);
        (await Committed(groups, group.GroupId)).Should().Be(42);
    }

    private static async Task<long> Committed(GroupCoordinator groups, string groupId)
    {
        var response = await groups.OffsetFetchAsync(new OffsetFetchRequest
        {
            GroupId = groupId,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = "input", PartitionIndexes = [0] }],
        }, 5, Ct);
        return response.Topics.SelectMany(t => t.Partitions).SingleOrDefault()?.CommittedOffset ?? -1;
    }
}
