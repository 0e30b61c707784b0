using System.Buffers;
using KafkaClient.Errors;
using KafkaClient.Protocol;

namespace KafkaClient.Consumer.Assignors;

/// <summary>
/// The subscription user data of the Java client's sticky assignors, byte for byte.
/// </summary>
/// <remarks>
/// <c>sticky</c> (Java's <c>StickyAssignor</c>, schema <c>STICKY_ASSIGNOR_USER_DATA_V1</c>): the member's previous
/// assignment as an int32 count of topics, each an int16-length string topic, an int32 count and int32 partitions,
/// followed by the int32 generation of that assignment. Version 0 lacked the generation; both are read.
/// <c>cooperative-sticky</c> (Java's <c>CooperativeStickyAssignor</c>): just the int32 generation, which only
/// matters for subscriptions older than version 2 since later ones carry the generation themselves.
/// </remarks>
internal static class StickyUserData
{
    /// <summary>Encodes a sticky member's previous assignment and its generation.</summary>
    public static byte[] WritePreviousAssignment(IReadOnlyList<TopicPartition> partitions, int generation)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(output);
        var byTopic = partitions.GroupBy(tp => tp.Topic, StringComparer.Ordinal).ToList();
        writer.WriteArrayLength(byTopic.Count, compact: false);
        foreach (var topic in byTopic)
        {
            writer.WriteString(topic.Key, compact: false);
            var numbers = topic.ToList();
            writer.WriteArrayLength(numbers.Count, compact: false);
            foreach (var tp in numbers)
            {
                writer.WriteInt32(tp.Partition);
            }
        }
        writer.WriteInt32(generation);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes a sticky member's previous assignment: no bytes mean no history; bytes that fit neither version
    /// are ignored with generation -1, as Java does.
    /// </summary>
    public static StickyMemberHistory ReadPreviousAssignment(ReadOnlyMemory<byte>? userData)
    {
        if (userData is not { Length: > 0 } bytes)
        {
            return new StickyMemberHistory([], null);
        }
        try
        {
            var reader = new ProtocolReader(bytes);
            var partitions = ReadTopicPartitions(ref reader);
            return new StickyMemberHistory(partitions, reader.ReadInt32());
        }
        catch (KafkaProtocolException)
        {
        }
        try
        {
            var reader = new ProtocolReader(bytes);
            return new StickyMemberHistory(ReadTopicPartitions(ref reader), null);
        }
        catch (KafkaProtocolException)
        {
            return new StickyMemberHistory([], -1);
        }
    }

    /// <summary>Encodes a cooperative-sticky member's generation.</summary>
    public static byte[] WriteGeneration(int generation)
    {
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, generation);
        return bytes;
    }

    /// <summary>Decodes a cooperative-sticky member's generation: null without bytes, -1 when unreadable.</summary>
    public static int? ReadGeneration(ReadOnlyMemory<byte>? userData)
    {
        if (userData is not { } bytes)
        {
            return null;
        }
        return bytes.Length >= 4 ? System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.Span) : -1;
    }

    private static List<TopicPartition> ReadTopicPartitions(ref ProtocolReader reader)
    {
        int topicCount = reader.ReadArrayLength(compact: false);
        if (topicCount < 0)
        {
            throw new KafkaProtocolException("Null topic array in sticky assignor user data.");
        }
        var partitions = new List<TopicPartition>();
        for (int i = 0; i < topicCount; i++)
        {
            string topic = reader.ReadString(compact: false) ?? throw new KafkaProtocolException("Null topic in sticky assignor user data.");
            int count = reader.ReadArrayLength(compact: false);
            if (count < 0)
            {
                throw new KafkaProtocolException("Null partition array in sticky assignor user data.");
            }
            for (int j = 0; j < count; j++)
            {
                partitions.Add(new TopicPartition(topic, reader.ReadInt32()));
            }
        }
        return partitions;
    }
}
