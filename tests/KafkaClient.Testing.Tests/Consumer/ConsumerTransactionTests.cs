using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Producer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Our consumer reading our transactional producer's output, and both in a consume-transform-produce loop.</summary>
public sealed class ConsumerTransactionTests(ConsumerGroupFixture fixture) : IClassFixture<ConsumerGroupFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private enum Outcome
    {
        Committed = 0,
        Aborted = 1,
        Open = 2,
    }

    private sealed record Written(TopicPartition Partition, long Offset, string Value, int Transaction);

    /// <summary>Consumes on its own task, recording every record per partition, until disposed.</summary>
    private sealed class Reader<TKey> : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Reader(KafkaConsumer<TKey, string> consumer, Pulse progress)
        {
            Consumer = consumer;
            _loop = Task.Run(async () =>
            {
                try
                {
                    await foreach (var record in consumer.ConsumeAllAsync(_stop.Token))
                    {
                        Records.Enqueue((record.TopicPartition, record.Offset, record.Key, record.Value));
                        progress.Fire();
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            });
        }

        public KafkaConsumer<TKey, string> Consumer { get; }

        public ConcurrentQueue<(TopicPartition Partition, long Offset, TKey Key, string Value)> Records { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await Consumer.DisposeAsync();
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Read_committed_sees_each_committed_record_once_and_nothing_aborted_while_read_uncommitted_sees_all_and_neither_sees_control_records()
    {
        string a = EmbeddedClusterFixture.UniqueName("txn-a");
        string b = EmbeddedClusterFixture.UniqueName("txn-b");
        Cluster.CreateTopic(a, partitions: 2, replicationFactor: 1);
        Cluster.CreateTopic(b, partitions: 2, replicationFactor: 1);
        TopicPartition[] partitions = [new(a, 0), new(b, 1), new(a, 1), new(b, 0)];
        var outcomes = new Dictionary<int, Outcome>();
        var written = new List<Written>();

        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            TransactionalId = EmbeddedClusterFixture.UniqueName("tx"),
        });
        await producer.InitTransactionsAsync(Ct);
        async Task WriteTransactionAsync(int t)
        {
            producer.BeginTransaction();
            var sends = new List<Task<DeliveryResult<string, string>>>();
            for (int i = 0; i < 3; i++)
            {
                // Interleaved: each transaction writes both topics, record by record.
                foreach (var tp in partitions)
                {
                    sends.Add(producer.ProduceAsync(tp, new Message<string, string> { Key = $"t{t}", Value = $"t{t}-{tp}-{i}" }, Ct).AsTask());
                }
            }
            foreach (var result in await Task.WhenAll(sends))
            {
                written.Add(new Written(new TopicPartition(result.Topic, result.Partition), result.Offset, result.Message.Value!, t));
            }
        }
        for (int t = 0; t < 10; t++)
        {
            await WriteTransactionAsync(t);
            if (t % 3 == 1)
            {
                await producer.AbortTransactionAsync(Ct);
                outcomes[t] = Outcome.Aborted;
            }
            else
            {
                await producer.CommitTransactionAsync(Ct);
                outcomes[t] = Outcome.Committed;
            }
        }
        await WriteTransactionAsync(10);
        outcomes[10] = Outcome.Open;

        List<(long Offset, string Value)> Expected(TopicPartition tp, params Outcome[] which) =>
            [.. written.Where(w => w.Partition == tp && which.Contains(outcomes[w.Transaction])).OrderBy(w => w.Offset).Select(w => (w.Offset, w.Value))];
        int Count(params Outcome[] which) => written.Count(w => which.Contains(outcomes[w.Transaction]));
        var progress = new Pulse();

        // read_uncommitted: every data record, committed, aborted or still open; never a control record.
        await using (var uncommitted = new Reader<string>(new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers }), progress))
        {
            uncommitted.Consumer.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
            int all = Count(Outcome.Committed, Outcome.Aborted, Outcome.Open);
            await WaitUntilAsync(() => uncommitted.Records.Count >= all, Timeout, "read_uncommitted reads every data record", progress);
            foreach (var tp in partitions)
            {
                var read = uncommitted.Records.Where(r => r.Partition == tp).Select(r => (r.Offset, r.Value)).ToList();
                read.Should().Equal(Expected(tp, Outcome.Committed, Outcome.Aborted, Outcome.Open), $"read_uncommitted reads all of {tp} in order");
                // 11 transactions of 3 records each; 10 markers sit between them: offsets 0..42 without 3, 7, ..., 39.
                var gaps = Enumerable.Range(0, (int)read[^1].Offset + 1).Select(o => (long)o).Except(read.Select(r => r.Offset)).ToList();
                gaps.Should().Equal(Enumerable.Range(0, 10).Select(t => (4L * t) + 3), $"the control records of {tp} are never handed out, leaving gaps");
            }
            uncommitted.Records.Should().HaveCount(all);
        }

        // read_committed, as a group member subscribed to both topics: committed records only, and it stops at the open transaction.
        var committedReader = new Reader<string>(new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = EmbeddedClusterFixture.UniqueName("txn-reader"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }), progress);
        await using (committedReader)
        {
            committedReader.Consumer.Subscribe([a, b]);
            await WaitUntilAsync(() => committedReader.Records.Count >= Count(Outcome.Committed), Timeout, "read_committed reads the committed records", progress);
            var firstOpen = written.Where(w => w.Transaction == 10).GroupBy(w => w.Partition).ToDictionary(g => g.Key, g => g.Min(w => w.Offset));
            await WaitUntilAsync(() => partitions.All(tp => committedReader.Consumer.Position(tp) == firstOpen[tp]), Timeout,
                "read_committed stops at the last stable offset, the open transaction's first record", progress,
                () => string.Join(", ", partitions.Select(tp => $"{tp}: {committedReader.Consumer.Position(tp)} (LSO {committedReader.Consumer.GetWatermarkOffsets(tp).LastStableOffset})")));
            partitions.Should().AllSatisfy(tp => committedReader.Consumer.GetWatermarkOffsets(tp).LastStableOffset.Should().Be(firstOpen[tp]));

            // Committing the open transaction releases exactly its records; had an aborted record slipped through, it would come first.
            await producer.CommitTransactionAsync(Ct);
            outcomes[10] = Outcome.Committed;
            await WaitUntilAsync(() => committedReader.Records.Count >= Count(Outcome.Committed), Timeout, "read_committed reads the transaction committed last", progress);
            foreach (var tp in partitions)
            {
                committedReader.Records.Where(r => r.Partition == tp).Select(r => (r.Offset, r.Value)).Should()
                    .Equal(Expected(tp, Outcome.Committed), $"read_committed reads {tp}'s committed records once each, in order, and nothing aborted");
            }
            committedReader.Records.Should().HaveCount(Count(Outcome.Committed));
            committedReader.Records.Select(r => outcomes[int.Parse(r.Key[1..], System.Globalization.CultureInfo.InvariantCulture)]).Should().OnlyContain(o => o == Outcome.Committed);
        }
    }

    [Fact]
    public async Task Consume_transform_produce_outputs_every_input_exactly_once_across_a_crashed_processor()
    {
        const int Partitions = 4;
        const int Inputs = 4000;
        string input = EmbeddedClusterFixture.UniqueName("eos-in");
        string output = EmbeddedClusterFixture.UniqueName("eos-out");
        string group = EmbeddedClusterFixture.UniqueName("eos-group");
        string transactionalId = EmbeddedClusterFixture.UniqueName("eos-tx");
        Cluster.CreateTopic(input, Partitions, replicationFactor: 1);
        Cluster.CreateTopic(output, Partitions, replicationFactor: 1);
        await ProduceIndexedAsync(Cluster.BootstrapServers, input, Partitions, Inputs);

        KafkaConsumer<int, ReadOnlyMemory<byte>> NewInputConsumer(string name) => new(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            ClientId = name,
            GroupId = group,
            IsolationLevel = IsolationLevel.ReadCommitted,
            CommitStrategy = CommitStrategy.Manual,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeout = TimeSpan.FromSeconds(3),
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
        });
        KafkaProducer<int, string> NewProducer(string name) => new(new ProducerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            ClientId = name,
            TransactionalId = transactionalId,
        });
        int committedInputs = 0;

        // One transaction per batch: the transformed records and the input offsets commit together, or not at all.
        async Task<bool> ProcessBatchAsync(KafkaConsumer<int, ReadOnlyMemory<byte>> consumer, KafkaProducer<int, string> producer, bool crash, CancellationToken ct)
        {
            var batch = await consumer.ConsumeBatchAsync(150, TimeSpan.FromMilliseconds(200), ct);
            if (batch.Count == 0)
            {
                return false;
            }
            producer.BeginTransaction();
            foreach (var record in batch)
            {
                producer.Produce(new TopicPartition(output, record.Partition), new Message<int, string> { Key = record.Key, Value = $"out-{record.Key}" });
            }
            var offsets = batch.GroupBy(r => r.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset) + 1)).ToList();
            await producer.SendOffsetsToTransactionAsync(offsets, consumer.GroupMetadata, Ct);
            if (crash)
            {
                await producer.FlushAsync(Ct);
                return true;
            }
            await producer.CommitTransactionAsync(Ct);
            Interlocked.Add(ref committedInputs, batch.Count);
            return true;
        }

        // The first processor commits some batches, then dies inside a transaction: its records are in the output
        // log and its offsets are pending, neither committed. Its producer lingers on as a zombie.
        var zombie = NewProducer("processor-1");
        await zombie.InitTransactionsAsync(Ct);
        var crashed = NewInputConsumer("processor-1-consumer");
        crashed.Subscribe([input]);
        while (Volatile.Read(ref committedInputs) < Inputs / 3)
        {
            await ProcessBatchAsync(crashed, zombie, crash: false, Ct);
        }
        while (!await ProcessBatchAsync(crashed, zombie, crash: true, Ct))
        {
        }
        int beforeCrash = Volatile.Read(ref committedInputs);
        Cluster.CutOffClient("processor-1-consumer");
        using (var abandon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            await crashed.CloseAsync(abandon.Token);
        }

        // The replacement takes the same transactional id (fencing the zombie and aborting its transaction) and the same group.
        await using var producer = NewProducer("processor-2");
        await producer.InitTransactionsAsync(Ct);
        var fenced = async () => await zombie.CommitTransactionAsync(Ct);
        await fenced.Should().ThrowAsync<Errors.KafkaException>("the zombie was fenced by the new producer with its transactional id");
        await zombie.DisposeAsync();
        await using var consumer = NewInputConsumer("processor-2-consumer");
        consumer.Subscribe([input]);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var processing = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    await ProcessBatchAsync(consumer, producer, crash: false, stop.Token);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }, Ct);
        await WaitUntilAsync(() => Volatile.Read(ref committedInputs) >= Inputs, Timeout, "the second processor finishes the input", null,
            () => $"committed inputs {Volatile.Read(ref committedInputs)}");
        await stop.CancelAsync();
        await processing;
        committedInputs.Should().Be(Inputs, "the second processor resumes at the offsets committed with the first one's last transaction");

        var committed = await consumer.CommittedAsync(Enumerable.Range(0, Partitions).Select(p => new TopicPartition(input, p)), Ct);
        committed.Should().OnlyContain(c => c.Offset == Inputs / Partitions, "the input offsets were committed through the transactions");

        // The output, read both ways to its end.
        var progress = new Pulse();
        async Task<List<(TopicPartition Partition, long Offset, int Key, string Value)>> ReadOutputAsync(IsolationLevel isolation)
        {
            await using var reader = new Reader<int>(new KafkaConsumer<int, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, IsolationLevel = isolation }), progress);
            var outputs = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(output, p)).ToList();
            reader.Consumer.Assign(outputs.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
            await WaitUntilAsync(() => outputs.All(tp => reader.Consumer.Position(tp) == Cluster.DescribePartition(output, tp.Partition)!.Value.HighWatermark), Timeout,
                $"the {isolation} reader reaches the end of the output", progress);
            return [.. reader.Records];
        }
        var exactlyOnce = await ReadOutputAsync(IsolationLevel.ReadCommitted);
        exactlyOnce.Select(r => r.Key).Order().Should().Equal(Enumerable.Range(0, Inputs), "every input is transformed once in the committed output");
        exactlyOnce.Should().OnlyContain(r => r.Value == $"out-{r.Key}" && r.Partition.Partition == r.Key % Partitions);
        var everything = await ReadOutputAsync(IsolationLevel.ReadUncommitted);
        everything.Count.Should().BeGreaterThan(Inputs, "the crashed transaction's records are in the log, aborted (so the test did crash mid-transaction)");
        everything.Select(r => r.Key).Distinct().Should().HaveCount(Inputs);
        TestContext.Current.TestOutputHelper!.WriteLine(
            $"Crash after {beforeCrash} inputs committed; {everything.Count - Inputs} transformed records aborted with the crashed transaction.");
    }
}
