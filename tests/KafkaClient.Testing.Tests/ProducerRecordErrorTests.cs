using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Tests.Consumer;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// Per-record errors (KIP-467): when the broker refuses some records of a batch (INVALID_RECORD with record errors, as
/// Kafka does for a record without a key on a compacted topic), each refused record fails with its own reason, and
/// the others of the batch with a retriable error saying they were not refused. The producer goes on afterwards.
/// </summary>
public sealed class ProducerRecordErrorTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Refused_records_fail_with_their_own_reason_and_their_batch_mates_can_be_produced_again(bool idempotent)
    {
        string topic = EmbeddedClusterFixture.UniqueName("record-errors");
        fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 1);
        var spy = fixture.Cluster.Spy(ApiKey.Produce);
        int refusals = 0, blockers = 0;
        var releaseBlocker = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        spy.Override = async (context, request, inner, ct) =>
        {
            var produce = (ProduceRequest)request;
            var ours = produce.TopicData.Where(t => t.Name == topic).SelectMany(t => t.PartitionData).Select(p => p.Index).ToList();
            if (ours.Contains(1) && Interlocked.Increment(ref blockers) == 2)
            {
                // The blocker: while it is in flight the producer is busy, so partition 0's records linger into one batch.
                await releaseBlocker.Task.WaitAsync(ct);
            }
            else if (ours.Contains(0) && Interlocked.Increment(ref refusals) == 1)
            {
                // Nothing is stored: records #1 and #3 are refused, so the broker refuses the whole batch.
                return new ProduceResponse
                {
                    Responses =
                    [
                        new ProduceResponse.TopicProduceResponse
                        {
                            Name = topic,
                            PartitionResponses =
                            [
                                new ProduceResponse.PartitionProduceResponse
                                {
                                    Index = 0,
                                    ErrorCode = (short)ErrorCode.InvalidRecord,
                                    ErrorMessage = "One or more records have been rejected",
                                    BaseOffset = -1,
                                    RecordErrors =
                                    [
                                        new ProduceResponse.BatchIndexAndErrorMessage { BatchIndex = 1, BatchIndexErrorMessage = "Compacted topic cannot accept message without key" },
                                        new ProduceResponse.BatchIndexAndErrorMessage { BatchIndex = 3 },
                                    ],
                                },
                            ],
                        },
                    ],
                };
            }
            return await inner.HandleAsync(context, request, ct);
        };
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = fixture.Cluster.BootstrapServers,
            EnableIdempotence = idempotent,
            Acks = Acks.All,
            // One batch for the five records while the blocker is in flight (an idle producer does not linger).
            Linger = TimeSpan.FromMilliseconds(200),
        });
        await producer.ProduceAsync(new TopicPartition(topic, 1), new Message<string, string> { Key = "warm", Value = "up" }, Ct);
        var blocker = producer.ProduceAsync(new TopicPartition(topic, 1), new Message<string, string> { Key = "b", Value = "blocker" }, Ct);
        await WaitUntilArrivedAsync(spy, topic);
        var partition = new TopicPartition(topic, 0);
        var awaited = new List<Task<DeliveryResult<string, string>>>();
        var called = new List<TaskCompletionSource<DeliveryResult<string, string>>>();
        for (int i = 0; i < 5; i++)
        {
            var message = new Message<string, string> { Key = i == 1 ? null : $"k{i}", Value = $"v{i}" };
            if (i % 2 == 0)
            {
                // No token on purpose: records awaited without one share their batch's completion.
#pragma warning disable xUnit1051
                awaited.Add(producer.ProduceAsync(partition, message).AsTask());
#pragma warning restore xUnit1051
            }
            else
            {
                var delivered = new TaskCompletionSource<DeliveryResult<string, string>>(TaskCreationOptions.RunContinuationsAsynchronously);
                producer.Produce(partition, message, delivered.SetResult);
                called.Add(delivered);
            }
        }

        releaseBlocker.SetResult();
        (await blocker).Status.Should().Be(PersistenceStatus.Persisted);

        // #0, #2, #4 awaited (one completion for the batch); #1 and #3 through callbacks.
        var errors = new Dictionary<int, KafkaException>();
        for (int i = 0; i < 3; i++)
        {
            var thrown = await awaited[i].Invoking(t => t).Should().ThrowAsync<ProduceException<string, string>>();
            thrown.Which.DeliveryResult.Status.Should().Be(PersistenceStatus.NotPersisted);
            errors[2 * i] = thrown.Which.DeliveryResult.Error!;
        }
        for (int i = 0; i < 2; i++)
        {
            var result = await called[i].Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            result.Status.Should().Be(PersistenceStatus.NotPersisted);
            errors[(2 * i) + 1] = result.Error!;
        }

        errors.Values.Should().OnlyContain(e => e.ErrorCode == ErrorCode.InvalidRecord);
        errors[1].Message.Should().Contain("refused this record (#1").And.Contain("Compacted topic cannot accept message without key");
        errors[3].Message.Should().Contain("refused this record (#3").And.Contain("One or more records have been rejected");
        errors[1].IsRetriable.Should().BeFalse();
        errors[3].IsRetriable.Should().BeFalse();
        foreach (int mate in new[] { 0, 2, 4 })
        {
            errors[mate].IsRetriable.Should().BeTrue("record #{0} was not refused itself", mate);
            errors[mate].Message.Should().Contain("#1, #3").And.Contain("was not refused");
        }

        var after = await producer.ProduceAsync(partition, new Message<string, string> { Key = "k", Value = "after" }, Ct);
        after.Status.Should().Be(PersistenceStatus.Persisted);
        after.Offset.Should().Be(0, "nothing of the refused batch was stored");
    }

    private static async Task WaitUntilArrivedAsync(ApiSpy spy, string topic)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!spy.Arrived.Count(a => ((ProduceRequest)a.Request).TopicData.Any(t => t.Name == topic && t.PartitionData.Any(p => p.Index == 1))).Equals(2))
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}
