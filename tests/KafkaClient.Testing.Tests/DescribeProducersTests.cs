using System.Text;
using Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using ErrorCode = KafkaClient.Errors.ErrorCode;

namespace KafkaClient.Testing.Tests;

/// <summary>DescribeProducers (KIP-664) through our protocol client, with an idempotent raw producer and a Confluent transactional one.</summary>
public sealed class DescribeProducersTests
{
    static DescribeProducersTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Batch(int count, long producerId, short epoch, int sequence, long timestamp)
    {
        using var writer = new RecordBatchWriter { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence };
        for (int i = 0; i < count; i++)
        {
            writer.Append(timestamp, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"v{i}"));
        }
        return writer.Finish().ToArray();
    }

    private static async Task<DescribeProducersResponse.PartitionResponse> DescribeAsync(KafkaProtocolClient client, string topic, int nodeId)
    {
        var response = await client.SendAsync(new DescribeProducersRequest
        {
            Topics = [new DescribeProducersRequest.TopicRequest { Name = topic, PartitionIndexes = [0] }],
        }, nodeId, ConnectionPurpose.General, Ct);
        return response.Topics.Single().Partitions.Single();
    }

    [Fact]
    public async Task Active_producers_show_epoch_last_sequence_last_timestamp_and_the_open_transactions_first_offset()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 2 }, Ct);
        cluster.CreateTopic("watched", partitions: 1, replicationFactor: 2);
        int leader = cluster.DescribePartition("watched", 0)!.Value.LeaderId;
        int follower = cluster.Brokers.Select(b => b.NodeId).First(id => id != leader);
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers }, Ct);

        (await DescribeAsync(client, "watched", leader)).ActiveProducers.Should().BeEmpty();

        var init = await client.SendAsync(new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = -1, ProducerId = -1, ProducerEpoch = -1 }, Ct);
        long idempotent = init.ProducerId;
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var (count, sequence, timestamp) in new[] { (3, 0, now - 2_000), (2, 3, now - 1_000) })
        {
            var produced = await client.SendAsync(new ProduceRequest
            {
                Acks = -1,
                TimeoutMs = 5000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "watched", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = Batch(count, idempotent, 0, sequence, timestamp) }] }],
            }, leader, ConnectionPurpose.Produce, Ct);
            produced.Responses.Single().PartitionResponses.Single().ErrorCode.Should().Be(0);
        }

        using var transactional = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            TransactionalId = "watcher",
        }).Build();
        transactional.InitTransactions(TimeSpan.FromSeconds(20));
        transactional.BeginTransaction();
        (await transactional.ProduceAsync("watched", new Message<Null, string> { Value = "in-txn" }, Ct)).Offset.Value.Should().Be(5);

        var open = await DescribeAsync(client, "watched", leader);
        open.ErrorCode.Should().Be(0);
        open.ActiveProducers.Should().HaveCount(2);
        var idempotentState = open.ActiveProducers.Single(p => p.ProducerId == idempotent);
        idempotentState.ProducerEpoch.Should().Be(0);
        idempotentState.LastSequence.Should().Be(4, "sequences 0-2 then 3-4");
        idempotentState.LastTimestamp.Should().Be(now - 1_000);
        idempotentState.CurrentTxnStartOffset.Should().Be(-1);
        idempotentState.CoordinatorEpoch.Should().Be(-1);
        var transactionalState = open.ActiveProducers.Single(p => p.ProducerId != idempotent);
        transactionalState.LastSequence.Should().Be(0);
        transactionalState.CurrentTxnStartOffset.Should().Be(5, "the open transaction began at offset 5");

        transactional.CommitTransaction(TimeSpan.FromSeconds(20));
        var committed = (await DescribeAsync(client, "watched", leader)).ActiveProducers.Single(p => p.ProducerId == transactionalState.ProducerId);
        committed.CurrentTxnStartOffset.Should().Be(-1);
        committed.CoordinatorEpoch.Should().Be(0, "the commit marker carried coordinator epoch 0");

        (await DescribeAsync(client, "watched", follower)).ErrorCode.Should().Be((short)ErrorCode.NotLeaderOrFollower);
        var unknown = await client.SendAsync(new DescribeProducersRequest
        {
            Topics = [new DescribeProducersRequest.TopicRequest { Name = "watched", PartitionIndexes = [7] }],
        }, leader, ConnectionPurpose.General, Ct);
        unknown.Topics.Single().Partitions.Single().ErrorCode.Should().Be((short)ErrorCode.UnknownTopicOrPartition);
    }
}
