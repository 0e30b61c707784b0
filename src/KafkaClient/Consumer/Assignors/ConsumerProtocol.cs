using System.Buffers;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// The bytes of the "consumer" group protocol: a <see cref="Subscription"/> in JoinGroup's protocol metadata
/// and an <see cref="Assignment"/> in SyncGroup, each an int16 version followed by
/// <see cref="ConsumerProtocolSubscription"/> or <see cref="ConsumerProtocolAssignment"/> at that version.
/// </summary>
/// <remarks>
/// Matches Java's <c>ConsumerProtocol</c>: writes the highest version (3), sorts subscribed topics and owned
/// partitions, groups partitions by topic. Reads any version from 0 up; a version newer than 3 is read as
/// version 3 and whatever follows the fields it knows is ignored, since newer versions may only append fields.
/// </remarks>
internal static class ConsumerProtocol
{
    /// <summary>The protocol type of consumer groups in JoinGroup.</summary>
    public const string ProtocolType = "consumer";

    /// <summary>The version written by default, the newest this client knows.</summary>
    public const short HighestVersion = ConsumerProtocolSubscription.HighestVersion;

    /// <summary>Encodes <paramref name="subscription"/> at <paramref name="version"/> (the newest by default).</summary>
    public static byte[] SerializeSubscription(Subscription subscription, short version = HighestVersion)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        CheckWriteVersion(version);
        var data = new ConsumerProtocolSubscription
        {
            Topics = subscription.Topics.Distinct().Order(StringComparer.Ordinal).ToList(),
            UserData = subscription.UserData,
            GenerationId = subscription.GenerationId,
            RackId = subscription.RackId,
        };
        foreach (var group in subscription.OwnedPartitions.Order(TopicPartitionOrder.Instance).GroupBy(tp => tp.Topic))
        {
            data.OwnedPartitions.Add(new ConsumerProtocolSubscription.TopicPartition
            {
                Topic = group.Key,
                Partitions = group.Select(tp => tp.Partition).Distinct().ToList(),
            });
        }
        return Serialize(version, data.ComputeSize(version), data.Write);
    }

    /// <summary>Decodes a subscription of any version; <see cref="Subscription.GroupInstanceId"/> is left null.</summary>
    /// <exception cref="KafkaProtocolException">The bytes are truncated or malformed, or the version is negative.</exception>
    public static Subscription DeserializeSubscription(ReadOnlyMemory<byte> bytes) => DeserializeSubscription(bytes, out _);

    /// <summary>Decodes a subscription of any version and reports the version it was written at.</summary>
    /// <exception cref="KafkaProtocolException">The bytes are truncated or malformed, or the version is negative.</exception>
    public static Subscription DeserializeSubscription(ReadOnlyMemory<byte> bytes, out short writtenVersion)
    {
        var reader = new ProtocolReader(bytes);
        writtenVersion = ReadVersion(ref reader, "subscription");
        var data = ConsumerProtocolSubscription.Read(ref reader, Math.Min(writtenVersion, ConsumerProtocolSubscription.HighestVersion));
        var owned = new List<TopicPartition>();
        foreach (var topic in data.OwnedPartitions)
        {
            foreach (int partition in topic.Partitions)
            {
                owned.Add(new TopicPartition(topic.Topic, partition));
            }
        }
        return new Subscription(data.Topics)
        {
            UserData = data.UserData,
            OwnedPartitions = owned,
            GenerationId = data.GenerationId,
            RackId = string.IsNullOrEmpty(data.RackId) ? null : data.RackId,
        };
    }

    /// <summary>Encodes <paramref name="assignment"/> at <paramref name="version"/> (the newest by default).</summary>
    public static byte[] SerializeAssignment(Assignment assignment, short version = HighestVersion)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        CheckWriteVersion(version);
        var data = new ConsumerProtocolAssignment { UserData = assignment.UserData };
        var byTopic = new Dictionary<string, ConsumerProtocolAssignment.TopicPartition>(StringComparer.Ordinal);
        foreach (var tp in assignment.Partitions)
        {
            if (!byTopic.TryGetValue(tp.Topic, out var topic))
            {
                topic = new ConsumerProtocolAssignment.TopicPartition { Topic = tp.Topic };
                byTopic.Add(tp.Topic, topic);
                data.AssignedPartitions.Add(topic);
            }
            topic.Partitions.Add(tp.Partition);
        }
        return Serialize(version, data.ComputeSize(version), data.Write);
    }

    /// <summary>
    /// Decodes an assignment of any version. Zero bytes decode as an empty assignment: that is what the
    /// coordinator hands a member the leader left out.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The bytes are truncated or malformed, or the version is negative.</exception>
    public static Assignment DeserializeAssignment(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return new Assignment([]);
        }
        var reader = new ProtocolReader(bytes);
        short version = ReadVersion(ref reader, "assignment");
        var data = ConsumerProtocolAssignment.Read(ref reader, Math.Min(version, ConsumerProtocolAssignment.HighestVersion));
        var partitions = new List<TopicPartition>();
        foreach (var topic in data.AssignedPartitions)
        {
            foreach (int partition in topic.Partitions)
            {
                partitions.Add(new TopicPartition(topic.Topic, partition));
            }
        }
        return new Assignment(partitions, data.UserData);
    }

    private delegate void WriteBody(ref ProtocolWriter writer, short version);

    private static byte[] Serialize(short version, int bodySize, WriteBody write)
    {
        var output = new ArrayBufferWriter<byte>(bodySize + 2);
        var writer = new ProtocolWriter(output);
        writer.WriteInt16(version);
        write(ref writer, version);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    private static short ReadVersion(ref ProtocolReader reader, string what)
    {
        short version = reader.ReadInt16();
        if (version < 0)
        {
            throw new KafkaProtocolException($"Unsupported consumer protocol {what} version {version}.");
        }
        return version;
    }

    private static void CheckWriteVersion(short version)
    {
        if (version < 0 || version > HighestVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, $"The consumer protocol has versions 0 to {HighestVersion}.");
        }
    }
}
