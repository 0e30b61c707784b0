using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Serialization;

// The tests of the batch completion call ProduceAsync without a token on purpose: with one, a
// record is awaited through its own completion instead.
#pragma warning disable xUnit1051

namespace KafkaClient.Testing.Tests;

/// <summary>
/// <c>ProduceAsync</c>'s pooled completions: each use sees its own result, and cancellation ends
/// only the wait. Without a cancellation token a record is awaited through its batch's completion
/// (one pooled object per batch, the record's index as the task's token); with one, through a
/// completion of its own.
/// </summary>
public sealed class ProduceAsyncTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Completions_reused_one_after_another_each_report_their_own_record()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("reuse", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });

        for (int round = 0; round < 3; round++)
        {
            // A window of outstanding results, then awaited in order: the second and third rounds
            // run on completions the earlier rounds gave back.
            var pending = new ValueTask<DeliveryResult<Null, string>>[50];
            for (int i = 0; i < pending.Length; i++)
            {
                pending[i] = producer.ProduceAsync("reuse", new Message<Null, string> { Value = $"{round}-{i}" }, Ct);
            }
            for (int i = 0; i < pending.Length; i++)
            {
                var result = await pending[i];
                result.Message.Value.Should().Be($"{round}-{i}");
                result.Offset.Should().Be(round * 50 + i);
                result.Status.Should().Be(PersistenceStatus.Persisted);
            }
        }
    }

    [Fact]
    public async Task Cancelling_ends_the_wait_for_a_queued_record_but_the_record_is_still_written()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("impatient", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });
        await producer.ProduceAsync("impatient", new Message<Null, string> { Value = "warm-up" }, Ct);
        cluster.InjectLatency(ApiKey.Produce, TimeSpan.FromSeconds(30));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var slow = producer.ProduceAsync("impatient", new Message<Null, string> { Value = "late" }, cancel.Token).AsTask();
        await cancel.CancelAsync();

        await slow.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        cluster.ClearInjectedFaults();
        // The cancelled record was queued: it is written, ahead of the next one.
        var next = await producer.ProduceAsync("impatient", new Message<Null, string> { Value = "next" }, Ct);
        next.Offset.Should().Be(2);
    }

    [Fact]
    public async Task A_token_cancelled_after_delivery_changes_nothing()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("settled", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var first = await producer.ProduceAsync("settled", new Message<Null, string> { Value = "a" }, cancel.Token);
        await cancel.CancelAsync();
        // The first completion is back in the pool; its old registration must not cancel its next use.
        var second = await producer.ProduceAsync("settled", new Message<Null, string> { Value = "b" }, Ct);

        first.Offset.Should().Be(0);
        second.Offset.Should().Be(1);
        second.Message.Value.Should().Be("b");
    }

    [Fact]
    public async Task Records_awaited_through_their_batch_each_report_their_own_partition_offset_and_message()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("batched", partitions: 3, replicationFactor: 1);
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Linger = TimeSpan.FromMilliseconds(20),
        });

        for (int round = 0; round < 3; round++)
        {
            // Outstanding together, so many records share a batch; later rounds reuse the batch
            // completions the earlier rounds gave back.
            var messages = Enumerable.Range(0, 600).Select(i => new Message<string, string> { Key = $"k{i % 7}", Value = $"{round}-{i}" }).ToArray();
            var pending = messages.Select(m => producer.ProduceAsync("batched", m)).ToArray();
            var results = new DeliveryResult<string, string>[pending.Length];
            for (int i = 0; i < pending.Length; i++)
            {
                results[i] = await pending[i];
                results[i].Message.Should().BeSameAs(messages[i]);
                results[i].Status.Should().Be(PersistenceStatus.Persisted);
                results[i].Topic.Should().Be("batched");
            }
            // Per partition the records got consecutive offsets in the order they were produced.
            foreach (var partition in results.GroupBy(r => r.Partition))
            {
                var offsets = partition.Select(r => r.Offset).ToArray();
                offsets.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
                (offsets[^1] - offsets[0]).Should().Be(offsets.Length - 1);
            }
        }
        Enumerable.Range(0, 3).Sum(p => cluster.DescribePartition("batched", p)!.Value.HighWatermark).Should().Be(1800);
    }

    [Fact]
    public async Task A_batch_of_more_awaited_records_than_one_completion_holds_is_split_and_every_offset_is_right()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("tiny", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, byte[]>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            BatchSize = 1 << 20, // room for far more than 2,048 one-byte records
            Linger = TimeSpan.FromMilliseconds(200),
        });
        await producer.ProduceAsync("tiny", new Message<Null, byte[]> { Value = [0] }); // metadata and producer id known

        var pending = new ValueTask<DeliveryResult<Null, byte[]>>[5000];
        for (int i = 0; i < pending.Length; i++)
        {
            pending[i] = producer.ProduceAsync("tiny", new Message<Null, byte[]> { Value = [(byte)i] });
        }
        for (int i = 0; i < pending.Length; i++)
        {
            var result = await pending[i];
            result.Offset.Should().Be(1 + i);
            result.Message.Value![0].Should().Be((byte)i);
        }
        cluster.DescribePartition("tiny", 0)!.Value.HighWatermark.Should().Be(5001);
    }

    [Fact]
    public async Task A_result_read_twice_fails_instead_of_reading_another_record()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("twice", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions { BootstrapServers = cluster.BootstrapServers });

        await producer.ProduceAsync("twice", new Message<Null, string> { Value = "warm-up" }); // metadata known: the fast path from now on
        var first = producer.ProduceAsync("twice", new Message<Null, string> { Value = "first" });
        (await first).Offset.Should().Be(1);
        // The batch completion went back to the pool; the next batch may take it.
        var second = producer.ProduceAsync("twice", new Message<Null, string> { Value = "second" });

        var readAgain = async () => await first;

        await readAgain.Should().ThrowAsync<InvalidOperationException>();
        var result = await second;
        result.Offset.Should().Be(2);
        result.Message.Value.Should().Be("second");
    }

    [Fact]
    public async Task A_failed_batch_fails_every_record_awaited_through_it_with_the_brokers_error()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("refused", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Linger = TimeSpan.FromMilliseconds(50),
        });
        await producer.ProduceAsync("refused", new Message<Null, string> { Value = "warm-up" });
        cluster.InjectErrors(ApiKey.Produce, ErrorCode.TopicAuthorizationFailed, count: 1000);

        var pending = Enumerable.Range(0, 20).Select(i => producer.ProduceAsync("refused", new Message<Null, string> { Value = $"v{i}" })).ToArray();

        for (int i = 0; i < pending.Length; i++)
        {
            var act = async () => await pending[i];
            var thrown = await act.Should().ThrowAsync<ProduceException<Null, string>>();
            thrown.Which.ErrorCode.Should().Be(ErrorCode.TopicAuthorizationFailed);
            thrown.Which.DeliveryResult.Message.Value.Should().Be($"v{i}");
            thrown.Which.DeliveryResult.Offset.Should().Be(-1);
            thrown.Which.DeliveryResult.Status.Should().Be(PersistenceStatus.NotPersisted);
        }
        cluster.ClearInjectedFaults();
        // Nothing was lost on the way: the next records are written after the warm-up.
        (await producer.ProduceAsync("refused", new Message<Null, string> { Value = "after" })).Offset.Should().Be(1);
    }

    [Fact]
    public async Task A_caller_awaiting_in_a_synchronization_context_resumes_in_it()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("context", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Linger = TimeSpan.FromMilliseconds(100),
        });
        await producer.ProduceAsync("context", new Message<Null, string> { Value = "warm-up" });
        var context = new CountingContext();

        var resumedIn = new TaskCompletionSource<SynchronizationContext?>(TaskCreationOptions.RunContinuationsAsynchronously);
        context.Post(async _ =>
        {
            // Two records outstanding: the first one awaited is still lingering in its batch.
            var a = producer.ProduceAsync("context", new Message<Null, string> { Value = "a" });
            var b = producer.ProduceAsync("context", new Message<Null, string> { Value = "b" });
            await a;
            await b;
            resumedIn.SetResult(SynchronizationContext.Current);
        }, null);

        (await resumedIn.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct)).Should().BeSameAs(context);
        context.Posts.Should().BeGreaterThan(1, "the continuation after the await was posted to the caller's context");
    }

    /// <summary>A synchronization context that runs posted work on the thread pool with itself installed, counting posts.</summary>
    private sealed class CountingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                var previous = Current;
                SetSynchronizationContext(this);
                try
                {
                    d(state);
                }
                finally
                {
                    SetSynchronizationContext(previous);
                }
            });
        }
    }
}
