using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Tests;

/// <summary>Sequence numbers across a failed and aborted transaction (Java's TransactionManager: epoch bump and sequence reset).</summary>
public sealed class TransactionSequenceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_a_refused_batch_and_an_abort_the_next_transaction_writes_everything_in_order()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("ledger", partitions: 1, replicationFactor: 1);
        var produceErrors = new ConcurrentQueue<ErrorCode>();
        var initProducerIds = new ConcurrentQueue<InitProducerIdRequest>();
        cluster.RequestHandled += (_, e) =>
        {
            if (e.Response is ProduceResponse produce)
            {
                foreach (var p in produce.Responses.SelectMany(t => t.PartitionResponses))
                {
                    produceErrors.Enqueue((ErrorCode)p.ErrorCode);
                }
            }
            else if (e.Request is InitProducerIdRequest init)
            {
                initProducerIds.Enqueue(init);
            }
        };
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            TransactionalId = "ledger-writer",
        });
        var ledger = new TopicPartition("ledger", 0);
        await producer.InitTransactionsAsync(Ct);

        // 1: committed, so the broker holds sequence state for this producer and partition.
        producer.BeginTransaction();
        await producer.ProduceAsync(ledger, new Message<string, string> { Key = "k", Value = "first" }, Ct);
        await producer.CommitTransactionAsync(Ct);

        // 2: a batch is sent and refused for good: its sequences were used but nothing was written.
        producer.BeginTransaction();
        cluster.InjectErrors(ApiKey.Produce, ErrorCode.InvalidRecord);
        var refused = () => producer.ProduceAsync(ledger, new Message<string, string> { Key = "k", Value = "refused" }, Ct).AsTask();
        (await refused.Should().ThrowAsync<ProduceException<string, string>>()).Which.ErrorCode.Should().Be(ErrorCode.InvalidRecord);
        await producer.AbortTransactionAsync(Ct);

        // 3: every record is written, none refused for its sequence.
        producer.BeginTransaction();
        var results = new List<DeliveryResult<string, string>>();
        for (int i = 0; i < 5; i++)
        {
            results.Add(await producer.ProduceAsync(ledger, new Message<string, string> { Key = "k", Value = $"after-{i}" }, Ct));
        }
        await producer.CommitTransactionAsync(Ct);

        results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted);
        results.Select(r => r.Offset).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        produceErrors.Should().NotContain([ErrorCode.OutOfOrderSequenceNumber, ErrorCode.InvalidProducerEpoch, ErrorCode.UnknownProducerId]);
        // As Java: the abort after an error bumps the epoch (InitProducerId with the current id and epoch).
        initProducerIds.Should().HaveCount(2);
        initProducerIds.Last().ProducerId.Should().BeGreaterThanOrEqualTo(0);

        // Read back committed: the first record and the five after the abort, in order.
        await using var consumer = new KafkaClient.Consumer.KafkaConsumer<string, string>(new KafkaClient.Consumer.ConsumerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            IsolationLevel = KafkaClient.Consumer.IsolationLevel.ReadCommitted,
        });
        consumer.Assign([new TopicPartitionOffset(ledger, KafkaClient.Consumer.Offset.Beginning)]);
        var values = new List<string>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        await foreach (var record in consumer.ConsumeAllAsync(deadline.Token))
        {
            values.Add(record.Value!);
            if (values.Count == 6)
            {
                break;
            }
        }
        values.Should().Equal("first", "after-0", "after-1", "after-2", "after-3", "after-4");
    }
}
