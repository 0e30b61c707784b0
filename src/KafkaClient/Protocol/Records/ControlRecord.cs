using System.Buffers.Binary;
using KafkaClient.Errors;

namespace KafkaClient.Protocol.Records;

/// <summary>The kind of a control record, from the second int16 of its key.</summary>
public enum ControlRecordType : short
{
    /// <summary>Transaction marker: the producer's transaction was aborted.</summary>
    Abort = 0,

    /// <summary>Transaction marker: the producer's transaction was committed.</summary>
    Commit = 1,

    /// <summary>KRaft: the partition's leader changed (internal topics only).</summary>
    LeaderChange = 2,

    /// <summary>KRaft: first record of a snapshot.</summary>
    SnapshotHeader = 3,

    /// <summary>KRaft: last record of a snapshot.</summary>
    SnapshotFooter = 4,

    /// <summary>KRaft: the kraft.version feature level.</summary>
    KRaftVersion = 5,

    /// <summary>KRaft: the set of voters.</summary>
    KRaftVoters = 6,
}

/// <summary>
/// A transaction marker's content: whether the transaction committed or aborted, and the epoch
/// of the transaction coordinator that wrote it.
/// </summary>
/// <param name="Type"><see cref="ControlRecordType.Commit"/> or <see cref="ControlRecordType.Abort"/>.</param>
/// <param name="CoordinatorEpoch">Epoch of the writing coordinator.</param>
public readonly record struct EndTransactionMarker(ControlRecordType Type, int CoordinatorEpoch);

/// <summary>
/// Encodes and decodes control records, the records of a batch whose control attribute is set.
/// The key is <c>version int16 (0) | type int16</c>; a transaction marker's value is
/// <c>version int16 (0) | coordinatorEpoch int32</c>.
/// </summary>
public static class ControlRecord
{
    /// <summary>Size of a control record key.</summary>
    public const int KeySize = 4;

    /// <summary>Size of a transaction marker's value.</summary>
    public const int EndTransactionMarkerValueSize = 6;

    /// <summary>Writes a version-0 control key of <paramref name="type"/>.</summary>
    public static void WriteKey(Span<byte> destination, ControlRecordType type)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteInt16BigEndian(destination[2..], (short)type);
    }

    /// <summary>Writes a version-0 transaction marker value.</summary>
    public static void WriteEndTransactionMarkerValue(Span<byte> destination, int coordinatorEpoch)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteInt32BigEndian(destination[2..], coordinatorEpoch);
    }

    /// <summary>
    /// Reads the type of a control record. Types this client does not know are returned as their
    /// number (callers ignore them, as Kafka's clients do).
    /// </summary>
    /// <exception cref="KafkaProtocolException">The key is null, too short, or has a negative version.</exception>
    public static ControlRecordType ReadType(in RecordView record)
    {
        ReadOnlySpan<byte> key = record.Key;
        if (record.IsKeyNull || key.Length < KeySize)
        {
            throw new KafkaProtocolException(
                $"Control record at offset {record.Offset} has a {(record.IsKeyNull ? "null" : $"{key.Length}-byte")} key; at least {KeySize} bytes are required.");
        }
        short version = BinaryPrimitives.ReadInt16BigEndian(key);
        if (version < 0)
        {
            throw new KafkaProtocolException($"Control record at offset {record.Offset} has an invalid key version {version}.");
        }
        return (ControlRecordType)BinaryPrimitives.ReadInt16BigEndian(key[2..]);
    }

    /// <summary>Reads a commit or abort marker.</summary>
    /// <exception cref="KafkaProtocolException">The record is not a transaction marker or its value is malformed.</exception>
    public static EndTransactionMarker ReadEndTransactionMarker(in RecordView record)
    {
        ControlRecordType type = ReadType(record);
        if (type is not (ControlRecordType.Commit or ControlRecordType.Abort))
        {
            throw new KafkaProtocolException($"Control record at offset {record.Offset} is of type {type}, not a transaction marker.");
        }
        ReadOnlySpan<byte> value = record.Value;
        if (record.IsValueNull || value.Length < EndTransactionMarkerValueSize)
        {
            throw new KafkaProtocolException(
                $"Transaction marker at offset {record.Offset} has a value of {(record.IsValueNull ? "null" : $"{value.Length} bytes")}; at least {EndTransactionMarkerValueSize} bytes are required.");
        }
        short version = BinaryPrimitives.ReadInt16BigEndian(value);
        if (version < 0)
        {
            throw new KafkaProtocolException($"Transaction marker at offset {record.Offset} has an invalid value version {version}.");
        }
        return new EndTransactionMarker(type, BinaryPrimitives.ReadInt32BigEndian(value[2..]));
    }
}
