using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// CommitStrategy and AutoCommitInterval, in a group. Where a test shows that something is NOT committed, it lets the
/// auto-commit timer fire several times first; the witness is the member's heartbeats (sent every 100 ms, seen by a spy
/// on the coordinator), not a sleep.
/// </summary>
public sealed class ConsumerCommitStrategyTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(CommitStrategy strategy, string group, string clientId) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        ClientId = clientId,
        GroupId = group,
        CommitStrategy = strategy,
        AutoCommitInterval = TimeSpan.FromMilliseconds(100),
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        AutoOffsetReset = AutoOffsetReset.Earliest,
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
    };

    private async Task<(string Topic, TopicPartition Partition)> TopicAsync(int records)
    {
        string topic = NewTopic(Cluster, "commits");
        await ProduceAsync(Cluster, topic, 0, records);
        return (topic, new TopicPartition(topic, 0));
    }

    private static string NewId(string prefix) => EmbeddedClusterFixture.UniqueName(prefix);

    private async Task<long> CommittedAsync(string group, TopicPartition tp)
    {
        await using var reader = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, GroupId = group });
        return (await reader.CommittedAsync([tp], Ct)).Single().Offset;
    }

    private static async Task<long> Committed(IConsumer<string, string> consumer, TopicPartition tp) =>
        (await consumer.CommittedAsync([tp], Ct)).Single().Offset;

    private static IEnumerable<long> CommitsFrom(ApiSpy spy, string clientId) =>
        spy.From(clientId).Select(s => (OffsetCommitRequest)s.Request).SelectMany(r => r.Topics).SelectMany(t => t.Partitions).Select(p => p.CommittedOffset);

    /// <summary>Waits until <paramref name="count"/> more heartbeats of <paramref name="clientId"/> were answered: at 100 ms each, several auto-commit intervals.</summary>
    private static async Task HeartbeatsAsync(ApiSpy heartbeats, string clientId, int count = 6)
    {
        int start = heartbeats.From(clientId).Count();
        await WaitUntilAsync(() => heartbeats.From(clientId).Count() >= start + count, Deadline, $"{count} more heartbeats");
    }

    /// <summary>AutoCommitDelivered with a 100 ms interval: each step's position is committed long before the 5 s default interval would.</summary>
    [Fact]
    public async Task AutoCommitDelivered_commits_the_delivered_position_every_interval()
    {
        var (topic, tp) = await TopicAsync(30);
        string group = NewId("delivered");
        await using var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.AutoCommitDelivered, group, NewId("c")));
        consumer.Subscribe([topic]);

        for (int step = 1; step <= 3; step++)
        {
            for (int i = 0; i < 10; i++)
            {
                await consumer.ConsumeAsync(Ct);
            }
            long expected = step * 10;
            consumer.Position(tp).Should().Be(expected);
            await WaitUntilAsync(async () => await Committed(consumer, tp) == expected, TimeSpan.FromSeconds(4), $"position {expected} is auto-committed (well within the 5 s default interval)");
        }
    }

    [Fact]
    public async Task AfterProcessing_commits_only_records_whose_handler_finished()
    {
        var (topic, tp) = await TopicAsync(20);
        string group = NewId("processed");
        string client = NewId("c");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        var commits = Cluster.Spy(ApiKey.OffsetCommit);
        await using var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.AfterProcessing, group, client));
        consumer.Subscribe([topic]);
        var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int processed = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var run = consumer.RunAsync(async (record, ct) =>
        {
            if (record.Offset == 5)
            {
                blocked.TrySetResult();
                await release.Task.WaitAsync(ct);
            }
            Interlocked.Increment(ref processed);
        }, cancellationToken: stop.Token);

        await blocked.Task.WaitAsync(Deadline, Ct);
        await WaitUntilAsync(async () => await Committed(consumer, tp) == 5, Deadline, "records 0-4 (finished) are committed");
        consumer.Position(tp).Should().Be(6, "record 5 was handed to the handler");
        await HeartbeatsAsync(heartbeats, client);
        (await Committed(consumer, tp)).Should().Be(5, "record 5's handler has not returned");
        CommitsFrom(commits, client).Should().OnlyContain(o => o <= 5);

        release.SetResult();
        await WaitUntilAsync(() => Volatile.Read(ref processed) == 20, Deadline, "every record is processed");
        await WaitUntilAsync(async () => await Committed(consumer, tp) == 20, Deadline, "the rest is committed");
        await stop.CancelAsync();
        await run;
    }

    /// <summary>
    /// A pause (as a KIP-320 position validation after a leader change) drops the chunk a handler is working on: the record
    /// in the handler still counts as processed once the handler returns, or the next owner would process it again.
    /// </summary>
    [Fact]
    public async Task AfterProcessing_counts_a_record_whose_handler_finished_after_its_chunk_was_dropped()
    {
        var (topic, tp) = await TopicAsync(20);
        string group = NewId("processed-dropped");
        await using var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.AfterProcessing, group, NewId("c")));
        consumer.Subscribe([topic]);
        var blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var run = consumer.RunAsync(async (record, ct) =>
        {
            if (record.Offset == 5)
            {
                blocked.TrySetResult();
                await release.Task.WaitAsync(ct);
            }
        }, cancellationToken: stop.Token);

        await blocked.Task.WaitAsync(Deadline, Ct);
        await WaitUntilAsync(async () => await Committed(consumer, tp) == 5, Deadline, "records 0-4 are committed");
        consumer.Pause([tp]);
        release.SetResult();
        await WaitUntilAsync(async () => await Committed(consumer, tp) == 6, Deadline, "record 5, finished after the pause, is committed");
        consumer.Position(tp).Should().Be(6, "nothing after record 5 was handed out");
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task AfterProcessing_with_ConsumeAsync_commits_what_StoreOffset_marked()
    {
        var (topic, tp) = await TopicAsync(10);
        string group = NewId("stored");
        string client = NewId("c");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        await using var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.AfterProcessing, group, client));
        consumer.Subscribe([topic]);

        var records = await ConsumeAsync(consumer, 10);
        await HeartbeatsAsync(heartbeats, client);
        (await Committed(consumer, tp)).Should().Be(-1, "nothing was marked processed");

        consumer.StoreOffset(records[3]);
        await WaitUntilAsync(async () => await Committed(consumer, tp) == 4, Deadline, "the stored offset is auto-committed");
        await HeartbeatsAsync(heartbeats, client);
        (await Committed(consumer, tp)).Should().Be(4);
    }

    [Fact]
    public async Task Manual_commits_nothing_on_its_own_but_stored_offsets_on_close()
    {
        var (topic, tp) = await TopicAsync(20);
        string group = NewId("manual");
        string client = NewId("c");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        var commits = Cluster.Spy(ApiKey.OffsetCommit);
        var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.Manual, group, client));
        consumer.Subscribe([topic]);

        var records = await ConsumeAsync(consumer, 20);
        await HeartbeatsAsync(heartbeats, client);
        commits.From(client).Should().BeEmpty("Manual never commits on a timer");
        (await Committed(consumer, tp)).Should().Be(-1);

        consumer.StoreOffset(records[7]);
        await consumer.CloseAsync(Ct);

        (await CommittedAsync(group, tp)).Should().Be(8, "close commits the stored offset, not the position (20)");
    }

    [Fact]
    public async Task Manual_CommitAsync_commits_the_positions_and_returns_them()
    {
        var (topic, tp) = await TopicAsync(20);
        string group = NewId("manual-explicit");
        await using var consumer = new KafkaConsumer<string, string>(Options(CommitStrategy.Manual, group, NewId("c")));
        consumer.Subscribe([topic]);

        await ConsumeAsync(consumer, 12);
        var committed = await consumer.CommitAsync(Ct);

        committed.Should().Equal(new TopicPartitionOffset(tp, 12, committed.Single().LeaderEpoch));
        (await Committed(consumer, tp)).Should().Be(12);
        (await consumer.CommitAsync(Ct)).Should().BeEmpty("only offsets that moved are sent");
    }
}
