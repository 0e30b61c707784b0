using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>The runner: RunAsync (per-partition order, concurrency across partitions, failures) and RunBatchesAsync (batch size, resolving, staleness).</summary>
public sealed class ConsumerRunnerTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string? group = null) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = group,
        CommitStrategy = CommitStrategy.AfterProcessing,
        AutoCommitInterval = TimeSpan.FromMinutes(1),
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
    };

    private async Task<(KafkaConsumer<string, string> Consumer, string Topic)> AssignedAsync(int partitions, int perPartition, string? group = null)
    {
        string topic = NewTopic(Cluster, "runner", partitions);
        for (int p = 0; p < partitions; p++)
        {
            await ProduceAsync(Cluster, topic, p, perPartition);
        }
        var consumer = new KafkaConsumer<string, string>(Options(group));
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        return (consumer, topic);
    }

    /// <summary>Runs until <paramref name="done"/> holds, then stops the runner and waits for it to return.</summary>
    private static async Task RunUntilAsync(Func<CancellationToken, Task> run, Func<bool> done, string what)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = run(stop.Token);
        try
        {
            await WaitUntilAsync(() => done() || running.IsCompleted, Deadline, what);
            if (running.IsCompleted)
            {
                await running;
            }
            done().Should().BeTrue(what);
        }
        finally
        {
            await stop.CancelAsync();
            await running.WaitAsync(Deadline, Ct);
        }
    }

    /// <summary>
    /// The first record of each partition waits (up to 10 s) until the other partition's first record is in its handler
    /// too: only possible when two partitions are processed at the same time.
    /// </summary>
    [Fact]
    public async Task MaxConcurrentPartitions_processes_partitions_at_the_same_time_and_each_in_order()
    {
        var (consumer, _) = await AssignedAsync(2, 20);
        await using var _ = consumer;
        var entered = new ConcurrentDictionary<int, bool>();
        var both = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new ConcurrentDictionary<int, ConcurrentQueue<long>>();
        int processed = 0;

        await RunUntilAsync(ct => consumer.RunAsync(async (record, token) =>
        {
            if (entered.TryAdd(record.Partition, true) && entered.Count == 2)
            {
                both.TrySetResult();
            }
            if (record.Offset == 0)
            {
                await both.Task.WaitAsync(TimeSpan.FromSeconds(10), token);
            }
            seen.GetOrAdd(record.Partition, _ => new()).Enqueue(record.Offset);
            Interlocked.Increment(ref processed);
        }, new RunnerOptions { MaxConcurrentPartitions = 2 }, ct), () => Volatile.Read(ref processed) == 40, "all 40 records are processed");

        seen.Keys.Should().BeEquivalentTo([0, 1]);
        seen.Values.Should().OnlyContain(q => q.SequenceEqual(Enumerable.Range(0, 20).Select(i => (long)i)));
    }

    [Fact]
    public async Task With_one_concurrent_partition_handlers_never_overlap()
    {
        var (consumer, _) = await AssignedAsync(3, 10);
        await using var _ = consumer;
        int inFlight = 0, maxInFlight = 0, processed = 0;
        var seen = new ConcurrentDictionary<int, ConcurrentQueue<long>>();

        await RunUntilAsync(ct => consumer.RunAsync(async (record, token) =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            await Task.Yield();
            seen.GetOrAdd(record.Partition, _ => new()).Enqueue(record.Offset);
            Interlocked.Decrement(ref inFlight);
            Interlocked.Increment(ref processed);
        }, new RunnerOptions { MaxConcurrentPartitions = 1 }, ct), () => Volatile.Read(ref processed) == 30, "all 30 records are processed");

        maxInFlight.Should().Be(1);
        seen.Values.Should().HaveCount(3).And.OnlyContain(q => q.SequenceEqual(Enumerable.Range(0, 10).Select(i => (long)i)));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    [Fact]
    public async Task RunBatchesAsync_hands_out_at_most_MaxBatchRecords_in_order()
    {
        var (consumer, _) = await AssignedAsync(1, 50);
        await using var _ = consumer;
        var batches = new ConcurrentQueue<IReadOnlyList<long>>();

        await RunUntilAsync(ct => consumer.RunBatchesAsync((batch, token) =>
        {
            batches.Enqueue([.. batch.Records.Select(r => r.Offset)]);
            batch.HighWatermark.Should().Be(50);
            return ValueTask.CompletedTask;
        }, new RunnerOptions { MaxBatchRecords = 7 }, ct), () => batches.Sum(b => b.Count) == 50, "all 50 records are handed out");

        batches.Should().OnlyContain(b => b.Count >= 1 && b.Count <= 7);
        batches.Count(b => b.Count == 7).Should().BeGreaterThan(1);
        batches.SelectMany(b => b).Should().Equal(Enumerable.Range(0, 50).Select(i => (long)i));
    }

    /// <summary>Under AfterProcessing, CommitAsync commits what was resolved: with AutoResolveBatch off, only what the handler resolved.</summary>
    [Theory]
    [InlineData(false, 5)]
    [InlineData(true, 20)]
    public async Task Only_resolved_offsets_count_as_processed_when_AutoResolveBatch_is_off(bool autoResolve, long expectedCommit)
    {
        var (consumer, topic) = await AssignedAsync(1, 20, EmbeddedClusterFixture.UniqueName("resolve"));
        await using var _ = consumer;
        int handled = 0;

        await RunUntilAsync(ct => consumer.RunBatchesAsync((batch, token) =>
        {
            foreach (var record in batch.Records.Where(r => r.Offset < 5))
            {
                batch.ResolveOffset(record.Offset);
            }
            Interlocked.Add(ref handled, batch.Records.Count);
            return ValueTask.CompletedTask;
        }, new RunnerOptions { AutoResolveBatch = autoResolve, MaxBatchRecords = 3 }, ct), () => Volatile.Read(ref handled) == 20, "all 20 records are handled");

        var committed = await consumer.CommitAsync(Ct);
        committed.Should().ContainSingle().Which.Offset.Should().Be(expectedCommit);
        (await consumer.CommittedAsync([new TopicPartition(topic, 0)], Ct)).Single().Offset.Should().Be(expectedCommit);
    }

    [Fact]
    public async Task A_batch_becomes_stale_when_its_partition_is_sought_and_the_next_batch_starts_at_the_new_position()
    {
        var (consumer, topic) = await AssignedAsync(1, 30);
        await using var _ = consumer;
        var tp = new TopicPartition(topic, 0);
        var firstOffsets = new ConcurrentQueue<long>();
        bool staleBefore = true, staleAfter = false;
        long last = -1;

        await RunUntilAsync(ct => consumer.RunBatchesAsync((batch, token) =>
        {
            if (firstOffsets.IsEmpty)
            {
                staleBefore = batch.IsStale;
                consumer.Seek(new TopicPartitionOffset(tp, 20));
                staleAfter = batch.IsStale;
            }
            firstOffsets.Enqueue(batch.Records[0].Offset);
            Volatile.Write(ref last, batch.Records[^1].Offset);
            return ValueTask.CompletedTask;
        }, new RunnerOptions { MaxBatchRecords = 10 }, ct), () => Volatile.Read(ref last) == 29, "the last record is handed out");

        staleBefore.Should().BeFalse();
        staleAfter.Should().BeTrue("the partition was sought");
        firstOffsets.Should().Equal(0, 20);
    }

    [Fact]
    public async Task A_handler_exception_stops_RunAsync_and_the_next_run_restarts_at_the_failed_record()
    {
        var (consumer, topic) = await AssignedAsync(1, 10);
        await using var _ = consumer;
        var tp = new TopicPartition(topic, 0);
        var failure = new InvalidOperationException("handler failed");
        var firstRun = new List<long>();

        var thrown = await FluentActions.Awaiting(() => consumer.RunAsync((record, token) =>
        {
            firstRun.Add(record.Offset);
            return record.Offset == 5 ? throw failure : ValueTask.CompletedTask;
        }, cancellationToken: Ct).WaitAsync(Deadline, Ct)).Should().ThrowAsync<InvalidOperationException>();

        thrown.Which.Should().BeSameAs(failure);
        firstRun.Should().Equal(0, 1, 2, 3, 4, 5);
        consumer.Position(tp).Should().Be(5);

        var secondRun = new ConcurrentQueue<long>();
        await RunUntilAsync(ct => consumer.RunAsync((record, token) =>
        {
            secondRun.Enqueue(record.Offset);
            return ValueTask.CompletedTask;
        }, cancellationToken: ct), () => secondRun.Count == 5, "the rest is processed");
        secondRun.Should().Equal(5, 6, 7, 8, 9);
    }

    [Fact]
    public async Task A_failed_batch_resumes_after_its_last_resolved_offset()
    {
        var (consumer, _) = await AssignedAsync(1, 10);
        await using var _ = consumer;
        var failure = new InvalidOperationException("batch failed");

        await FluentActions.Awaiting(() => consumer.RunBatchesAsync((batch, token) =>
        {
            batch.ResolveOffset(batch.Records[2].Offset);
            throw failure;
        }, new RunnerOptions { MaxBatchRecords = 10 }, Ct).WaitAsync(Deadline, Ct)).Should().ThrowAsync<InvalidOperationException>();

        var next = new ConcurrentQueue<long>();
        await RunUntilAsync(ct => consumer.RunAsync((record, token) =>
        {
            next.Enqueue(record.Offset);
            return ValueTask.CompletedTask;
        }, cancellationToken: ct), () => next.Count == 7, "the unresolved records are processed");
        next.Should().Equal(3, 4, 5, 6, 7, 8, 9);
    }

    [Fact]
    public async Task Only_one_runner_at_a_time()
    {
        var (consumer, _) = await AssignedAsync(1, 1);
        await using var _ = consumer;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = consumer.RunAsync((r, t) =>
        {
            started.TrySetResult();
            return ValueTask.CompletedTask;
        }, cancellationToken: stop.Token);
        await started.Task.WaitAsync(Deadline, Ct);

        await FluentActions.Awaiting(() => consumer.RunAsync((r, t) => ValueTask.CompletedTask, cancellationToken: Ct)).Should().ThrowAsync<InvalidOperationException>();

        await stop.CancelAsync();
        await first.WaitAsync(Deadline, Ct);
    }
}
