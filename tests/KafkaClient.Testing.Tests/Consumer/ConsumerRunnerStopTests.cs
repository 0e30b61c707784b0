using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>The runner (<see cref="KafkaConsumer{TKey, TValue}.RunAsync"/>): how it shares workers and how it stops.</summary>
public sealed class ConsumerRunnerStopTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    [Fact]
    public async Task Partitions_take_turns_when_there_are_more_partitions_than_workers()
    {
        const int partitions = 4;
        const int perPartition = 20_000;
        string topic = EmbeddedClusterFixture.UniqueName("fair");
        fixture.Cluster.CreateTopic(topic, partitions, replicationFactor: 1);
        // 256 KiB batches: a fetch returns less than MaxPartitionFetchBytes, so the fetcher keeps every partition's queue supplied.
        await ProduceIndexedAsync(fixture.Cluster.BootstrapServers, topic, partitions, partitions * perPartition);

        await using var consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions { BootstrapServers = fixture.Cluster.BootstrapServers });
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        // Turns are taken among partitions that have records buffered. The partitions' leaders are on different brokers, so
        // one broker's fetch can lag another's on a loaded machine: start the runner once every partition has had a fetch
        // answered (its high watermark is known), so each has records queued (about 1 MiB) when its first turn comes.
        await WaitUntilAsync(() => Enumerable.Range(0, partitions).All(p => consumer.GetWatermarkOffsets(new TopicPartition(topic, p)).HighWatermark >= 0),
            TimeSpan.FromSeconds(30), "every partition's first fetch was answered");
        var processed = new int[partitions];
        int[]? whenFirstFinished = null;
        int total = 0;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runner = consumer.RunAsync((record, _) =>
        {
            int count = ++processed[record.Partition];
            if (count == perPartition && whenFirstFinished is null)
            {
                whenFirstFinished = [.. processed];
            }
            if (++total == partitions * perPartition)
            {
                done.Cancel();
            }
            return ValueTask.CompletedTask;
        }, new RunnerOptions { MaxConcurrentPartitions = 1 }, done.Token);
        await runner.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        total.Should().Be(partitions * perPartition);
        whenFirstFinished.Should().NotBeNull();
        whenFirstFinished!.Should().OnlyContain(n => n > 0,
            $"every partition is processed before the first one is finished (processed then: {string.Join(", ", whenFirstFinished!)})");
    }

    [Theory]
    [InlineData(CommitStrategy.AutoCommitDelivered, 100)]
    [InlineData(CommitStrategy.AfterProcessing, 99)]
    public async Task Closing_while_a_handler_runs_commits_only_what_was_handed_out_and_the_next_member_resumes_there(CommitStrategy strategy, long resumeAt)
    {
        string topic = EmbeddedClusterFixture.UniqueName("stop");
        string group = EmbeddedClusterFixture.UniqueName("stop-group");
        fixture.Cluster.CreateTopic(topic, 1, replicationFactor: 1);
        await ProduceIndexedAsync(fixture.Cluster.BootstrapServers, topic, 1, 5000);
        var options = new ConsumerOptions
        {
            BootstrapServers = fixture.Cluster.BootstrapServers,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitStrategy = strategy,
        };

        // The first member's handler finishes records 0..98 and is still busy with 99 when the member closes.
        var busy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var first = new KafkaConsumer<int, ReadOnlyMemory<byte>>(options))
        {
            first.Subscribe([topic]);
            var runner = first.RunAsync(async (record, ct) =>
            {
                if (record.Offset == 99)
                {
                    busy.TrySetResult();
                    await Task.Delay(System.Threading.Timeout.Infinite, ct);
                }
            }, cancellationToken: Ct);
            await busy.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await first.CloseAsync(Ct);
            await runner;
        }

        await using var second = new KafkaConsumer<int, ReadOnlyMemory<byte>>(options);
        var committed = await second.CommittedAsync([new TopicPartition(topic, 0)], Ct);
        committed.Single().Offset.Should().Be(resumeAt,
            strategy == CommitStrategy.AutoCommitDelivered ? "the records handed out (0..99) are committed, not the rest of the fetched chunk" : "the records processed (0..98) are committed");
        second.Subscribe([topic]);
        var next = await second.ConsumeAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        next.Offset.Should().Be(resumeAt);
    }

    [Fact]
    public async Task Records_fetched_but_not_processed_when_the_runner_stops_are_consumed_next()
    {
        string topic = EmbeddedClusterFixture.UniqueName("restart");
        fixture.Cluster.CreateTopic(topic, 1, replicationFactor: 1);
        await ProduceIndexedAsync(fixture.Cluster.BootstrapServers, topic, 1, 5000);
        await using var consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions { BootstrapServers = fixture.Cluster.BootstrapServers });
        consumer.Assign([new TopicPartitionOffset(new TopicPartition(topic, 0), Offset.Beginning)]);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        long last = -1;
        await consumer.RunAsync((record, _) =>
        {
            last = record.Offset;
            if (record.Offset == 99)
            {
                stop.Cancel();
            }
            return ValueTask.CompletedTask;
        }, cancellationToken: stop.Token);

        last.Should().Be(99);
        consumer.Position(new TopicPartition(topic, 0)).Should().Be(100, "the runner stopped after handing out record 99");
        var next = await consumer.ConsumeAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        next.Offset.Should().Be(100, "the rest of the chunk the runner did not get to is consumed next");
    }
}
