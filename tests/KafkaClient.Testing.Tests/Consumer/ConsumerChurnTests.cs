using System.Diagnostics;
using System.Text;
using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// At-least-once under churn: a group of our consumers (runner, <see cref="CommitStrategy.AfterProcessing"/>) reads a
/// topic while members join, leave, crash, and the group coordinator's broker restarts. Every record must be processed,
/// duplicates may only come from a handover that could not commit (a crash, lost partitions, a failed commit), each
/// member's run over a partition is in offset order, and the group's committed offsets never move backwards.
/// </summary>
public sealed class ConsumerChurnTests(ConsumerGroupFixture fixture) : IClassFixture<ConsumerGroupFixture>
{
    private const int Partitions = 12;

    /// <summary>The full size by default; <c>KAFKACLIENT_CHURN_RECORDS</c> overrides it (CI may run a smaller count).</summary>
    private static readonly int RecordCount =
        int.TryParse(Environment.GetEnvironmentVariable("KAFKACLIENT_CHURN_RECORDS"), out int n) && n >= Partitions * 100 ? n / Partitions * Partitions : 300_000;

    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(45);

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private enum RunEnd
    {
        Open = 0,
        Revoked = 1,
        RevokedCommitFailed = 2,
        Lost = 3,
        Crashed = 4,
        ClosedUncommitted = 5,
    }

    [Fact]
    public async Task Every_record_is_processed_at_least_once_while_members_join_leave_crash_and_the_coordinator_restarts()
    {
        var output = TestContext.Current.TestOutputHelper!;
        var total = Stopwatch.StartNew();
        string topic = EmbeddedClusterFixture.UniqueName("churn");
        string group = EmbeddedClusterFixture.UniqueName("churn-group");
        Cluster.CreateTopic(topic, Partitions, replicationFactor: 3);
        await ProduceIndexedAsync(Cluster.BootstrapServers, topic, Partitions, RecordCount);
        var produced = total.Elapsed;
        output.WriteLine($"{RecordCount} records of 100 bytes in {Partitions} partitions produced in {produced.TotalSeconds:0.0} s" +
            (RecordCount == 300_000 ? "" : " (KAFKACLIENT_CHURN_RECORDS; the full test uses 300000)"));

        var log = new CapturedLog();
        var ledger = new Ledger(RecordCount / Partitions);
        var members = new List<Member>();
        var gate = new Pulse();
        long budget = 0;
        log.OnLine = (name, id, _) =>
        {
            if (id.Id == 1216)
            {
                lock (members)
                {
                    foreach (var m in members.Where(m => m.Name == name))
                    {
                        m.CommitFailed = true;
                    }
                }
            }
        };

        Member Start(string name)
        {
            var member = new Member(name, $"{name}-{group}");
            member.Consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions
            {
                BootstrapServers = Cluster.BootstrapServers,
                ClientId = member.ClientId,
                GroupId = group,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                CommitStrategy = CommitStrategy.AfterProcessing,
                AutoCommitInterval = TimeSpan.FromMilliseconds(500),
                SessionTimeout = TimeSpan.FromSeconds(4),
                HeartbeatInterval = TimeSpan.FromMilliseconds(400),
                RebalanceTimeout = TimeSpan.FromSeconds(20),
                CloseTimeout = TimeSpan.FromSeconds(20),
                LoggerFactory = log.For(name),
                OnRebalance = (e, _) =>
                {
                    log.Note(name, e.ToString());
                    if (member.Crashing)
                    {
                        return ValueTask.CompletedTask;
                    }
                    switch (e.Kind)
                    {
                        case RebalanceEventKind.Rebalancing:
                            member.CommitFailed = false;
                            member.Bypass = true;
                            gate.Fire();
                            break;
                        case RebalanceEventKind.GroupJoined:
                            Interlocked.Exchange(ref member.SinceJoin, 0);
                            member.Bypass = member.Closing;
                            break;
                        case RebalanceEventKind.PartitionsRevoked:
                            member.CloseRuns(e.Partitions.Select(p => p.Partition), member.CommitFailed ? RunEnd.RevokedCommitFailed : RunEnd.Revoked);
                            break;
                        case RebalanceEventKind.PartitionsLost:
                            member.CloseRuns(e.Partitions.Select(p => p.Partition), RunEnd.Lost);
                            break;
                    }
                    return ValueTask.CompletedTask;
                },
            });
            lock (members)
            {
                members.Add(member);
            }
            member.Consumer.Subscribe([topic]);
            member.Runner = member.Consumer.RunAsync(async (record, ct) =>
            {
                // Flow control, so that the churn happens while records remain: a handler waits while the group is at its
                // budget, except during its member's rebalance (a revocation waits for the handlers).
                while (true)
                {
                    var next = gate.Next;
                    if (member.Bypass || Volatile.Read(ref ledger.Handled) < Volatile.Read(ref budget))
                    {
                        break;
                    }
                    await next.WaitAsync(ct);
                }
                ledger.Record(member, record);
            }, new RunnerOptions { MaxConcurrentPartitions = 4 }, CancellationToken.None);
            return member;
        }

        List<Member> Live()
        {
            lock (members)
            {
                return [.. members.Where(m => !m.Gone)];
            }
        }

        bool Stable()
        {
            var live = Live();
            if (live.Count == 0 || live.Any(m => m.Bypass))
            {
                return false;
            }
            var assigned = live.SelectMany(m => m.Consumer.Assignment).ToList();
            return assigned.Count == Partitions && assigned.Distinct().Count() == Partitions;
        }

        string Diagnostics() =>
            $"unique {Interlocked.Read(ref ledger.Unique)}/{RecordCount}, handled {Interlocked.Read(ref ledger.Handled)}, budget {Interlocked.Read(ref budget)}; " +
            string.Join("; ", Live().Select(m => $"{m.Name}{(m.Bypass ? " (rebalancing)" : "")}: [{string.Join(",", m.Consumer.Assignment.Select(p => p.Partition))}]")) +
            Environment.NewLine + log.Dump();

        async Task StableAsync(string after) => await WaitUntilAsync(Stable, StepTimeout, $"the group is stable after {after}", ledger.Progress, Diagnostics);

        async Task FlowAsync(long records)
        {
            long from = Interlocked.Read(ref ledger.Handled);
            Interlocked.Exchange(ref budget, from + records);
            gate.Fire();
            await WaitUntilAsync(() => Interlocked.Read(ref ledger.Handled) >= from + (records / 3), StepTimeout, "records are processed", ledger.Progress, Diagnostics);
            Interlocked.Read(ref ledger.Unique).Should().BeLessThan(RecordCount, "the churn happens while records remain");
        }

        async Task LeaveAsync(Member m)
        {
            log.Note(m.Name, "leaving (CloseAsync)");
            m.Closing = true;
            m.Bypass = true;
            m.CommitFailed = false;
            gate.Fire();
            await m.Consumer.CloseAsync(Ct);
            await m.StoppedAsync();
            m.Gone = true;
            // A graceful close revokes (commits, then PartitionsRevoked) everything; anything still open did not go that way.
            m.CloseRuns(null, RunEnd.ClosedUncommitted);
        }

        async Task CrashAsync(Member m)
        {
            // A crash as the cluster sees it: from this moment nothing more of the member arrives (no commit, no
            // LeaveGroup, no heartbeat). Its process is then torn down; what it does locally while dying is ignored.
            // Crash in the middle of work: the member alone may pass the gate until it has processed records of its assignment.
            m.Bypass = true;
            gate.Fire();
            await WaitUntilAsync(() => Interlocked.Read(ref m.SinceJoin) >= 500, StepTimeout, $"{m.Name} processes records of its current assignment", ledger.Progress, Diagnostics);
            log.Note(m.Name, "crashing: cut off from the cluster, then torn down");
            output.WriteLine($"{m.Name} crashes owning [{string.Join(",", m.Consumer.Assignment.Select(p => p.Partition))}]");
            m.Gone = true;
            m.Crashing = true;
            Cluster.CutOffClient(m.ClientId);
            using var abandon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await m.Consumer.CloseAsync(abandon.Token);
            await m.StoppedAsync();
            m.CloseRuns(null, RunEnd.Crashed);
            log.Note(m.Name, $"crashed; partitions processed since the last assignment: {string.Join(", ", m.ClosedAt(RunEnd.Crashed))}");
        }

        // Committed offsets, sampled all along by a consumer of the group that never joins it.
        var committedSamples = 0;
        long committedSum = 0;
        var backwards = new List<string>();
        var lastCommitted = new long[Partitions];
        Array.Fill(lastCommitted, -1);
        using var stopObserver = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var observer = Task.Run(async () =>
        {
            await using var watcher = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, GroupId = group, ClientId = "observer" });
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            var all = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(topic, p)).ToList();
            while (!stopObserver.IsCancellationRequested)
            {
                try
                {
                    await tick.WaitForNextTickAsync(stopObserver.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                IReadOnlyList<TopicPartitionOffset> committed;
                try
                {
                    committed = await watcher.CommittedAsync(all, stopObserver.Token);
                }
                catch (Exception ex) when (ex is Errors.KafkaException or OperationCanceledException)
                {
                    continue;
                }
                long sum = 0;
                foreach (var c in committed)
                {
                    sum += Math.Max(0, c.Offset);
                    int p = c.TopicPartition.Partition;
                    if (c.Offset < lastCommitted[p])
                    {
                        lock (backwards)
                        {
                            backwards.Add($"[{p}] {lastCommitted[p]} -> {c.Offset}");
                        }
                    }
                    lastCommitted[p] = Math.Max(lastCommitted[p], c.Offset);
                }
                Interlocked.Exchange(ref committedSum, sum);
                Interlocked.Increment(ref committedSamples);
            }
        }, Ct);

        var steps = new List<string>();
        var stepClock = Stopwatch.StartNew();
        void Done(string step)
        {
            steps.Add($"{step} ({stepClock.Elapsed.TotalSeconds:0.0} s, {Interlocked.Read(ref ledger.Unique)} unique records processed, {Interlocked.Read(ref ledger.Handled)} handled)");
            log.Note("test", "done: " + steps[^1]);
            stepClock.Restart();
        }

        long step = RecordCount / 12;
        try
        {
            var a = Start("A");
            var b = Start("B");
            var c = Start("C");
            Interlocked.Exchange(ref budget, step / 2);
            await StableAsync("A, B and C joined");
            Done("A, B, C joined");

            await FlowAsync(step);
            var d = Start("D");
            await StableAsync("D joined");
            Done("D joined");

            await FlowAsync(step);
            await LeaveAsync(a);
            await StableAsync("A left");
            Done("A left");

            await FlowAsync(step);
            await CrashAsync(b);
            await StableAsync("B crashed");
            Done("B crashed and expired");

            await FlowAsync(step);
            int coordinator = Cluster.State.CoordinatorFor(group);
            log.Note("test", $"stopping the coordinator, broker {coordinator}");
            await Cluster.StopBrokerAsync(coordinator, Ct);
            // A baseline sampled wholly after the stop; whatever is committed later reached the new coordinator.
            int samplesAtStop = Volatile.Read(ref committedSamples);
            await WaitUntilAsync(() => Volatile.Read(ref committedSamples) >= samplesAtStop + 2, StepTimeout, "the committed offsets are sampled after the stop", null, Diagnostics);
            long committedBefore = Interlocked.Read(ref committedSum);
            await FlowAsync(step);
            await WaitUntilAsync(() => Interlocked.Read(ref committedSum) > committedBefore, StepTimeout,
                $"the group commits to its new coordinator while broker {coordinator} is down", ledger.Progress, Diagnostics);
            Cluster.State.CoordinatorFor(group).Should().NotBe(coordinator);
            await Cluster.StartBrokerAsync(coordinator, Ct);
            log.Note("test", $"broker {coordinator} started again");
            await FlowAsync(step / 2);
            await StableAsync("the coordinator restarted");
            Done($"coordinator (broker {coordinator}) stopped, consumed without it, restarted");

            await FlowAsync(step);
            Start("E");
            await StableAsync("E joined");
            Done("E joined");

            await FlowAsync(step);
            await CrashAsync(c);
            await StableAsync("C crashed");
            Done("C crashed and expired");

            await FlowAsync(step);
            Start("F");
            await StableAsync("F joined");
            Done("F joined");

            await FlowAsync(step);
            await LeaveAsync(d);
            await StableAsync("D left");
            Done("D left");

            Interlocked.Exchange(ref budget, long.MaxValue);
            gate.Fire();
            await WaitUntilAsync(() => Interlocked.Read(ref ledger.Unique) == RecordCount, TimeSpan.FromSeconds(60), "every record is processed", ledger.Progress, Diagnostics);
            Done("the rest processed by E and F");
            await WaitUntilAsync(() => lastCommitted.All(o => o == RecordCount / Partitions), StepTimeout, "the group's committed offsets reach the end of every partition",
                null, () => $"committed: {string.Join(", ", lastCommitted)}{Environment.NewLine}{Diagnostics()}");
            Done("final offsets committed");

            foreach (var m in Live())
            {
                await LeaveAsync(m);
            }
            await stopObserver.CancelAsync();
            await observer;
        }
        catch
        {
            output.WriteLine(Diagnostics());
            throw;
        }
        finally
        {
            await stopObserver.CancelAsync();
            foreach (var m in Live())
            {
                await m.Consumer.DisposeAsync();
            }
        }

        if (Environment.GetEnvironmentVariable("CHURN_DEBUG") is not null)
        {
            output.WriteLine(log.Dump(100000));
        }
        foreach (string s in steps)
        {
            output.WriteLine(s);
        }

        // ------------------------------------------------------------ the proofs
        var problems = new List<string>();
        ledger.ContentErrors.Should().Be(0, "every record carries the key written at its partition and offset");
        foreach (var m in members)
        {
            m.RunnerFailure.Should().BeNull($"{m.Name}'s runner stops only when its consumer closes");
        }
        long duplicates = 0;
        int uncleanHandovers = 0;
        for (int p = 0; p < Partitions; p++)
        {
            var runs = ledger.Runs[p].OrderBy(r => r.FirstSeq).ToList();
            output.WriteLine($"[{p}] {string.Join(" | ", runs)}");
            var allowed = new bool[RecordCount / Partitions];
            runs.Should().NotBeEmpty();
            if (runs[0].First != 0)
            {
                problems.Add($"[{p}] the first run ({runs[0]}) does not start at offset 0");
            }
            foreach (var run in runs.Where(r => r.Violations.Count > 0))
            {
                problems.Add($"[{p}] {run} is out of order: {string.Join(", ", run.Violations.Take(5))}");
            }
            for (int i = 1; i < runs.Count; i++)
            {
                var previous = runs[i - 1];
                var next = runs[i];
                bool clean = previous.End is RunEnd.Revoked;
                if (next.First > previous.Last + 1)
                {
                    problems.Add($"[{p}] gap: {previous} then {next} skips {previous.Last + 1}..{next.First - 1}");
                }
                if (!clean)
                {
                    uncleanHandovers++;
                    output.WriteLine($"[{p}] unclean handover: {previous} then {next}: {Math.Max(0, previous.Last - next.First + 1)} records again");
                    for (long o = next.First; o <= previous.Last; o++)
                    {
                        allowed[o] = true;
                    }
                }
                else if (next.First != previous.Last + 1)
                {
                    problems.Add($"[{p}] after an orderly handover (commit, then revoke) {next} does not continue {previous}");
                }
                if (next.FirstSeq < previous.LastSeq && previous.End != RunEnd.Lost)
                {
                    problems.Add($"[{p}] {previous} and {next} overlap in time although {previous.Member} did not lose the partition");
                }
            }
            var counts = ledger.Counts[p];
            for (int o = 0; o < counts.Length; o++)
            {
                if (counts[o] == 0)
                {
                    problems.Add($"[{p}] offset {o} was never processed");
                }
                else if (counts[o] > 1)
                {
                    duplicates += counts[o] - 1;
                    if (!allowed[o])
                    {
                        problems.Add($"[{p}] offset {o} was processed {counts[o]} times outside the window of a crash or lost partition");
                    }
                }
            }
        }
        backwards.Should().BeEmpty("the group's committed offsets never move backwards");
        committedSamples.Should().BeGreaterThan(10, "the committed offsets were sampled throughout");
        problems.Take(20).Should().BeEmpty();
        int crashes = members.Count(m => m.Crashed);
        output.WriteLine($"{RecordCount} records processed at least once; {duplicates} duplicates, all inside the uncommitted windows of {uncleanHandovers} unclean handovers " +
            $"({crashes} crashes); {ledger.Runs.Sum(r => r.Count)} partition runs; {committedSamples} committed-offset samples, none backwards.");
        output.WriteLine("Partition runs by how they ended: " + string.Join(", ", ledger.Runs.SelectMany(r => r).GroupBy(r => r.End).Select(g => $"{g.Key} {g.Count()}")));
        output.WriteLine($"Total {total.Elapsed.TotalSeconds:0.0} s (producing {produced.TotalSeconds:0.0} s).");
    }

    private sealed class Run(string member, int partition, long first, long seq)
    {
        public string Member { get; } = member;

        public int Partition { get; } = partition;

        public long First { get; } = first;

        public long FirstSeq { get; } = seq;

        public long Last { get; set; } = first;

        public long LastSeq { get; set; } = seq;

        public RunEnd End { get; set; }

        public List<string> Violations { get; } = [];

        public override string ToString() => $"{Member}:{First}..{Last} ({End})";
    }

    private sealed class Member(string name, string clientId)
    {
        private readonly Dictionary<int, Run> _open = [];
        private readonly List<Run> _closed = [];

        public string Name { get; } = name;

        public string ClientId { get; } = clientId;

        public KafkaConsumer<int, ReadOnlyMemory<byte>> Consumer { get; set; } = null!;

        public Task Runner { get; set; } = Task.CompletedTask;

        public Exception? RunnerFailure { get; private set; }

        /// <summary>True while the member is not part of a stable generation (before it first joins, while rebalancing, closing): its handlers pass the gate.</summary>
        public volatile bool Bypass = true;

        public volatile bool CommitFailed;

        public volatile bool Closing;

        public volatile bool Gone;

        public volatile bool Crashing;

        /// <summary>Records processed since the member last joined a generation.</summary>
        public long SinceJoin;

        public bool Crashed { get; private set; }

        public Run Append(int partition, long offset, long seq, Func<Run> open)
        {
            lock (_open)
            {
                if (!_open.TryGetValue(partition, out var run))
                {
                    _open[partition] = run = open();
                    return run;
                }
                if (offset != run.Last + 1)
                {
                    run.Violations.Add($"{run.Last} then {offset}");
                }
                run.Last = offset;
                run.LastSeq = seq;
                return run;
            }
        }

        public void CloseRuns(IEnumerable<int>? partitions, RunEnd end)
        {
            lock (_open)
            {
                Crashed |= end == RunEnd.Crashed;
                foreach (int p in (partitions ?? _open.Keys).ToList())
                {
                    if (_open.Remove(p, out var run))
                    {
                        run.End = end;
                        _closed.Add(run);
                    }
                }
            }
        }

        public IEnumerable<Run> ClosedAt(RunEnd end)
        {
            lock (_open)
            {
                return [.. _closed.Where(r => r.End == end)];
            }
        }

        public async Task StoppedAsync()
        {
            try
            {
                await Runner;
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
            {
                RunnerFailure = ex;
            }
        }
    }

    private sealed class Ledger(int perPartition)
    {
        public readonly int[][] Counts = [.. Enumerable.Range(0, Partitions).Select(_ => new int[perPartition])];
        public readonly List<Run>[] Runs = [.. Enumerable.Range(0, Partitions).Select(_ => new List<Run>())];
        public readonly Pulse Progress = new();
        public long Unique;
        public long Handled;
        public long Seq;
        public int ContentErrors;

        public void Record(Member member, ConsumeResult<int, ReadOnlyMemory<byte>> record)
        {
            long seq = Interlocked.Increment(ref Seq);
            Interlocked.Increment(ref member.SinceJoin);
            int p = record.Partition;
            long o = record.Offset;
            if (record.Key != p + (Partitions * o) || record.Value.Length != 100)
            {
                Interlocked.Increment(ref ContentErrors);
            }
            member.Append(p, o, seq, () =>
            {
                var run = new Run(member.Name, p, o, seq);
                lock (Runs[p])
                {
                    Runs[p].Add(run);
                }
                return run;
            });
            bool first = Interlocked.Increment(ref Counts[p][o]) == 1;
            long unique = first ? Interlocked.Increment(ref Unique) : Interlocked.Read(ref Unique);
            if (Interlocked.Increment(ref Handled) % 500 == 0 || unique == Counts.Length * (long)perPartition)
            {
                Progress.Fire();
            }
        }
    }
}
