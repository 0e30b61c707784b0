using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// The controls a batch handler of <see cref="KafkaConsumer{TKey, TValue}.RunBatchesAsync"/> gets on its
/// <see cref="ConsumeBatch{TKey, TValue}"/>: <c>HeartbeatAsync</c> (a heartbeat sent now, so a long batch learns of a
/// rebalance without waiting for the next scheduled heartbeat), <c>IsRunning</c>, and <c>IsStale</c> after a pause or a
/// revocation with what then counts as processed; and the <c>kafka.consumer.commit.failures</c> counter. That counter
/// has no tags, and its MeterListener hears every test in the process, so its measurements are attributed to a test by
/// an <see cref="AsyncLocal{T}"/> set before the consumer is created: it flows into the consumer's own tasks and into
/// the commit calls the test makes.
/// </summary>
public sealed class ConsumerBatchControlTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private static readonly AsyncLocal<string?> Scope = new();

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string? group = null, string? clientId = null) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        ClientId = clientId ?? EmbeddedClusterFixture.UniqueName("batch-control"),
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        CommitStrategy = CommitStrategy.AfterProcessing,
        AutoCommitInterval = TimeSpan.FromMinutes(1),
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
        PartitionAssignors = [new RangeAssignor()],
        RebalanceTimeout = TimeSpan.FromMinutes(1),
    };

    private static Task<T> Within<T>(TaskCompletionSource<T> source) => source.Task.WaitAsync(Deadline, Ct);

    private static Task Within(TaskCompletionSource source) => source.Task.WaitAsync(Deadline, Ct);

    /// <summary>
    /// Scheduled heartbeats are two minutes apart here, far beyond the test's deadlines, so only the handler's
    /// <c>HeartbeatAsync</c> reaches the coordinator while the batch runs. Its first call is answered by a heartbeat the
    /// coordinator saw (NONE); once a second member has joined, its second call is answered REBALANCE_IN_PROGRESS, which
    /// starts the eager revocation that the handler then sees as <c>IsStale</c>. A <c>HeartbeatAsync</c> that sent
    /// nothing would fail the first check, and the batch would not go stale before the next scheduled heartbeat. The
    /// member stays in the group: it rejoins under its member id.
    /// </summary>
    [Fact]
    public async Task HeartbeatAsync_reaches_the_coordinator_at_once_so_a_long_batch_learns_of_a_rebalance_before_the_next_scheduled_heartbeat()
    {
        string topic = NewTopic(Cluster, "batch-heartbeat");
        await ProduceAsync(Cluster, topic, 0, 30);
        string group = EmbeddedClusterFixture.UniqueName("batch-heartbeat");
        string aId = EmbeddedClusterFixture.UniqueName("a"), bId = EmbeddedClusterFixture.UniqueName("b");
        var heartbeats = Cluster.Spy(ApiKey.Heartbeat);
        var joins = Cluster.Spy(ApiKey.JoinGroup);
        var bJoined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        joins.Override = async (context, request, inner, token) =>
        {
            // The coordinator adds the member (and starts the rebalance) before the long poll begins.
            var answer = inner.HandleAsync(context, request, token);
            if (context.Header.ClientId == bId && ((JoinGroupRequest)request).MemberId.Length > 0)
            {
                bJoined.TrySetResult();
            }
            return await answer;
        };
        try
        {
            RebalanceLog aLog = new(), bLog = new();
            await using var a = new KafkaConsumer<string, string>(Options(group, aId) with
            {
                OnRebalance = aLog.Handler,
                HeartbeatInterval = TimeSpan.FromMinutes(2),
                SessionTimeout = TimeSpan.FromMinutes(5),
            });
            await using var b = new KafkaConsumer<string, string>(Options(group, bId) with { OnRebalance = bLog.Handler, HeartbeatInterval = TimeSpan.FromMilliseconds(200) });
            a.Subscribe([topic]);
            await WaitForStableGroupAsync(1, (a, aLog));
            string aMember = a.MemberId;

            ErrorCode? LastAnswer() => heartbeats.From(aId).Select(s => (ErrorCode?)(ErrorCode)((HeartbeatResponse)s.Response!).ErrorCode).LastOrDefault();
            var inBatch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var finished = new TaskCompletionSource<(int FirstSent, ErrorCode? FirstAnswer, int SecondSent, ErrorCode? SecondAnswer, bool Stale)>(TaskCreationOptions.RunContinuationsAsynchronously);
            int batches = 0;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var runner = a.RunBatchesAsync(async (batch, token) =>
            {
                if (Interlocked.Increment(ref batches) != 1)
                {
                    return;
                }
                try
                {
                    int before = heartbeats.From(aId).Count();
                    await batch.HeartbeatAsync(token);
                    int firstSent = heartbeats.From(aId).Count() - before;
                    var firstAnswer = LastAnswer();
                    inBatch.TrySetResult();
                    await Within(bJoined);
                    before = heartbeats.From(aId).Count();
                    await batch.HeartbeatAsync(token);
                    int secondSent = heartbeats.From(aId).Count() - before;
                    var secondAnswer = LastAnswer();
                    await WaitUntilAsync(() => batch.IsStale, Deadline, "the batch is stale");
                    finished.TrySetResult((firstSent, firstAnswer, secondSent, secondAnswer, batch.IsStale));
                }
                catch (Exception ex)
                {
                    finished.TrySetException(ex);
                }
            }, new RunnerOptions { MaxBatchRecords = 10 }, stop.Token);

            await Within(inBatch);
            b.Subscribe([topic]);
            var (firstSent, firstAnswer, secondSent, secondAnswer, stale) = await Within(finished);

            firstSent.Should().BeGreaterThanOrEqualTo(1, "HeartbeatAsync sends a heartbeat and waits for its answer (the scheduled one is minutes away)");
            firstAnswer.Should().Be(ErrorCode.None);
            secondSent.Should().BeGreaterThanOrEqualTo(1);
            secondAnswer.Should().Be(ErrorCode.RebalanceInProgress, "the second member's join started a rebalance");
            stale.Should().BeTrue("that answer started the revocation of the batch's partition");
            await WaitForStableGroupAsync(1, (a, aLog), (b, bLog));
            aLog.Kinds.Should().Contain(RebalanceEventKind.PartitionsRevoked);
            aLog.LastJoined!.MemberId.Should().Be(aMember, "the member stayed in the group and rejoined under its member id");

            await stop.CancelAsync();
            await runner.WaitAsync(Deadline, Ct);
        }
        finally
        {
            joins.Override = null;
        }
    }

    /// <summary>
    /// A handler that ignores its token and loops while <c>IsRunning</c>: true while the runner runs, false once it is
    /// stopped (its token cancelled, or the consumer closed). The runner waits for the handler, hands out no further
    /// batch, and returns.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task IsRunning_is_true_while_the_runner_runs_and_false_once_it_is_stopped(bool close)
    {
        string topic = NewTopic(Cluster, "batch-running");
        await ProduceAsync(Cluster, topic, 0, 20);
        var consumer = new KafkaConsumer<string, string>(Options());
        await using var _ = consumer;
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        using var gate = new SemaphoreSlim(0);
        var checks = new ConcurrentQueue<bool>();
        var entered = new TaskCompletionSource<ConsumeBatch<string, string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        int batches = 0;
        bool exited = false;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runner = consumer.RunBatchesAsync(async (batch, token) =>
        {
            Interlocked.Increment(ref batches);
            entered.TrySetResult(batch);
            while (batch.IsRunning)
            {
                checks.Enqueue(true);
                await gate.WaitAsync(Ct);
            }
            Volatile.Write(ref exited, true);
        }, new RunnerOptions { MaxBatchRecords = 5 }, stop.Token);

        var batch = await Within(entered);
        batch.IsRunning.Should().BeTrue();
        gate.Release(2);
        await WaitUntilAsync(() => checks.Count == 3, Deadline, "the handler checked IsRunning three times");

        var stopping = Task.CompletedTask;
        if (close)
        {
            stopping = consumer.CloseAsync(Ct);
        }
        else
        {
            await stop.CancelAsync();
        }
        batch.IsRunning.Should().BeFalse(close ? "the consumer is closing" : "the runner's token was cancelled");
        runner.IsCompleted.Should().BeFalse("the runner waits for the handler it started");
        Volatile.Read(ref exited).Should().BeFalse();
        gate.Release();
        await runner.WaitAsync(Deadline, Ct);
        await stopping.WaitAsync(Deadline, Ct);

        Volatile.Read(ref exited).Should().BeTrue("the handler left its loop when IsRunning turned false");
        checks.Should().HaveCount(3, "IsRunning was false at the first check after the stop");
        batches.Should().Be(1, "no batch is handed out once the runner is stopping");
    }

    /// <summary>
    /// Pausing the batch's partition from its handler makes the batch stale at once. What the handler resolved before
    /// counts; the rest of the stale batch is not resolved automatically, so a commit writes the offset after the last
    /// resolved record and the next member of the group starts there.
    /// </summary>
    [Fact]
    public async Task A_batch_is_stale_once_its_partition_is_paused_and_only_what_was_resolved_is_committed()
    {
        string topic = NewTopic(Cluster, "batch-pause");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 30);
        string group = EmbeddedClusterFixture.UniqueName("batch-pause");
        var handled = new TaskCompletionSource<(bool StaleBefore, bool StaleAfter, long Resolved, long Last)>(TaskCreationOptions.RunContinuationsAsynchronously);

        await using (var first = new KafkaConsumer<string, string>(Options(group)))
        {
            first.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var runner = first.RunBatchesAsync((batch, token) =>
            {
                if (handled.Task.IsCompleted)
                {
                    return ValueTask.CompletedTask;
                }
                bool staleBefore = batch.IsStale;
                long resolved = batch.Records[batch.Records.Count / 2].Offset;
                batch.ResolveOffset(resolved);
                first.Pause([tp]);
                handled.TrySetResult((staleBefore, batch.IsStale, resolved, batch.Records[^1].Offset));
                return ValueTask.CompletedTask;
            }, new RunnerOptions { MaxBatchRecords = 10 }, stop.Token);

            var (staleBefore, staleAfter, resolved, last) = await Within(handled);
            await stop.CancelAsync();
            await runner.WaitAsync(Deadline, Ct);

            staleBefore.Should().BeFalse();
            staleAfter.Should().BeTrue("the batch's partition was paused");
            last.Should().BeGreaterThan(resolved, "part of the batch was left unresolved");
            first.Paused.Should().Equal(tp);
            var committed = await first.CommitAsync(Ct);
            committed.Should().ContainSingle().Which.Offset.Should().Be(resolved + 1, "the unresolved records of the stale batch are not processed");
        }

        long expected = (await handled.Task).Resolved + 1;
        await using var next = new KafkaConsumer<string, string>(Options(group));
        (await next.CommittedAsync([tp], Ct)).Single().Offset.Should().Be(expected);
        next.Assign([tp]);
        (await ConsumeAsync(next, 1)).Single().Offset.Should().Be(expected, "the next member resumes after the last resolved record");
    }

    /// <summary>
    /// A batch handler that resolves half its batch, pauses the partition and returns (as <c>IsStale</c> invites) gets the
    /// unresolved records again after <c>Resume</c>, in order: before, the pause folded the position past the whole batch
    /// and they were never handed out again (at-least-once broken under AfterProcessing).
    /// </summary>
    [Fact]
    public async Task After_a_pause_and_resume_the_unresolved_records_of_the_stale_batch_come_again()
    {
        string topic = NewTopic(Cluster, "batch-pause-resume");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 30);
        await using var consumer = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("batch-pause-resume")));
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        var handedOut = new ConcurrentQueue<long>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int batches = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runner = consumer.RunBatchesAsync((batch, token) =>
        {
            foreach (var record in batch.Records)
            {
                handedOut.Enqueue(record.Offset);
            }
            if (Interlocked.Increment(ref batches) == 1)
            {
                batch.ResolveOffset(batch.Records[4].Offset);
                consumer.Pause([tp]);
                return ValueTask.CompletedTask;
            }
            if (batch.Records[^1].Offset == 29)
            {
                all.TrySetResult();
            }
            return ValueTask.CompletedTask;
        }, new RunnerOptions { MaxBatchRecords = 10 }, stop.Token);

        await GroupTestKit.WaitUntilAsync(() => batches == 1 && consumer.Paused.Count == 1, Deadline, "the first batch paused its partition");
        consumer.Resume([tp]);
        await all.Task.WaitAsync(Deadline, Ct);
        await stop.CancelAsync();
        await runner.WaitAsync(Deadline, Ct);

        handedOut.Should().Equal(Enumerable.Range(0, 10).Concat(Enumerable.Range(5, 25)).Select(o => (long)o),
            "after the resume the runner starts again right after the last resolved record (4) and goes on in order");
    }

    /// <summary>
    /// An eager rebalance: a second member joins (its client id sorts first, so the range assignor gives it the single
    /// partition). The first member's batch handler, holding records 0..9 and having resolved half of them, sees the
    /// batch go stale while the revocation waits for it; the revocation commits only the resolved records, and the new
    /// owner starts right after them.
    /// </summary>
    [Fact]
    public async Task A_batch_is_stale_once_its_partition_is_being_revoked_and_the_new_owner_resumes_after_the_resolved_records()
    {
        string topic = NewTopic(Cluster, "batch-revoke");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 30);
        string group = EmbeddedClusterFixture.UniqueName("batch-revoke");
        RebalanceLog aLog = new(), bLog = new();
        var fast = TimeSpan.FromMilliseconds(100);
        await using var a = new KafkaConsumer<string, string>(Options(group, "z-" + EmbeddedClusterFixture.UniqueName("a")) with { OnRebalance = aLog.Handler, HeartbeatInterval = fast });
        await using var b = new KafkaConsumer<string, string>(Options(group, "a-" + EmbeddedClusterFixture.UniqueName("b")) with { OnRebalance = bLog.Handler, HeartbeatInterval = fast });
        a.Subscribe([topic]);
        await WaitForStableGroupAsync(1, (a, aLog));

        var inBatch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new TaskCompletionSource<(bool StaleBefore, bool StaleAfter, long Resolved, long Last)>(TaskCreationOptions.RunContinuationsAsynchronously);
        int batches = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runner = a.RunBatchesAsync(async (batch, token) =>
        {
            if (Interlocked.Increment(ref batches) != 1)
            {
                return;
            }
            bool staleBefore = batch.IsStale;
            long resolved = batch.Records[batch.Records.Count / 2].Offset;
            batch.ResolveOffset(resolved);
            inBatch.TrySetResult();
            try
            {
                await WaitUntilAsync(() => batch.IsStale, Deadline, "the batch is stale");
            }
            finally
            {
                handled.TrySetResult((staleBefore, batch.IsStale, resolved, batch.Records[^1].Offset));
            }
        }, new RunnerOptions { MaxBatchRecords = 10 }, stop.Token);

        await Within(inBatch);
        b.Subscribe([topic]);
        var (staleBefore, staleAfter, resolved, last) = await Within(handled);
        await WaitForStableGroupAsync(1, (a, aLog), (b, bLog));

        staleBefore.Should().BeFalse();
        staleAfter.Should().BeTrue("the partition is being revoked");
        last.Should().BeGreaterThan(resolved, "part of the batch was left unresolved");
        aLog.Kinds.Should().Contain(RebalanceEventKind.PartitionsRevoked);
        b.Assignment.Should().Equal(tp);
        (await b.CommittedAsync([tp], Ct)).Single().Offset.Should().Be(resolved + 1, "the revocation committed the resolved records, not the stale batch");
        (await ConsumeAsync(b, 1)).Single().Offset.Should().Be(resolved + 1, "the new owner resumes after the last resolved record");
        batches.Should().Be(1, "the first member was handed nothing more of the revoked partition");

        await stop.CancelAsync();
        await runner.WaitAsync(Deadline, Ct);
    }

    /// <summary>Listens to the commit instruments, keeping only measurements made in the flow of <see cref="Scope"/> = <c>scope</c>.</summary>
    private sealed class CommitMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Name, double Value, string? Group)> _all = new();

        public CommitMeasurements(string scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == KafkaDiagnostics.MeterName && instrument.Name.StartsWith("kafka.consumer.commit.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(scope, instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(scope, instrument, value, tags));
            _listener.Start();
        }

        public double Failures => _all.Where(m => m.Name == "kafka.consumer.commit.failures").Sum(m => m.Value);

        public int Successes => _all.Count(m => m.Name == "kafka.consumer.commit.duration");

        /// <summary>The group tag of every measurement.</summary>
        public IEnumerable<string?> Groups => _all.Select(m => m.Group);

        public void Dispose() => _listener.Dispose();

        private void Record(string scope, Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (Scope.Value == scope)
            {
                string? group = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "messaging.consumer.group.name")
                    {
                        group = tag.Value as string;
                    }
                }
                _all.Enqueue((instrument.Name, value, group));
            }
        }
    }

    /// <summary>
    /// A commit the coordinator refuses (OFFSET_METADATA_TOO_LARGE, not retriable) throws and adds one to
    /// <c>kafka.consumer.commit.failures</c>; a commit that meets a retriable error and then succeeds adds nothing and
    /// is timed as a successful commit.
    /// </summary>
    [Fact]
    public async Task A_failed_commit_is_counted_once_and_a_retried_commit_that_succeeds_is_not()
    {
        string scope = Scope.Value = EmbeddedClusterFixture.UniqueName("commit-failures");
        using var metrics = new CommitMeasurements(scope);
        string topic = NewTopic(Cluster, "commit-failures");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 10);
        string group = EmbeddedClusterFixture.UniqueName("commit-failures");
        await using var consumer = new KafkaConsumer<string, string>(Options(group) with { CommitStrategy = CommitStrategy.Manual });
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        await ConsumeAsync(consumer, 5);

        Cluster.InjectErrors(ApiKey.OffsetCommit, ErrorCode.OffsetMetadataTooLarge);
        var failed = await consumer.Invoking(c => c.CommitAsync(Ct)).Should().ThrowAsync<KafkaException>();
        failed.Which.ErrorCode.Should().Be(ErrorCode.OffsetMetadataTooLarge);
        metrics.Failures.Should().Be(1);
        metrics.Successes.Should().Be(0);

        Cluster.InjectErrors(ApiKey.OffsetCommit, ErrorCode.CoordinatorLoadInProgress);
        (await consumer.CommitAsync(Ct)).Should().ContainSingle().Which.Offset.Should().Be(5);
        (await consumer.CommittedAsync([tp], Ct)).Single().Offset.Should().Be(5);
        metrics.Failures.Should().Be(1, "a commit that succeeded after a retry did not fail");
        metrics.Successes.Should().Be(1);
        metrics.Groups.Should().OnlyContain(g => g == group, "commit measurements carry the consumer's group");
    }

    /// <summary>An automatic commit the coordinator refuses is counted too (the consumer's own task carries the scope); the next automatic commit succeeds.</summary>
    [Fact]
    public async Task A_failed_automatic_commit_is_counted()
    {
        string scope = Scope.Value = EmbeddedClusterFixture.UniqueName("auto-commit-failures");
        using var metrics = new CommitMeasurements(scope);
        string topic = NewTopic(Cluster, "auto-commit-failures");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 10);
        Cluster.InjectErrors(ApiKey.OffsetCommit, ErrorCode.OffsetMetadataTooLarge);
        await using var consumer = new KafkaConsumer<string, string>(Options(EmbeddedClusterFixture.UniqueName("auto-commit-failures")) with
        {
            CommitStrategy = CommitStrategy.AutoCommitDelivered,
            AutoCommitInterval = TimeSpan.FromMilliseconds(100),
        });
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        await ConsumeAsync(consumer, 5);

        await WaitUntilAsync(async () => (await consumer.CommittedAsync([tp], Ct)).Single().Offset == 5, Deadline, "an automatic commit of offset 5 went through");
        metrics.Failures.Should().Be(1, "the first automatic commit met the injected error");
        metrics.Successes.Should().BeGreaterThanOrEqualTo(1);
    }
}
