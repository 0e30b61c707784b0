// Quickstart: connect (to KAFKA_BOOTSTRAP_SERVERS, or to an embedded cluster started here), show the
// cluster and the negotiated API versions, produce records with every compression codec with the
// producer, and read them back with a consumer in a group.
using System.Text;
using KafkaClient;
using KafkaClient.Cluster;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Compression;
using KafkaClient.Protocol.Messages;
using KafkaClient.Producer;
using KafkaClient.Testing;

const string Topic = "quickstart";
using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
var ct = cts.Token;

string? bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
EmbeddedKafkaCluster? localCluster = null;
if (string.IsNullOrWhiteSpace(bootstrap))
{
    localCluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 3 }, ct);
    bootstrap = localCluster.BootstrapServers;
    Console.WriteLine($"No KAFKA_BOOTSTRAP_SERVERS given: started an embedded 3-broker cluster at {bootstrap}");
}

try
{
    await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = bootstrap, ClientId = "quickstart" }, ct);

    Console.WriteLine();
    Console.WriteLine($"Cluster {client.Metadata.ClusterId ?? "(no id)"}, controller {client.Metadata.ControllerId}");
    foreach (var broker in client.Metadata.Brokers)
    {
        Console.WriteLine($"  broker {broker.NodeId} at {broker.Host}:{broker.Port}{(broker.Rack is null ? "" : $" rack {broker.Rack}")}");
    }

    int firstBroker = client.Metadata.Brokers[0].NodeId;
    var versions = await client.GetApiVersionsAsync(firstBroker, ct);
    Console.WriteLine();
    Console.WriteLine($"API versions negotiated with broker {firstBroker} (ours / broker's range):");
    foreach (var api in KafkaApis.All)
    {
        if (versions.BrokerRange(api.Key) is { } range)
        {
            string chosen = versions.TrySelect(api, out short version) ? $"v{version}" : "none in common";
            Console.WriteLine($"  {api.Name,-28} {chosen,-16} broker v{range.Min}-{range.Max}");
        }
    }

    await EnsureTopicAsync(client, ct);
    var metadata = await client.RefreshMetadataAsync([Topic], ct);
    var partition = metadata.Partition(Topic, 0) ?? throw new InvalidOperationException($"Topic {Topic} has no partition 0.");
    Console.WriteLine();
    Console.WriteLine($"Writing to {Topic}[0], leader broker {partition.LeaderId}:");

    long firstOffset = long.MaxValue;
    foreach (var codec in new[] { CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd })
    {
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = bootstrap, ClientId = "quickstart", Compression = codec });
        var deliveries = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => producer.ProduceAsync(new TopicPartition(Topic, 0), new Message<string, string>
        {
            Key = $"key-{i}",
            Value = $"hello #{i} compressed with {codec}",
            Headers = [new Header("codec", Encoding.UTF8.GetBytes(codec.ToString()))],
        }, ct).AsTask()));
        Console.WriteLine($"  {codec,-7} 3 records at offsets {string.Join(", ", deliveries.Select(d => d.Offset))}");
        firstOffset = Math.Min(firstOffset, deliveries.Min(d => d.Offset));
    }

    Console.WriteLine();
    string group = "quickstart-" + Guid.NewGuid().ToString("N")[..8];
    Console.WriteLine($"Reading them back as a member of consumer group {group}:");
    await using (var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
    {
        BootstrapServers = bootstrap,
        ClientId = "quickstart",
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        CommitStrategy = CommitStrategy.Manual,
        OnRebalance = (e, _) =>
        {
            Console.WriteLine($"  [group] {e.Kind}: {string.Join(", ", e.Partitions)}");
            return ValueTask.CompletedTask;
        },
    }))
    {
        consumer.Subscribe([Topic]);
        int read = 0;
        await foreach (var record in consumer.ConsumeAllAsync(ct))
        {
            if (record.Partition != 0 || record.Offset < firstOffset)
            {
                continue; // records written by earlier runs against the same cluster
            }
            string header = record.Headers.TryGetLastValue("codec", out var codecName) ? $" [codec={Encoding.UTF8.GetString(codecName.Span)}]" : "";
            Console.WriteLine($"  offset {record.Offset,3}  {record.Key} => {record.Value}{header}");
            if (++read == 15)
            {
                break;
            }
        }
        var committed = await consumer.CommitAsync(ct);
        Console.WriteLine($"  committed {string.Join(", ", committed)}; lag of {Topic}[0]: {consumer.Lag(new TopicPartition(Topic, 0))}");
    }

    var listOffsets = await client.SendAsync(new ListOffsetsRequest
    {
        ReplicaId = -1,
        Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = Topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
    }, partition.LeaderId, ConnectionPurpose.General, ct);
    Console.WriteLine();
    Console.WriteLine($"Latest offset of {Topic}[0]: {listOffsets.Topics[0].Partitions[0].Offset}. Done.");
    return 0;
}
finally
{
    if (localCluster is not null)
    {
        await localCluster.DisposeAsync();
    }
}

static async Task EnsureTopicAsync(KafkaProtocolClient client, CancellationToken ct)
{
    var response = await client.SendAsync(new CreateTopicsRequest
    {
        TimeoutMs = 10_000,
        Topics = [new CreateTopicsRequest.CreatableTopic { Name = Topic, NumPartitions = 3, ReplicationFactor = -1 }],
    }, client.Metadata.ControllerId >= 0 ? client.Metadata.ControllerId : client.Metadata.Brokers[0].NodeId, ConnectionPurpose.General, ct);
    var error = (ErrorCode)response.Topics[0].ErrorCode;
    if (error is not ErrorCode.None and not ErrorCode.TopicAlreadyExists)
    {
        throw KafkaException.FromErrorCode(error, $"Could not create topic {Topic}.");
    }
}
