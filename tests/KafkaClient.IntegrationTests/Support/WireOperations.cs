using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.IntegrationTests.Support;

/// <summary>A batch as fetched: its header fields and its records, materialised.</summary>
public sealed record FetchedBatch(long BaseOffset, int RecordCount, CompressionType Compression, TimestampType TimestampType, long MaxTimestamp, IReadOnlyList<TestRecord> Records);

/// <summary>Produce, Fetch and ListOffsets through the raw protocol API, one partition at a time.</summary>
public static class WireOperations
{
    public const int PartitionMaxBytes = 4 * 1024 * 1024;

    /// <summary>The leader of <paramref name="topic"/>[<paramref name="partition"/>] and the topic id, from fresh metadata.</summary>
    public static async Task<(int Leader, Guid TopicId)> LocateAsync(this KafkaProtocolClient client, string topic, int partition, CancellationToken ct)
    {
        var metadata = await client.RefreshMetadataAsync([topic], ct);
        var t = metadata.Topics[topic];
        t.Error.Should().Be(ErrorCode.None);
        var p = metadata.Partition(topic, partition);
        p.Should().NotBeNull();
        p!.LeaderId.Should().BeGreaterThan(0, "the mock fixture assigns leaders");
        return (p.LeaderId, t.TopicId);
    }

    public static ProduceRequest ProduceRequestFor(string topic, int partition, ReadOnlyMemory<byte> batch, short acks) => new()
    {
        Acks = acks,
        TimeoutMs = 10_000,
        TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = batch }] }],
    };

    /// <summary>Produces one batch and returns the partition's response, asserting it is about the right partition.</summary>
    public static async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(this KafkaProtocolClient client, int leader, string topic, int partition, ReadOnlyMemory<byte> batch, short acks, CancellationToken ct)
    {
        var response = await client.SendAsync(ProduceRequestFor(topic, partition, batch, acks), leader, ConnectionPurpose.Produce, ct);
        response.Responses.Should().ContainSingle().Which.Name.Should().Be(topic);
        var result = response.Responses[0].PartitionResponses.Should().ContainSingle().Subject;
        result.Index.Should().Be(partition);
        return result;
    }

    /// <summary>One Fetch of one partition from <paramref name="offset"/>, at the version negotiated with the leader.</summary>
    public static async Task<FetchResponse.PartitionData> FetchOnceAsync(this KafkaProtocolClient client, int leader, string topic, Guid topicId, int partition, long offset, int maxWaitMs, CancellationToken ct)
    {
        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = maxWaitMs,
            MinBytes = 1,
            MaxBytes = PartitionMaxBytes,
            // Fetch v13+ addresses topics by id only, older versions by name only: set both and let
            // the version decide which goes on the wire.
            Topics = [new FetchRequest.FetchTopic { Topic = topic, TopicId = topicId, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = PartitionMaxBytes }] }],
        };
        var response = await client.SendAsync(request, leader, ConnectionPurpose.Fetch, ct);
        response.ErrorCode.Should().Be(0);
        var topicResponse = response.Responses.Should().ContainSingle().Subject;
        short version = (await client.GetApiVersionsAsync(leader, ct)).Select(request);
        if (version >= 13)
        {
            topicResponse.TopicId.Should().Be(topicId, "Fetch v13+ answers by topic id");
        }
        else
        {
            topicResponse.Topic.Should().Be(topic);
        }
        var data = topicResponse.Partitions.Should().ContainSingle().Subject;
        data.PartitionIndex.Should().Be(partition);
        ((ErrorCode)data.ErrorCode).Should().Be(ErrorCode.None);
        return data;
    }

    /// <summary>Decodes every batch of a record set.</summary>
    public static List<FetchedBatch> Decode(ReadOnlyMemory<byte> recordSet)
    {
        var batches = new List<FetchedBatch>();
        using var reader = new RecordBatchReader();
        reader.Reset(recordSet);
        while (reader.TryReadBatch(out var view))
        {
            var records = new List<TestRecord>(view.RecordCount);
            foreach (var record in reader.ReadRecords(view))
            {
                records.Add(TestRecord.From(record));
            }
            batches.Add(new FetchedBatch(view.BaseOffset, view.RecordCount, view.Compression, view.TimestampType, view.MaxTimestamp, records));
        }
        return batches;
    }

    /// <summary>
    /// Fetches from <paramref name="fromOffset"/> until <paramref name="count"/> records have been
    /// read (the mock returns at most one batch per partition per fetch), or fails at the deadline.
    /// </summary>
    public static async Task<List<FetchedBatch>> FetchBatchesAsync(this KafkaProtocolClient client, int leader, string topic, Guid topicId, int partition, long fromOffset, int count, TimeSpan timeout, CancellationToken ct)
    {
        var batches = new List<FetchedBatch>();
        int read = 0;
        long offset = fromOffset;
        var deadline = DateTime.UtcNow + timeout;
        while (read < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Fetched {read} of {count} records of {topic}[{partition}] from offset {fromOffset} within {timeout.TotalSeconds:0.#} s.");
            }
            var data = await client.FetchOnceAsync(leader, topic, topicId, partition, offset, maxWaitMs: 100, ct);
            foreach (var batch in Decode(data.Records ?? ReadOnlyMemory<byte>.Empty))
            {
                // A fetch may start inside a batch; records before the fetch offset are not ours to count.
                var wanted = batch.Records.Where(r => r.Offset >= offset).ToList();
                batches.Add(batch with { Records = wanted });
                read += wanted.Count;
                offset = batch.BaseOffset + batch.RecordCount;
                if (wanted.Count > 0)
                {
                    offset = Math.Max(offset, wanted[^1].Offset + 1);
                }
            }
        }
        return batches;
    }

    /// <summary>ListOffsets for one partition: -2 earliest, -1 latest.</summary>
    public static async Task<long> ListOffsetAsync(this KafkaProtocolClient client, int leader, string topic, int partition, long timestamp, CancellationToken ct)
    {
        var response = await client.SendAsync(new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = partition, Timestamp = timestamp }] }],
        }, leader, ConnectionPurpose.General, ct);
        var result = response.Topics.Should().ContainSingle().Subject.Partitions.Should().ContainSingle().Subject;
        result.PartitionIndex.Should().Be(partition);
        ((ErrorCode)result.ErrorCode).Should().Be(ErrorCode.None);
        return result.Offset;
    }

    /// <summary>Polls <paramref name="condition"/> until it returns true or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20, ct);
        }
    }
}
