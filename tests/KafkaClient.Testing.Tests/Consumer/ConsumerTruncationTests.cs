using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// KIP-320: the consumer validates its position with OffsetForLeaderEpoch after a leader change and detects a log
/// truncated below it (unclean leader election, simulated by <see cref="EmbeddedKafkaCluster.TruncatePartition"/>).
/// Each scenario writes offsets 0-19 in two batches (so offset 10 is a batch boundary) under the first leader epoch,
/// lets the consumer read all twenty, cuts the log at 10 under a new leader, and writes twenty new records (v100-v119,
/// offsets 10-29) under the new epoch. A consumer that did not validate would go on at offset 20 and miss v100-v109.
/// </summary>
public sealed class ConsumerTruncationTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<(string Topic, TopicPartition Partition, int Epoch)> TopicWithTwentyRecordsAsync(string prefix)
    {
        string topic = NewTopic(Cluster, prefix, partitions: 1, replicationFactor: 3);
        await ProduceAsync(Cluster, topic, 0, 10);
        await ProduceAsync(Cluster, topic, 0, 10, first: 10);
        return (topic, new TopicPartition(topic, 0), Cluster.Partition(topic, 0).LeaderEpoch);
    }

    private KafkaConsumer<string, string> NewConsumer(AutoOffsetReset policy, string clientId, string? groupId = null) =>
        new(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            ClientId = clientId,
            GroupId = groupId,
            AutoOffsetReset = policy,
            CommitStrategy = CommitStrategy.Manual,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
        });

    /// <summary>Unclean election onto another replica, the log cut at 10; then v100-v119 at offsets 10-29.</summary>
    private async Task TruncateAtTenAndWriteNewRecordsAsync(string topic, int? leader = null)
    {
        var info = Cluster.Partition(topic, 0);
        Cluster.TruncatePartition(topic, 0, 10, leader ?? info.Replicas.First(r => r != info.LeaderId)).Should().Be(10);
        await ProduceAsync(Cluster, topic, 0, 20, first: 100);
    }

    private static void ShouldBeTheNewRecords(IReadOnlyList<ConsumeResult<string, string>> records, int newEpoch)
    {
        records.Select(r => r.Offset).Should().Equal(Enumerable.Range(10, 20).Select(i => (long)i), "consumption resumes at the first diverging offset");
        records.Select(r => r.Value).Should().Equal(Enumerable.Range(100, 20).Select(i => "v" + i));
        records.Should().OnlyContain(r => r.LeaderEpoch == newEpoch);
    }

    [Theory]
    [InlineData(AutoOffsetReset.Earliest, ErrorCode.None)]
    [InlineData(AutoOffsetReset.Latest, ErrorCode.None)]
    [InlineData(AutoOffsetReset.Earliest, ErrorCode.UnknownLeaderEpoch)]
    [InlineData(AutoOffsetReset.Latest, ErrorCode.FencedLeaderEpoch)]
    public async Task A_position_past_a_truncation_moves_to_the_first_diverging_offset_with_a_reset_policy(AutoOffsetReset policy, ErrorCode validationError)
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("truncated");
        string clientId = EmbeddedClusterFixture.UniqueName("truncation");
        var validations = Cluster.Spy(ApiKey.OffsetForLeaderEpoch);
        await using var consumer = NewConsumer(policy, clientId);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        (await ConsumeAsync(consumer, 20)).Should().OnlyContain(r => r.LeaderEpoch == epoch);

        // Paused, so the consumer sees the leader change only once the new records are there.
        consumer.Pause([tp]);
        await TruncateAtTenAndWriteNewRecordsAsync(topic);
        if (validationError != ErrorCode.None)
        {
            // The first answers say the consumer's metadata is behind or ahead: it asks again after a refresh.
            Cluster.InjectErrors(ApiKey.OffsetForLeaderEpoch, validationError, count: 2);
        }
        consumer.Resume([tp]);

        ShouldBeTheNewRecords(await ConsumeAsync(consumer, 20), epoch + 1);
        consumer.Position(tp).Should().Be(30);
        (await DrainAsync(consumer)).Should().BeEmpty("nothing is repeated");
        var asked = validations.From(clientId).Select(s => (OffsetForLeaderEpochRequest)s.Request)
            .SelectMany(r => r.Topics).SelectMany(t => t.Partitions).ToList();
        asked.Should().Contain(p => p.LeaderEpoch == epoch && p.CurrentLeaderEpoch == epoch + 1, "the position's epoch is checked with the new leader's epoch for fencing");
    }

    [Fact]
    public async Task A_position_past_a_truncation_raises_LogTruncationException_under_the_Error_policy_until_sought()
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("truncated-error");
        await using var consumer = NewConsumer(AutoOffsetReset.Error, EmbeddedClusterFixture.UniqueName("truncation"));
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        await ConsumeAsync(consumer, 20);
        consumer.Pause([tp]);
        await TruncateAtTenAndWriteNewRecordsAsync(topic);
        consumer.Resume([tp]);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Deadline);
        var error = (await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(timeout.Token)).Should().ThrowAsync<LogTruncationException>()).Which;
        error.ErrorCode.Should().Be(ErrorCode.OffsetOutOfRange);
        error.Position.Should().Be(new TopicPartitionOffset(tp, 20, epoch));
        error.DivergentOffset.Should().Be(new TopicPartitionOffset(tp, 10, epoch));
        consumer.Position(tp).Should().Be(20, "the position stays until the application seeks");
        (await DrainAsync(consumer)).Should().BeEmpty("the partition is not fetched until it is sought");

        consumer.Seek(error.DivergentOffset!.Value);
        ShouldBeTheNewRecords(await ConsumeAsync(consumer, 20), epoch + 1);
    }

    [Fact]
    public async Task A_fenced_fetch_after_the_leader_epoch_moved_on_leads_to_validation_and_the_reset()
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("truncated-fenced");
        string clientId = EmbeddedClusterFixture.UniqueName("truncation");
        var fetches = Cluster.Spy(ApiKey.Fetch);
        await using var consumer = NewConsumer(AutoOffsetReset.Earliest, clientId);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        await ConsumeAsync(consumer, 20);

        // Same leader, new epoch: the consumer keeps fetching with the epoch it knows and is fenced.
        await TruncateAtTenAndWriteNewRecordsAsync(topic, leader: Cluster.Partition(topic, 0).LeaderId);

        ShouldBeTheNewRecords(await ConsumeAsync(consumer, 20), epoch + 1);
        fetches.From(clientId).Select(s => (FetchResponse)s.Response!).SelectMany(r => r.Responses).SelectMany(t => t.Partitions)
            .Should().Contain(p => p.ErrorCode == (short)ErrorCode.FencedLeaderEpoch);
    }

    [Fact]
    public async Task A_leader_change_without_truncation_is_validated_and_consumption_goes_on_without_gaps_or_duplicates()
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("moved");
        string clientId = EmbeddedClusterFixture.UniqueName("truncation");
        var fetches = Cluster.Spy(ApiKey.Fetch);
        var validations = Cluster.Spy(ApiKey.OffsetForLeaderEpoch);
        await using var consumer = NewConsumer(AutoOffsetReset.Earliest, clientId);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        var records = await ConsumeAsync(consumer, 10);

        var before = Cluster.Partition(topic, 0);
        int next = before.Replicas.First(r => r != before.LeaderId);
        Cluster.MovePartitionLeader(topic, 0, next);
        await ProduceAsync(Cluster, topic, 0, 10, first: 20);
        records.AddRange(await ConsumeAsync(consumer, 20));

        records.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 30).Select(i => (long)i));
        records.Select(r => r.Value).Should().Equal(Enumerable.Range(0, 30).Select(i => "v" + i));
        (await DrainAsync(consumer)).Should().BeEmpty();
        // One validation at the new leader (and one at the start: a position found by ListOffsets carries an epoch too, as in Java).
        validations.From(clientId)
            .Where(s => ((OffsetForLeaderEpochRequest)s.Request).Topics.Single().Partitions.Single().CurrentLeaderEpoch == epoch + 1)
            .Select(s => (OffsetForLeaderEpochResponse)s.Response!).SelectMany(r => r.Topics).SelectMany(t => t.Partitions)
            .Should().ContainSingle().Which.Should().Match<OffsetForLeaderEpochResponse.EpochEndOffset>(p => p.ErrorCode == 0 && p.LeaderEpoch == epoch && p.EndOffset == 20);

        // Every fetch names the leader epoch the consumer knows: the old one at the old leader, the new one at the new leader.
        var sent = fetches.From(clientId)
            .SelectMany(s => ((FetchRequest)s.Request).Topics.SelectMany(t => t.Partitions).Select(p => (s.BrokerId, p.CurrentLeaderEpoch)))
            .ToList();
        sent.Should().Contain((before.LeaderId, epoch)).And.Contain((next, epoch + 1));
        sent.Where(f => f.BrokerId == next).Should().OnlyContain(f => f.CurrentLeaderEpoch == epoch + 1);
        sent.Should().OnlyContain(f => f.CurrentLeaderEpoch == epoch || f.CurrentLeaderEpoch == epoch + 1);
    }

    [Fact]
    public async Task The_runner_follows_the_reset_after_a_truncation()
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("truncated-runner");
        await using var consumer = NewConsumer(AutoOffsetReset.Earliest, EmbeddedClusterFixture.UniqueName("truncation"));
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        var handled = new System.Collections.Concurrent.ConcurrentQueue<ConsumeResult<string, string>>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = consumer.RunAsync((record, _) =>
        {
            handled.Enqueue(record);
            return ValueTask.CompletedTask;
        }, cancellationToken: stop.Token);
        try
        {
            await WaitUntilAsync(() => handled.Count >= 20 || running.IsCompleted, Deadline, "the first twenty records are handled");
            consumer.Pause([tp]);
            await TruncateAtTenAndWriteNewRecordsAsync(topic);
            consumer.Resume([tp]);
            await WaitUntilAsync(() => handled.Count >= 40 || running.IsCompleted, Deadline, "the twenty new records are handled");
        }
        finally
        {
            await stop.CancelAsync();
            await running.WaitAsync(Deadline, Ct);
        }
        handled.Take(20).Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 20).Select(i => (long)i));
        ShouldBeTheNewRecords([.. handled.Skip(20)], epoch + 1);
    }

    [Fact]
    public async Task A_position_past_a_control_batch_takes_its_epoch_so_the_next_leader_change_finds_no_truncation()
    {
        string topic = NewTopic(Cluster, "truncation-marker", partitions: 1, replicationFactor: 3);
        var tp = new TopicPartition(topic, 0);
        var first = Cluster.Partition(topic, 0);
        await using var consumer = NewConsumer(AutoOffsetReset.Error, EmbeddedClusterFixture.UniqueName("truncation"));
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        await using var producer = new KafkaClient.Producer.KafkaProducer<string, string>(new KafkaClient.Producer.ProducerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            TransactionalId = EmbeddedClusterFixture.UniqueName("truncation-tx"),
        });
        await producer.InitTransactionsAsync(Ct);
        producer.BeginTransaction();
        await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            producer.ProduceAsync(tp, new KafkaClient.Producer.Message<string, string> { Value = "t" + i }, Ct).AsTask()));
        (await ConsumeAsync(consumer, 5)).Should().OnlyContain(r => r.LeaderEpoch == first.LeaderEpoch);

        // The commit marker (offset 5) is written in the next epoch; the consumer passes it without handing anything out.
        Cluster.MovePartitionLeader(topic, 0, first.Replicas.First(r => r != first.LeaderId));
        await producer.CommitTransactionAsync(Ct);
        var unexpected = new List<ConsumeResult<string, string>>();
        await WaitUntilAsync(async () =>
        {
            unexpected.AddRange(await consumer.ConsumeBatchAsync(10, TimeSpan.FromMilliseconds(50), Ct));
            return consumer.Position(tp) == 6;
        }, Deadline, "the consumer is past the commit marker");
        unexpected.Should().BeEmpty();

        // Validated after the next leader change with the marker's epoch, not the last record's (which ended at 5 < 6).
        Cluster.MovePartitionLeader(topic, 0, first.LeaderId);
        await ProduceAsync(Cluster, topic, 0, 5, first: 6);
        (await ConsumeAsync(consumer, 5)).Select(r => r.Offset).Should().Equal(6, 7, 8, 9, 10);
    }

    [Fact]
    public async Task A_committed_offset_resumes_with_its_leader_epoch_and_is_validated()
    {
        var (topic, tp, epoch) = await TopicWithTwentyRecordsAsync("truncated-committed");
        string group = EmbeddedClusterFixture.UniqueName("truncation-group");
        await using (var first = NewConsumer(AutoOffsetReset.Earliest, EmbeddedClusterFixture.UniqueName("truncation"), group))
        {
            first.Assign([tp]);
            await ConsumeAsync(first, 20);
            (await first.CommitAsync(Ct)).Should().ContainSingle().Which.Should().Be(new TopicPartitionOffset(tp, 20, epoch));
        }
        await TruncateAtTenAndWriteNewRecordsAsync(topic);

        await using var second = NewConsumer(AutoOffsetReset.Earliest, EmbeddedClusterFixture.UniqueName("truncation"), group);
        second.Assign([tp]);
        ShouldBeTheNewRecords(await ConsumeAsync(second, 20), epoch + 1);
    }

    [Fact]
    public async Task A_broker_without_OffsetForLeaderEpoch_v3_is_not_asked_and_the_position_is_kept()
    {
        var (topic, tp, _) = await TopicWithTwentyRecordsAsync("truncated-old-broker");
        string clientId = EmbeddedClusterFixture.UniqueName("truncation");
        var validations = Cluster.Spy(ApiKey.OffsetForLeaderEpoch);
        validations.AdvertisedMaxVersion = 2;
        try
        {
            await using var consumer = NewConsumer(AutoOffsetReset.Earliest, clientId);
            consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
            await ConsumeAsync(consumer, 20);
            consumer.Pause([tp]);
            await TruncateAtTenAndWriteNewRecordsAsync(topic);
            consumer.Resume([tp]);

            // Without validation the consumer cannot see the truncation (as Java against such a broker).
            var records = await ConsumeAsync(consumer, 10);
            records.Select(r => r.Offset).Should().Equal(Enumerable.Range(20, 10).Select(i => (long)i));
            records.Select(r => r.Value).Should().Equal(Enumerable.Range(110, 10).Select(i => "v" + i));
            validations.From(clientId).Should().BeEmpty();
        }
        finally
        {
            validations.AdvertisedMaxVersion = null;
        }
    }
}
