using System.Buffers;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol;

namespace KafkaClient.Tests.Protocol;

/// <summary>Each primitive against bytes worked out by hand from the protocol guide.</summary>
public sealed class PrimitiveGoldenBytesTests
{
    private delegate void WriteAction(ref ProtocolWriter writer);

    private static byte[] Bytes(WriteAction write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(buffer);
        write(ref writer);
        writer.Flush();
        writer.BytesWritten.Should().Be(buffer.WrittenCount);
        return buffer.WrittenSpan.ToArray();
    }

    [Theory]
    [InlineData(0u, new byte[] { 0x00 })]
    [InlineData(1u, new byte[] { 0x01 })]
    [InlineData(127u, new byte[] { 0x7F })]
    [InlineData(128u, new byte[] { 0x80, 0x01 })]
    [InlineData(300u, new byte[] { 0xAC, 0x02 })]
    [InlineData(16384u, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(uint.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void Unsigned_varints(uint value, byte[] expected)
    {
        Bytes((ref ProtocolWriter w) => w.WriteUnsignedVarInt(value)).Should().Equal(expected);
        ProtocolSize.UnsignedVarInt(value).Should().Be(expected.Length);
        var reader = new ProtocolReader(expected);
        reader.ReadUnsignedVarInt().Should().Be(value);
        reader.Remaining.Should().Be(0);
    }

    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(-1, new byte[] { 0x01 })]
    [InlineData(1, new byte[] { 0x02 })]
    [InlineData(-2, new byte[] { 0x03 })]
    [InlineData(63, new byte[] { 0x7E })]
    [InlineData(-64, new byte[] { 0x7F })]
    [InlineData(64, new byte[] { 0x80, 0x01 })]
    [InlineData(int.MaxValue, new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData(int.MinValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void Zig_zag_varints(int value, byte[] expected)
    {
        Bytes((ref ProtocolWriter w) => w.WriteVarInt(value)).Should().Equal(expected);
        var reader = new ProtocolReader(expected);
        reader.ReadVarInt().Should().Be(value);
    }

    [Theory]
    [InlineData(0L, new byte[] { 0x00 })]
    [InlineData(-1L, new byte[] { 0x01 })]
    [InlineData(1L << 35, new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 })]
    [InlineData(long.MaxValue, new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    [InlineData(long.MinValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Zig_zag_varlongs(long value, byte[] expected)
    {
        Bytes((ref ProtocolWriter w) => w.WriteVarLong(value)).Should().Equal(expected);
        var reader = new ProtocolReader(expected);
        reader.ReadVarLong().Should().Be(value);
    }

    [Fact]
    public void Fixed_width_integers_are_big_endian()
    {
        Bytes((ref ProtocolWriter w) =>
        {
            w.WriteInt8(-2);
            w.WriteInt16(0x0102);
            w.WriteUInt16(0xFFFE);
            w.WriteInt32(0x01020304);
            w.WriteUInt32(0xF0000001);
            w.WriteInt64(0x0102030405060708);
            w.WriteBool(true);
            w.WriteFloat64(1.0);
        }).Should().Equal(0xFE, 1, 2, 0xFF, 0xFE, 1, 2, 3, 4, 0xF0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0);
    }

    [Fact]
    public void Uuid_is_sixteen_bytes_most_significant_first()
    {
        var uuid = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var bytes = Bytes((ref ProtocolWriter w) => w.WriteUuid(uuid));
        bytes.Should().Equal(0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF);
        new ProtocolReader(bytes).ReadUuid().Should().Be(uuid);
    }

    [Fact]
    public void Classic_and_compact_strings_including_null()
    {
        Bytes((ref ProtocolWriter w) => w.WriteString("ab", compact: false)).Should().Equal(0, 2, (byte)'a', (byte)'b');
        Bytes((ref ProtocolWriter w) => w.WriteString(null, compact: false)).Should().Equal(0xFF, 0xFF);
        Bytes((ref ProtocolWriter w) => w.WriteString("ab", compact: true)).Should().Equal(3, (byte)'a', (byte)'b');
        Bytes((ref ProtocolWriter w) => w.WriteString(null, compact: true)).Should().Equal(0);
        Bytes((ref ProtocolWriter w) => w.WriteString("", compact: true)).Should().Equal(1);
        Bytes((ref ProtocolWriter w) => w.WriteString("é", compact: false)).Should().Equal(0, 2, 0xC3, 0xA9);

        var reader = new ProtocolReader(new byte[] { 3, (byte)'a', (byte)'b', 0, 0xFF, 0xFF });
        reader.ReadString(compact: true).Should().Be("ab");
        reader.ReadString(compact: true).Should().BeNull();
        reader.ReadString(compact: false).Should().BeNull();
    }

    [Fact]
    public void Classic_and_compact_bytes_including_null()
    {
        Bytes((ref ProtocolWriter w) => w.WriteBytes(new byte[] { 9 }, compact: false)).Should().Equal(0, 0, 0, 1, 9);
        Bytes((ref ProtocolWriter w) => w.WriteBytes(null, compact: false)).Should().Equal(0xFF, 0xFF, 0xFF, 0xFF);
        Bytes((ref ProtocolWriter w) => w.WriteBytes(new byte[] { 9 }, compact: true)).Should().Equal(2, 9);
        Bytes((ref ProtocolWriter w) => w.WriteBytes(null, compact: true)).Should().Equal(0);
        var reader = new ProtocolReader(new byte[] { 2, 9, 0 });
        reader.ReadBytes(compact: true)!.Value.ToArray().Should().Equal(9);
        reader.ReadBytes(compact: true).Should().BeNull();
    }

    [Fact]
    public void Classic_and_compact_array_lengths_including_null()
    {
        Bytes((ref ProtocolWriter w) => w.WriteArrayLength(2, compact: false)).Should().Equal(0, 0, 0, 2);
        Bytes((ref ProtocolWriter w) => w.WriteArrayLength(-1, compact: false)).Should().Equal(0xFF, 0xFF, 0xFF, 0xFF);
        Bytes((ref ProtocolWriter w) => w.WriteArrayLength(2, compact: true)).Should().Equal(3);
        Bytes((ref ProtocolWriter w) => w.WriteArrayLength(-1, compact: true)).Should().Equal(0);
    }

    [Fact]
    public void Tagged_section_of_a_flexible_header()
    {
        // RequestHeader v2: api key 3, version 12, correlation 5, client id "c" (classic string even in v2),
        // then a tagged section holding one unknown tag 4 of two bytes.
        var header = new KafkaClient.Protocol.Messages.RequestHeader
        {
            RequestApiKey = 3,
            RequestApiVersion = 12,
            CorrelationId = 5,
            ClientId = "c",
            UnknownTaggedFields = [new RawTaggedField(4, new byte[] { 0xAA, 0xBB })],
        };
        var bytes = MessageRoundTripTests.Write(header, 2);
        bytes.Should().Equal(0, 3, 0, 12, 0, 0, 0, 5, 0, 1, (byte)'c', 1, 4, 2, 0xAA, 0xBB);
    }

    [Fact]
    public void Malformed_lengths_raise_the_protocol_exception()
    {
        var act1 = () => new ProtocolReader(new byte[] { 0, 5, 1 }).ReadString(compact: false);
        act1.Should().Throw<KafkaProtocolException>();
        var act2 = () => new ProtocolReader(new byte[] { 0x7F, 0xFF, 0xFF, 0xFF }).ReadArrayLength(compact: false);
        act2.Should().Throw<KafkaProtocolException>();
        var act3 = () => new ProtocolReader(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }).ReadUnsignedVarInt();
        act3.Should().Throw<KafkaProtocolException>();
        var act4 = () => new ProtocolReader(new byte[] { 0x80 }).ReadUnsignedVarInt();
        act4.Should().Throw<KafkaProtocolException>();
    }
}
