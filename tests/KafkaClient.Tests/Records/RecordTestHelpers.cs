using System.Buffers.Binary;

namespace KafkaClient.Tests.Records;

/// <summary>Independent helpers for building and checking record batch bytes in tests.</summary>
internal static class RecordTestHelpers
{
    /// <summary>Bit-at-a-time CRC-32C, deliberately the simplest possible implementation.</summary>
    public static uint ReferenceCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }
        return ~crc;
    }

    /// <summary>
    /// Builds a v2 batch around a raw records section with a correct CRC, without using the
    /// production writer, so malformed record sections can be fed to the reader.
    /// </summary>
    public static byte[] BuildBatch(
        ReadOnlySpan<byte> records,
        int recordCount,
        short attributes = 0,
        long baseOffset = 0,
        int lastOffsetDelta = -1,
        long baseTimestamp = 1_000,
        long maxTimestamp = 1_000,
        byte magic = 2)
    {
        var batch = new byte[61 + records.Length];
        Span<byte> s = batch;
        BinaryPrimitives.WriteInt64BigEndian(s, baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(s[8..], batch.Length - 12);
        BinaryPrimitives.WriteInt32BigEndian(s[12..], -1);
        s[16] = magic;
        BinaryPrimitives.WriteInt16BigEndian(s[21..], attributes);
        BinaryPrimitives.WriteInt32BigEndian(s[23..], lastOffsetDelta >= 0 ? lastOffsetDelta : Math.Max(recordCount - 1, 0));
        BinaryPrimitives.WriteInt64BigEndian(s[27..], baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(s[35..], maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(s[43..], -1);
        BinaryPrimitives.WriteInt16BigEndian(s[51..], -1);
        BinaryPrimitives.WriteInt32BigEndian(s[53..], -1);
        BinaryPrimitives.WriteInt32BigEndian(s[57..], recordCount);
        records.CopyTo(s[61..]);
        FixCrc(batch);
        return batch;
    }

    /// <summary>Recomputes the CRC of a v2 batch in place (with the reference implementation).</summary>
    public static void FixCrc(Span<byte> batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch[17..], ReferenceCrc32C(batch[21..]));

    /// <summary>Concatenates byte arrays.</summary>
    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Deterministic pseudo-random bytes that compress moderately (runs mixed with noise).</summary>
    public static byte[] CompressibleBytes(int length, int seed)
    {
        var random = new Random(seed);
        var data = new byte[length];
        int i = 0;
        while (i < length)
        {
            int run = Math.Min(random.Next(1, 64), length - i);
            if (random.Next(2) == 0)
            {
                data.AsSpan(i, run).Fill((byte)random.Next(256));
            }
            else
            {
                random.NextBytes(data.AsSpan(i, run));
            }
            i += run;
        }
        return data;
    }
}
