using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Perf;

/// <summary>
/// Makes sure a topic exists before a run: through the mock broker process's control channel when
/// we own it, else with CreateTopics (our raw protocol client), else — brokers without the admin API,
/// like librdkafka's mock — by asking Metadata to auto-create it, and saying so.
/// </summary>
internal static class Topics
{
    /// <summary>Returns the topic's partition count once it exists.</summary>
    public static async Task<int> EnsureAsync(Broker broker, string topic, int partitions, CancellationToken cancellationToken = default)
    {
        var options = KafkaClientOptions.Default with { BootstrapServers = broker.Bootstrap, ClientId = "kafkaclient-perf-setup" };
        await using var client = await KafkaProtocolClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);

        var existing = await PartitionCountAsync(client, topic, cancellationToken).ConfigureAwait(false);
        if (existing > 0)
        {
            if (existing != partitions)
            {
                Console.Error.WriteLine($"Topic {topic} already exists with {existing} partitions (asked for {partitions}); using it as is.");
            }
            return existing;
        }

        if (await broker.TryCreateTopicThroughControlAsync(topic, partitions).ConfigureAwait(false))
        {
            return await WaitForTopicAsync(client, topic, autoCreate: false, cancellationToken).ConfigureAwait(false);
        }

        if (await TryCreateTopicsAsync(client, topic, partitions, cancellationToken).ConfigureAwait(false))
        {
            return await WaitForTopicAsync(client, topic, autoCreate: false, cancellationToken).ConfigureAwait(false);
        }

        Console.Error.WriteLine($"The broker does not support CreateTopics: relying on auto-creation of {topic} (the broker decides the partition count).");
        int count = await WaitForTopicAsync(client, topic, autoCreate: true, cancellationToken).ConfigureAwait(false);
        if (count != partitions)
        {
            Console.Error.WriteLine($"Topic {topic} was auto-created with {count} partitions, not the {partitions} asked for.");
        }
        return count;
    }

    private static async Task<int> PartitionCountAsync(KafkaProtocolClient client, string topic, CancellationToken cancellationToken, bool autoCreate = false)
    {
        var metadata = await client.RefreshMetadataAsync([topic], cancellationToken, allowAutoTopicCreation: autoCreate).ConfigureAwait(false);
        return metadata.Topics.TryGetValue(topic, out var t) && t.Error == ErrorCode.None && t.Partitions.Count > 0
               && t.Partitions.All(p => p.LeaderId >= 0)
            ? t.Partitions.Count
            : 0;
    }

    private static async Task<bool> TryCreateTopicsAsync(KafkaProtocolClient client, string topic, int partitions, CancellationToken cancellationToken)
    {
        var metadata = client.Metadata;
        int controller = metadata.ControllerId >= 0 && metadata.Broker(metadata.ControllerId) is not null
            ? metadata.ControllerId
            : metadata.Brokers[0].NodeId;
        var versions = await client.GetApiVersionsAsync(controller, cancellationToken).ConfigureAwait(false);
        if (versions.BrokerRange(ApiKey.CreateTopics) is null)
        {
            return false;
        }
        var request = new CreateTopicsRequest
        {
            TimeoutMs = 30_000,
            Topics =
            [
                new CreateTopicsRequest.CreatableTopic
                {
                    Name = topic,
                    NumPartitions = partitions,
                    ReplicationFactor = (short)Math.Min(3, Math.Max(1, metadata.Brokers.Count)),
                },
            ],
        };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(45));
            var response = await client.SendAsync(request, controller, ConnectionPurpose.General, timeout.Token).ConfigureAwait(false);
            foreach (var result in response.Topics)
            {
                var error = (ErrorCode)result.ErrorCode;
                if (error is not (ErrorCode.None or ErrorCode.TopicAlreadyExists))
                {
                    throw new InvalidOperationException($"CreateTopics {topic} failed: {error} {result.ErrorMessage}");
                }
            }
            return true;
        }
        catch (KafkaConnectionException)
        {
            // Brokers that advertise but do not implement the API close the connection.
            return false;
        }
    }

    private static async Task<int> WaitForTopicAsync(KafkaProtocolClient client, string topic, bool autoCreate, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            int count = await PartitionCountAsync(client, topic, cancellationToken, autoCreate).ConfigureAwait(false);
            if (count > 0)
            {
                return count;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"Topic {topic} did not appear in the metadata within 60 s.");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>End offsets (high watermarks) of a topic, summed, to check that every record landed.</summary>
internal static class Watermarks
{
    public static async Task<long?> SumEndOffsetsAsync(string bootstrap, string topic)
    {
        try
        {
            var options = KafkaClientOptions.Default with { BootstrapServers = bootstrap, ClientId = "kafkaclient-perf-verify" };
            await using var client = await KafkaProtocolClient.ConnectAsync(options).ConfigureAwait(false);
            var metadata = await client.RefreshMetadataAsync([topic]).ConfigureAwait(false);
            if (!metadata.Topics.TryGetValue(topic, out var t) || t.Error != ErrorCode.None)
            {
                return null;
            }
            long sum = 0;
            foreach (var byLeader in t.Partitions.GroupBy(p => p.LeaderId))
            {
                var request = new ListOffsetsRequest
                {
                    ReplicaId = -1,
                    Topics =
                    [
                        new ListOffsetsRequest.ListOffsetsTopic
                        {
                            Name = topic,
                            Partitions = byLeader.Select(p => new ListOffsetsRequest.ListOffsetsPartition
                            {
                                PartitionIndex = p.Partition,
                                Timestamp = -1, // latest
                            }).ToList(),
                        },
                    ],
                };
                var response = await client.SendAsync(request, byLeader.Key).ConfigureAwait(false);
                foreach (var p in response.Topics.SelectMany(x => x.Partitions))
                {
                    if (p.ErrorCode != 0)
                    {
                        Console.Error.WriteLine($"ListOffsets {topic}/{p.PartitionIndex}: error {(ErrorCode)p.ErrorCode}");
                        return null;
                    }
                    sum += p.Offset;
                }
            }
            return sum;
        }
        catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
        {
            Console.Error.WriteLine($"Could not read the end offsets of {topic}: {ex.Message}");
            return null;
        }
    }
}
