using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Testing.Tests;

/// <summary>The embedded cluster through our own wire layer: raw batches, raw error codes.</summary>
public sealed class WireTests : IClassFixture<KeepForeverClusterFixture>
{
    private readonly KeepForeverClusterFixture _fixture;

    public WireTests(KeepForeverClusterFixture fixture) => _fixture = fixture;

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<KafkaProtocolClient> ConnectAsync() => KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
    {
        BootstrapServers = Cluster.BootstrapServers,
        RequestTimeout = TimeSpan.FromSeconds(15),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    }, Ct);

    private static byte[] Batch(int count, long producerId = -1, short epoch = -1, int sequence = -1, long timestamp = 1_000, string prefix = "v")
    {
        using var writer = new RecordBatchWriter { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence };
        for (int i = 0; i < count; i++)
        {
            writer.Append(timestamp + i, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"{prefix}{i}"));
        }
        return writer.Finish().ToArray();
    }

    private static ProduceRequest Produce(string topic, int partition, byte[] records, short acks = -1) => new()
    {
        Acks = acks,
        TimeoutMs = 5000,
        TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = records }] }],
    };

    private async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(KafkaProtocolClient client, string topic, int partition, byte[] records, int? nodeId = null)
    {
        int leader = nodeId ?? Cluster.DescribePartition(topic, partition)!.Value.LeaderId;
        var response = await client.SendAsync(Produce(topic, partition, records), leader, ConnectionPurpose.Produce, Ct);
        return response.Responses.Single().PartitionResponses.Single();
    }

    private FetchRequest Fetch(string topic, long offset, int maxWaitMs = 0, int minBytes = 0, int partitionMaxBytes = 1 << 20, int maxBytes = int.MaxValue) => new()
    {
        MaxWaitMs = maxWaitMs,
        MinBytes = minBytes,
        MaxBytes = maxBytes,
        Topics =
        [
            new FetchRequest.FetchTopic
            {
                Topic = topic,
                TopicId = Cluster.State.GetTopic(topic)!.Id,
                Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = offset, PartitionMaxBytes = partitionMaxBytes }],
            },
        ],
    };

    private static List<string> Values(ReadOnlyMemory<byte>? records, out List<long> offsets)
    {
        var values = new List<string>();
        offsets = [];
        using var reader = new RecordBatchReader();
        reader.Reset(records ?? ReadOnlyMemory<byte>.Empty);
        while (reader.TryReadBatch(out var batch))
        {
            foreach (var record in reader.ReadRecords(batch))
            {
                values.Add(Encoding.UTF8.GetString(record.Value));
                offsets.Add(record.Offset);
            }
        }
        return values;
    }

    [Fact]
    public async Task Raw_batches_produced_are_fetched_back_whole_with_offsets_and_watermarks()
    {
        string topic = EmbeddedClusterFixture.UniqueName("raw");
        Cluster.CreateTopic(topic, partitions: 1);
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;

        (await ProduceAsync(client, topic, 0, Batch(3, prefix: "a"))).BaseOffset.Should().Be(0);
        (await ProduceAsync(client, topic, 0, Batch(2, prefix: "b"))).BaseOffset.Should().Be(3);

        var response = await client.SendAsync(Fetch(topic, 1), leader, ConnectionPurpose.Fetch, Ct);
        var data = response.Responses.Single().Partitions.Single();
        data.ErrorCode.Should().Be(0);
        data.HighWatermark.Should().Be(5);
        data.LastStableOffset.Should().Be(5);
        data.LogStartOffset.Should().Be(0);
        // Whole batches from the one holding offset 1: the client skips what it did not ask for.
        Values(data.Records, out var offsets).Should().Equal("a0", "a1", "a2", "b0", "b1");
        offsets.Should().Equal(0, 1, 2, 3, 4);

        var limited = await client.SendAsync(Fetch(topic, 0, partitionMaxBytes: 1), leader, ConnectionPurpose.Fetch, Ct);
        Values(limited.Responses.Single().Partitions.Single().Records, out _).Should().Equal(["a0", "a1", "a2"], "the first batch is returned whole even over the limit (KIP-74)");

        var outOfRange = await client.SendAsync(Fetch(topic, 6), leader, ConnectionPurpose.Fetch, Ct);
        outOfRange.Responses.Single().Partitions.Single().ErrorCode.Should().Be((short)ErrorCode.OffsetOutOfRange);
    }

    [Fact]
    public async Task A_long_poll_fetch_returns_as_soon_as_data_arrives()
    {
        string topic = EmbeddedClusterFixture.UniqueName("poll");
        Cluster.CreateTopic(topic, partitions: 1);
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;
        await client.GetApiVersionsAsync(leader, Ct);

        var watch = Stopwatch.StartNew();
        var fetch = client.SendAsync(Fetch(topic, 0, maxWaitMs: 10_000, minBytes: 1), leader, ConnectionPurpose.Fetch, Ct);
        fetch.IsCompleted.Should().BeFalse();
        await ProduceAsync(client, topic, 0, Batch(1));
        var response = await fetch.WaitAsync(TimeSpan.FromSeconds(8), Ct);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(8));
        Values(response.Responses.Single().Partitions.Single().Records, out _).Should().Equal("v0");

        watch.Restart();
        var empty = await client.SendAsync(Fetch(topic, 1, maxWaitMs: 200, minBytes: 1), leader, ConnectionPurpose.Fetch, Ct);
        watch.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150), "an empty fetch waits for MaxWaitMs");
        empty.Responses.Single().Partitions.Single().Records!.Value.Length.Should().Be(0);
    }

    [Fact]
    public async Task Idempotent_retries_are_deduplicated_and_gaps_and_old_epochs_rejected()
    {
        string topic = EmbeddedClusterFixture.UniqueName("idem");
        Cluster.CreateTopic(topic, partitions: 1);
        await using var client = await ConnectAsync();
        var init = await client.SendAsync(new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = -1 }, Ct);
        init.ErrorCode.Should().Be(0);
        long pid = init.ProducerId;

        (await ProduceAsync(client, topic, 0, Batch(2, pid, 0, 0))).BaseOffset.Should().Be(0);
        (await ProduceAsync(client, topic, 0, Batch(3, pid, 0, 2))).BaseOffset.Should().Be(2);
        var retry = await ProduceAsync(client, topic, 0, Batch(2, pid, 0, 0));
        retry.ErrorCode.Should().Be(0);
        retry.BaseOffset.Should().Be(0, "a duplicate of a recent batch returns the original offset");
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(5);

        (await ProduceAsync(client, topic, 0, Batch(1, pid, 0, 9))).ErrorCode.Should().Be((short)ErrorCode.OutOfOrderSequenceNumber);
        (await ProduceAsync(client, topic, 0, Batch(1, pid, 1, 3))).ErrorCode.Should().Be((short)ErrorCode.OutOfOrderSequenceNumber, "a new epoch starts at sequence 0");
        (await ProduceAsync(client, topic, 0, Batch(1, pid, 1, 0))).ErrorCode.Should().Be(0);
        (await ProduceAsync(client, topic, 0, Batch(1, pid, 0, 5))).ErrorCode.Should().Be((short)ErrorCode.InvalidProducerEpoch);
    }

    [Fact]
    public async Task Bad_batches_unknown_partitions_and_wrong_leaders_get_kafkas_errors()
    {
        string topic = EmbeddedClusterFixture.UniqueName("errors");
        Cluster.CreateTopic(topic, partitions: 1, configs: new Dictionary<string, string?> { ["max.message.bytes"] = "200" });
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;

        byte[] corrupt = Batch(1);
        corrupt[^1] ^= 0xFF;
        (await ProduceAsync(client, topic, 0, corrupt)).ErrorCode.Should().Be((short)ErrorCode.CorruptMessage);
        (await ProduceAsync(client, topic, 0, Batch(20))).ErrorCode.Should().Be((short)ErrorCode.MessageTooLarge);
        (await ProduceAsync(client, topic, 7, Batch(1), leader)).ErrorCode.Should().Be((short)ErrorCode.UnknownTopicOrPartition);
        int other = Cluster.Brokers.First(b => b.NodeId != leader).NodeId;
        var wrong = await ProduceAsync(client, topic, 0, Batch(1), other);
        wrong.ErrorCode.Should().Be((short)ErrorCode.NotLeaderOrFollower);
        wrong.CurrentLeader.LeaderId.Should().Be(leader);
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(0);
    }

    [Fact]
    public async Task ListOffsets_answers_earliest_latest_by_timestamp_and_max_timestamp()
    {
        string topic = EmbeddedClusterFixture.UniqueName("offsets");
        Cluster.CreateTopic(topic, partitions: 1);
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;
        await ProduceAsync(client, topic, 0, Batch(3, timestamp: 1_000));   // offsets 0..2, ts 1000..1002
        await ProduceAsync(client, topic, 0, Batch(3, timestamp: 5_000));   // offsets 3..5, ts 5000..5002
        await ProduceAsync(client, topic, 0, Batch(1, timestamp: 2_000));   // offset 6

        async Task<ListOffsetsResponse.ListOffsetsPartitionResponse> List(long timestamp)
        {
            var response = await client.SendAsync(new ListOffsetsRequest
            {
                ReplicaId = -1,
                Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = timestamp }] }],
            }, leader, ConnectionPurpose.General, Ct);
            return response.Topics.Single().Partitions.Single();
        }

        (await List(-2)).Offset.Should().Be(0);
        (await List(-1)).Offset.Should().Be(7);
        (await List(1_001)).Offset.Should().Be(1);
        (await List(1_500)).Offset.Should().Be(3);
        (await List(9_000)).Offset.Should().Be(-1);
        var max = await List(-3);
        max.Offset.Should().Be(5);
        max.Timestamp.Should().Be(5_002);
    }

    [Fact]
    public async Task Moving_a_leader_bumps_the_epoch_and_fences_the_old_one()
    {
        string topic = EmbeddedClusterFixture.UniqueName("move");
        Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        await using var client = await ConnectAsync();
        var before = Cluster.DescribePartition(topic, 0)!.Value;
        await ProduceAsync(client, topic, 0, Batch(4));
        int next = before.Replicas.First(r => r != before.LeaderId);

        Cluster.MovePartitionLeader(topic, 0, next);

        var after = Cluster.DescribePartition(topic, 0)!.Value;
        after.LeaderId.Should().Be(next);
        after.LeaderEpoch.Should().Be(before.LeaderEpoch + 1);
        var metadata = await client.RefreshMetadataAsync([topic], Ct);
        metadata.Partition(topic, 0)!.LeaderId.Should().Be(next);
        metadata.Partition(topic, 0)!.LeaderEpoch.Should().Be(after.LeaderEpoch);
        (await ProduceAsync(client, topic, 0, Batch(1), before.LeaderId)).ErrorCode.Should().Be((short)ErrorCode.NotLeaderOrFollower);
        (await ProduceAsync(client, topic, 0, Batch(2))).BaseOffset.Should().Be(4);

        var epochs = await client.SendAsync(new OffsetForLeaderEpochRequest
        {
            ReplicaId = -1,
            Topics = [new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
            {
                Topic = topic,
                Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = 0, CurrentLeaderEpoch = after.LeaderEpoch, LeaderEpoch = before.LeaderEpoch }],
            }],
        }, next, ConnectionPurpose.General, Ct);
        var end = epochs.Topics.Single().Partitions.Single();
        end.ErrorCode.Should().Be(0);
        end.LeaderEpoch.Should().Be(before.LeaderEpoch);
        end.EndOffset.Should().Be(4, "the old epoch ended where the new leader started");

        var fenced = await client.SendAsync(new OffsetForLeaderEpochRequest
        {
            ReplicaId = -1,
            Topics = [new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
            {
                Topic = topic,
                Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = 0, CurrentLeaderEpoch = before.LeaderEpoch, LeaderEpoch = before.LeaderEpoch }],
            }],
        }, next, ConnectionPurpose.General, Ct);
        fenced.Topics.Single().Partitions.Single().ErrorCode.Should().Be((short)ErrorCode.FencedLeaderEpoch);
    }

    [Fact]
    public async Task Truncating_a_partition_cuts_the_log_at_a_batch_and_reports_where_older_epochs_end()
    {
        string topic = EmbeddedClusterFixture.UniqueName("truncate");
        Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        await using var client = await ConnectAsync();
        var before = Cluster.DescribePartition(topic, 0)!.Value;
        await ProduceAsync(client, topic, 0, Batch(4)); // offsets 0-3
        await ProduceAsync(client, topic, 0, Batch(4)); // offsets 4-7
        int next = before.Replicas.First(r => r != before.LeaderId);

        Cluster.TruncatePartition(topic, 0, 5, next).Should().Be(4, "the cut keeps whole batches");

        var after = Cluster.DescribePartition(topic, 0)!.Value;
        after.LeaderId.Should().Be(next);
        after.LeaderEpoch.Should().Be(before.LeaderEpoch + 1);
        after.HighWatermark.Should().Be(4);
        (await ProduceAsync(client, topic, 0, Batch(2), next)).BaseOffset.Should().Be(4, "the new leader appends from the cut");

        var epochs = await client.SendAsync(new OffsetForLeaderEpochRequest
        {
            ReplicaId = -1,
            Topics = [new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
            {
                Topic = topic,
                Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = 0, CurrentLeaderEpoch = after.LeaderEpoch, LeaderEpoch = before.LeaderEpoch }],
            }],
        }, next, ConnectionPurpose.General, Ct);
        var end = epochs.Topics.Single().Partitions.Single();
        end.ErrorCode.Should().Be(0);
        end.LeaderEpoch.Should().Be(before.LeaderEpoch);
        end.EndOffset.Should().Be(4, "a consumer at offset 8 of the old epoch learns that its log diverged at 4");
    }

    [Fact]
    public async Task Injected_errors_fail_the_next_requests_without_applying_them()
    {
        string topic = EmbeddedClusterFixture.UniqueName("inject");
        Cluster.CreateTopic(topic, partitions: 1);
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;

        Cluster.InjectErrors(ApiKey.Produce, ErrorCode.NotEnoughReplicas, count: 2, nodeId: leader);
        (await ProduceAsync(client, topic, 0, Batch(1))).ErrorCode.Should().Be((short)ErrorCode.NotEnoughReplicas);
        (await ProduceAsync(client, topic, 0, Batch(1))).ErrorCode.Should().Be((short)ErrorCode.NotEnoughReplicas);
        (await ProduceAsync(client, topic, 0, Batch(1))).ErrorCode.Should().Be(0);
        Cluster.DescribePartition(topic, 0)!.Value.HighWatermark.Should().Be(1);
    }

    [Fact]
    public async Task An_unsupported_ApiVersions_version_is_answered_with_a_v0_body_listing_the_ranges()
    {
        var broker = Cluster.Brokers[0];
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(broker.Host, broker.Port, Ct);
        // ApiVersions v99, header v2: key, version, correlation id, client id "x", empty tag section.
        byte[] request = [0, 0, 0, 12, 0, 18, 0, 99, 0, 0, 0, 42, 0, 1, (byte)'x', 0];
        await socket.SendAsync(request, Ct);
        byte[] size = new byte[4];
        await ReceiveExactlyAsync(socket, size);
        byte[] frame = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await ReceiveExactlyAsync(socket, frame);

        var reader = new ProtocolReader(frame);
        ResponseHeader.Read(ref reader, 0).CorrelationId.Should().Be(42);
        var body = ApiVersionsResponse.Read(ref reader, 0);
        body.ErrorCode.Should().Be((short)ErrorCode.UnsupportedVersion);
        body.ApiKeys.Should().Contain(k => k.ApiKey == (short)ApiKey.ApiVersions && k.MaxVersion == ApiVersionsRequest.HighestStableVersion);
        body.ApiKeys.Should().Contain(k => k.ApiKey == (short)ApiKey.Fetch);
    }

    [Fact]
    public async Task A_stopped_broker_refuses_connections_and_its_partitions_move()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 2 }, Ct);
        cluster.CreateTopic("t", partitions: 2, replicationFactor: 2);
        var broker = cluster.Brokers[1];
        var led = Enumerable.Range(0, 2).Single(p => cluster.DescribePartition("t", p)!.Value.LeaderId == broker.NodeId);

        await cluster.StopBrokerAsync(broker.NodeId, Ct);

        broker.IsRunning.Should().BeFalse();
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var connect = async () => await socket.ConnectAsync(broker.Host, broker.Port, Ct);
            (await connect.Should().ThrowAsync<SocketException>()).Which.SocketErrorCode.Should().Be(SocketError.ConnectionRefused);
        }
        var moved = cluster.DescribePartition("t", led)!.Value;
        moved.LeaderId.Should().Be(cluster.Brokers[0].NodeId);
        moved.LeaderEpoch.Should().Be(1);

        await cluster.StartBrokerAsync(broker.NodeId, Ct);
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await again.ConnectAsync(broker.Host, broker.Port, Ct);
        again.Connected.Should().BeTrue();
    }

    [Fact]
    public async Task Fetch_sessions_answer_incrementally_with_only_what_changed()
    {
        string topic = EmbeddedClusterFixture.UniqueName("session");
        Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 1);
        Cluster.MovePartitionLeader(topic, 1, Cluster.DescribePartition(topic, 0)!.Value.LeaderId);
        await using var client = await ConnectAsync();
        int leader = Cluster.DescribePartition(topic, 0)!.Value.LeaderId;
        Guid id = Cluster.State.GetTopic(topic)!.Id;
        await ProduceAsync(client, topic, 0, Batch(1, prefix: "p0-"));

        FetchRequest Request(int sessionId, int epoch, int[] partitions, int[]? forget = null) => new()
        {
            MaxWaitMs = 0,
            SessionId = sessionId,
            SessionEpoch = epoch,
            Topics = partitions.Length == 0 ? [] : [new FetchRequest.FetchTopic
            {
                Topic = topic,
                TopicId = id,
                Partitions = [.. partitions.Select(p => new FetchRequest.FetchPartition { Partition = p, FetchOffset = 0, PartitionMaxBytes = 1 << 20 })],
            }],
            ForgottenTopicsData = forget is null ? [] : [new FetchRequest.ForgottenTopic { Topic = topic, TopicId = id, Partitions = [.. forget] }],
        };

        var full = await client.SendAsync(Request(0, 0, [0, 1]), leader, ConnectionPurpose.Fetch, Ct);
        full.ErrorCode.Should().Be(0);
        full.SessionId.Should().NotBe(0);
        full.Responses.Single().Partitions.Select(p => p.PartitionIndex).Should().Equal(0, 1);
        int session = full.SessionId;

        var nothing = await client.SendAsync(Request(session, 1, []), leader, ConnectionPurpose.Fetch, Ct);
        nothing.ErrorCode.Should().Be(0);
        nothing.Responses.SelectMany(t => t.Partitions).Select(p => p.PartitionIndex).Should().Equal([0], "partition 0 still has records at the session's fetch offset; partition 1 has nothing new");

        await ProduceAsync(client, topic, 1, Batch(1, prefix: "p1-"));
        var changed = await client.SendAsync(Request(session, 2, [], forget: [0]), leader, ConnectionPurpose.Fetch, Ct);
        var partitions = changed.Responses.SelectMany(t => t.Partitions).ToList();
        partitions.Select(p => p.PartitionIndex).Should().Equal(1);
        Values(partitions[0].Records, out _).Should().Equal("p1-0");

        (await client.SendAsync(Request(session, 7, []), leader, ConnectionPurpose.Fetch, Ct)).ErrorCode.Should().Be((short)ErrorCode.InvalidFetchSessionEpoch);
        (await client.SendAsync(Request(session + 1000, 1, []), leader, ConnectionPurpose.Fetch, Ct)).ErrorCode.Should().Be((short)ErrorCode.FetchSessionIdNotFound);

        var closed = await client.SendAsync(Request(session, -1, [0]), leader, ConnectionPurpose.Fetch, Ct);
        closed.SessionId.Should().Be(0);
        (await client.SendAsync(Request(session, 3, []), leader, ConnectionPurpose.Fetch, Ct)).ErrorCode.Should().Be((short)ErrorCode.FetchSessionIdNotFound);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), Ct);
            if (n == 0)
            {
                throw new IOException("Connection closed.");
            }
            read += n;
        }
    }
}
