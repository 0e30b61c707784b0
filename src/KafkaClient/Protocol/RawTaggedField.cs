namespace KafkaClient.Protocol;

/// <summary>
/// A tagged field this codec does not know (sent by a newer peer). Kept as raw bytes so that a
/// message read and written again carries it unchanged.
/// </summary>
/// <param name="Tag">The field's tag number.</param>
/// <param name="Data">The field's serialized bytes, without tag and size.</param>
public readonly record struct RawTaggedField(int Tag, ReadOnlyMemory<byte> Data);
