using System.Buffers.Binary;
using System.Text;
using FluentAssertions;
using KafkaClient.Protocol.Records;
using Xunit;

namespace KafkaClient.Tests.Records;

/// <summary>
/// A small uncompressed batch whose bytes are worked out by hand from the v2 format description,
/// compared with the writer's output and decoded by the reader.
/// </summary>
public sealed class RecordBatchGoldenTests
{
    private const long BaseTimestamp = 1_700_000_000_000; // 0x0000018BCFE56800

    // Record 0: timestamp +0, offset delta 0, null key, value "v1", one header "h" = [0x01].
    //   body: attributes 00 | tsDelta zz(0)=00 | offsetDelta zz(0)=00 | keyLen zz(-1)=01 |
    //         valueLen zz(2)=04 'v' '1' | headerCount zz(1)=02 | hKeyLen zz(1)=02 'h' | hValLen zz(1)=02 01
    //   = 12 bytes, so the length prefix is zz(12) = 0x18.
    private static readonly byte[] Record0 =
        [0x18, 0x00, 0x00, 0x00, 0x01, 0x04, 0x76, 0x31, 0x02, 0x02, 0x68, 0x02, 0x01];

    // Record 1: timestamp +5, offset delta 1, key "k", value "value", no headers.
    //   body: 00 | zz(5)=0A | zz(1)=02 | zz(1)=02 'k' | zz(5)=0A 'v' 'a' 'l' 'u' 'e' | zz(0)=00 = 12 bytes.
    private static readonly byte[] Record1 =
        [0x18, 0x00, 0x0A, 0x02, 0x02, 0x6B, 0x0A, 0x76, 0x61, 0x6C, 0x75, 0x65, 0x00];

    // Header (61 bytes) + 26 record bytes = 87; batchLength = 87 - 12 = 75 = 0x4B.
    // The CRC-32C over bytes 21..86 was computed separately with a bit-at-a-time CRC: 0x032CC70B.
    private static readonly byte[] Expected =
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // baseOffset 0
        0x00, 0x00, 0x00, 0x4B,                         // batchLength 75
        0xFF, 0xFF, 0xFF, 0xFF,                         // partitionLeaderEpoch -1
        0x02,                                           // magic 2
        0x03, 0x2C, 0xC7, 0x0B,                         // crc
        0x00, 0x00,                                     // attributes: no compression, create time
        0x00, 0x00, 0x00, 0x01,                         // lastOffsetDelta 1
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, // baseTimestamp
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x05, // maxTimestamp = base + 5
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // producerId -1
        0xFF, 0xFF,                                     // producerEpoch -1
        0xFF, 0xFF, 0xFF, 0xFF,                         // baseSequence -1
        0x00, 0x00, 0x00, 0x02,                         // recordCount 2
        .. Record0,
        .. Record1,
    ];

    [Fact]
    public void Expected_bytes_are_self_consistent()
    {
        Expected.Length.Should().Be(87);
        RecordTestHelpers.ReferenceCrc32C(Expected.AsSpan(21)).Should().Be(
            BinaryPrimitives.ReadUInt32BigEndian(Expected.AsSpan(17)));
    }

    [Fact]
    public void Writer_produces_the_hand_computed_bytes()
    {
        using var writer = new RecordBatchWriter();
        writer.Append(BaseTimestamp, key: null, value: "v1"u8, [new RecordHeader("h", new byte[] { 0x01 })]);
        writer.Append(BaseTimestamp + 5, "k"u8, "value"u8);

        writer.Finish().ToArray().Should().Equal(Expected);
    }

    [Fact]
    public void Reader_decodes_the_hand_computed_bytes()
    {
        using var reader = new RecordBatchReader();
        reader.Reset(Expected);

        reader.TryReadBatch(out RecordBatchView batch).Should().BeTrue();
        batch.BaseOffset.Should().Be(0);
        batch.BatchLength.Should().Be(75);
        batch.PartitionLeaderEpoch.Should().Be(-1);
        batch.Magic.Should().Be(2);
        batch.Crc.Should().Be(0x032CC70Bu);
        batch.IsCrcValid().Should().BeTrue();
        batch.Compression.Should().Be(CompressionType.None);
        batch.TimestampType.Should().Be(TimestampType.CreateTime);
        batch.IsTransactional.Should().BeFalse();
        batch.IsControl.Should().BeFalse();
        batch.LastOffsetDelta.Should().Be(1);
        batch.LastOffset.Should().Be(1);
        batch.BaseTimestamp.Should().Be(BaseTimestamp);
        batch.MaxTimestamp.Should().Be(BaseTimestamp + 5);
        batch.ProducerId.Should().Be(-1);
        batch.ProducerEpoch.Should().Be(-1);
        batch.BaseSequence.Should().Be(-1);
        batch.RecordCount.Should().Be(2);

        var records = new List<(long Offset, long Timestamp, string? Key, string? Value, List<(string, byte[]?)> Headers)>();
        foreach (RecordView record in reader.ReadRecords(batch))
        {
            var headers = new List<(string, byte[]?)>();
            foreach (RecordHeaderView header in record.Headers)
            {
                headers.Add((header.GetKey(), header.IsValueNull ? null : header.Value.ToArray()));
            }
            records.Add((
                record.Offset,
                record.Timestamp,
                record.IsKeyNull ? null : Encoding.UTF8.GetString(record.Key),
                record.IsValueNull ? null : Encoding.UTF8.GetString(record.Value),
                headers));
        }

        records.Should().HaveCount(2);
        records[0].Offset.Should().Be(0);
        records[0].Timestamp.Should().Be(BaseTimestamp);
        records[0].Key.Should().BeNull();
        records[0].Value.Should().Be("v1");
        records[0].Headers.Should().ContainSingle();
        records[0].Headers[0].Item1.Should().Be("h");
        records[0].Headers[0].Item2.Should().Equal(0x01);
        records[1].Offset.Should().Be(1);
        records[1].Timestamp.Should().Be(BaseTimestamp + 5);
        records[1].Key.Should().Be("k");
        records[1].Value.Should().Be("value");
        records[1].Headers.Should().BeEmpty();

        reader.TryReadBatch(out _).Should().BeFalse();
        reader.TruncatedBytes.Should().Be(0);
    }
}
