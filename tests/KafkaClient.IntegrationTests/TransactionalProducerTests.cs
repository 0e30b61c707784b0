using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Producer;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>
/// The transactional producer against librdkafka's mock. The mock answers the transaction APIs but
/// writes no commit/abort markers, applies no transactional offsets and does not fence, so here we
/// prove the request flow (what is sent, to whom, in which order) and the data; markers,
/// read_committed and fencing need a broker with a real transaction coordinator.
/// </summary>
public sealed class TransactionalProducerTests : IAsyncLifetime
{
    private readonly LibrdkafkaMockClusterFixture _fixture = new();

    public async ValueTask InitializeAsync()
    {
        await _fixture.InitializeAsync();
        _fixture.Cluster.StartRequestTracking();
    }

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    private ProducerOptions Options(string transactionalId) => new()
    {
        BootstrapServers = _fixture.BootstrapServers,
        TransactionalId = transactionalId,
        RequestTimeout = TimeSpan.FromSeconds(10),
        DeliveryTimeout = TimeSpan.FromSeconds(30),
        MaxBlock = TimeSpan.FromSeconds(15),
    };

    [Fact]
    public async Task A_committed_transaction_across_two_topics_ends_with_commit_markers()
    {
        string a = LibrdkafkaMockClusterFixture.UniqueName("txa");
        string b = LibrdkafkaMockClusterFixture.UniqueName("txb");
        _fixture.Cluster.CreateTopic(a, partitions: 1, replicationFactor: 1);
        _fixture.Cluster.CreateTopic(b, partitions: 1, replicationFactor: 1);
        await using (var producer = new KafkaProducer<string, string>(Options(LibrdkafkaMockClusterFixture.UniqueName("tid"))))
        {
            await producer.InitTransactionsAsync(TestContext.Current.CancellationToken);
            producer.BeginTransaction();
            for (int i = 0; i < 5; i++)
            {
                producer.Produce(a, new Message<string, string> { Key = "k", Value = $"a{i}" });
                producer.Produce(b, new Message<string, string> { Key = "k", Value = $"b{i}" });
            }
            await producer.CommitTransactionAsync(TestContext.Current.CancellationToken);
        }

        (await ReadAsync(a)).Should().Equal("a0", "a1", "a2", "a3", "a4");
        (await ReadAsync(b)).Should().Equal("b0", "b1", "b2", "b3", "b4");
        var calls = _fixture.Cluster.GetRequests().Select(r => r.ApiKey).ToList();
        AssertTransactionFlow(calls);
    }

    [Fact]
    public async Task An_aborted_transaction_ends_with_an_abort_marker_and_the_next_one_commits()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("txabort");
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using (var producer = new KafkaProducer<string, string>(Options(LibrdkafkaMockClusterFixture.UniqueName("tid"))))
        {
            await producer.InitTransactionsAsync(TestContext.Current.CancellationToken);
            producer.BeginTransaction();
            await producer.ProduceAsync(topic, new Message<string, string> { Value = "doomed" }, TestContext.Current.CancellationToken);
            await producer.AbortTransactionAsync(TestContext.Current.CancellationToken);

            producer.BeginTransaction();
            await producer.ProduceAsync(topic, new Message<string, string> { Value = "kept" }, TestContext.Current.CancellationToken);
            await producer.CommitTransactionAsync(TestContext.Current.CancellationToken);
        }

        (await ReadAsync(topic)).Should().Equal("doomed", "kept");
        var calls = _fixture.Cluster.GetRequests().Select(r => r.ApiKey).ToList();
        calls.Count(k => k == EndTxn).Should().Be(2, "one EndTxn aborts, the other commits");
    }

    [Fact]
    public async Task Producing_outside_a_transaction_is_refused()
    {
        await using var producer = new KafkaProducer<string, string>(Options(LibrdkafkaMockClusterFixture.UniqueName("tid")));
        await producer.InitTransactionsAsync(TestContext.Current.CancellationToken);
        var act = () => producer.Produce("t", new Message<string, string> { Value = "v" });
        act.Should().Throw<InvalidOperationException>().WithMessage("*BeginTransaction*");
    }

    [Fact]
    public async Task Offsets_sent_to_a_committed_transaction_are_committed_for_the_group()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("txoffsets");
        string group = LibrdkafkaMockClusterFixture.UniqueName("group");
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        await using (var producer = new KafkaProducer<string, string>(Options(LibrdkafkaMockClusterFixture.UniqueName("tid"))))
        {
            await producer.InitTransactionsAsync(TestContext.Current.CancellationToken);
            producer.BeginTransaction();
            await producer.ProduceAsync(topic, new Message<string, string> { Value = "out" }, TestContext.Current.CancellationToken);
            await producer.SendOffsetsToTransactionAsync([new TopicPartitionOffset(topic, 0, 42)], new ConsumerGroupMetadata(group), TestContext.Current.CancellationToken);
            await producer.CommitTransactionAsync(TestContext.Current.CancellationToken);
        }

        var calls = _fixture.Cluster.GetRequests().Select(r => r.ApiKey).ToList();
        AssertTransactionFlow(calls);
        calls.IndexOf(AddOffsetsToTxn).Should().BeGreaterThan(-1).And.BeLessThan(calls.IndexOf(TxnOffsetCommit), "offsets are added to the transaction before they are committed to the group");
        calls.IndexOf(TxnOffsetCommit).Should().BeLessThan(calls.LastIndexOf(EndTxn));
    }

    private const short Produce = 0, InitProducerId = 22, AddPartitionsToTxn = 24, AddOffsetsToTxn = 25, EndTxn = 26, TxnOffsetCommit = 28;

    private static void AssertTransactionFlow(List<short> calls)
    {
        calls.Should().Contain([InitProducerId, AddPartitionsToTxn, Produce, EndTxn]);
        calls.IndexOf(InitProducerId).Should().BeLessThan(calls.IndexOf(AddPartitionsToTxn));
        calls.IndexOf(AddPartitionsToTxn).Should().BeLessThan(calls.IndexOf(Produce), "a partition joins the transaction before records are written to it");
        calls.LastIndexOf(Produce).Should().BeLessThan(calls.LastIndexOf(EndTxn), "commit sends every record before ending the transaction");
    }

    private async Task<List<string>> ReadAsync(string topic)
    {
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = _fixture.BootstrapServers }, TestContext.Current.CancellationToken);
        var metadata = await client.RefreshMetadataAsync([topic], TestContext.Current.CancellationToken);
        var leader = metadata.Partition(topic, 0)!.LeaderId;
        var result = new List<string>();
        long offset = 0;
        using var reader = new RecordBatchReader();
        for (int round = 0; round < 20; round++)
        {
            var response = await client.SendAsync(new FetchRequest
            {
                ReplicaId = -1,
                MaxWaitMs = 100,
                MaxBytes = 1 << 20,
                Topics = [new FetchRequest.FetchTopic { Topic = topic, TopicId = metadata.Topics[topic].TopicId, Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = offset, PartitionMaxBytes = 1 << 20 }] }],
            }, leader, ConnectionPurpose.Fetch, TestContext.Current.CancellationToken);
            var data = response.Responses[0].Partitions[0];
            reader.Reset(data.Records ?? ReadOnlyMemory<byte>.Empty);
            bool any = false;
            while (reader.TryReadBatch(out var batch))
            {
                foreach (var record in reader.ReadRecords(batch))
                {
                    any = true;
                    result.Add(batch.IsControl
                        ? $"<{ControlRecord.ReadType(record).ToString().ToUpperInvariant()}>"
                        : System.Text.Encoding.UTF8.GetString(record.Value));
                    offset = record.Offset + 1;
                }
                offset = Math.Max(offset, batch.NextOffset);
            }
            if (!any && offset >= data.HighWatermark)
            {
                break;
            }
        }
        return result;
    }
}
