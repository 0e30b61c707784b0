using System.Buffers.Binary;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Compression;
using KafkaClient.Protocol.Records;
using Snappier;
using Xunit;

namespace KafkaClient.Tests.Records;

public sealed class CompressionCodecTests
{
    private static readonly CompressionType[] AllCodecs =
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    private static readonly CompressionType[] RealCodecs =
        [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    public static TheoryData<CompressionType, int> CodecsAndSizes()
    {
        var data = new TheoryData<CompressionType, int>();
        foreach (CompressionType codec in AllCodecs)
        {
            foreach (int size in new[] { 0, 1, 100, 32 * 1024, (32 * 1024) + 1, 65_537, 200_000, 1 << 20 })
            {
                data.Add(codec, size);
            }
        }
        return data;
    }

    public static TheoryData<CompressionType> Codecs() => new(RealCodecs);

    private static byte[] Compress(CompressionType codec, ReadOnlySpan<byte> data, int? level = null)
    {
        using var output = new PooledBufferWriter();
        CompressionCodecs.Get(codec).Compress(data, output, level);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Decompress(CompressionType codec, byte[] compressed, int max = int.MaxValue)
    {
        using var output = new PooledBufferWriter();
        CompressionCodecs.Get(codec).Decompress(compressed, output, max);
        return output.WrittenSpan.ToArray();
    }

    [Theory]
    [MemberData(nameof(CodecsAndSizes))]
    public void Round_trips(CompressionType codec, int size)
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(size, seed: size);
        byte[] compressed = Compress(codec, data);
        Decompress(codec, compressed).Should().Equal(data);
        if (codec != CompressionType.None && size >= 32 * 1024)
        {
            compressed.Length.Should().BeLessThan(size, "half of the test data is runs, which every codec shrinks");
        }
    }

    [Fact]
    public void Decompression_appends_after_existing_content()
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(5_000, seed: 9);
        foreach (CompressionType codec in AllCodecs)
        {
            using var output = new PooledBufferWriter();
            output.Write([1, 2, 3]);
            CompressionCodecs.Get(codec).Decompress(Compress(codec, data), output, data.Length);
            output.WrittenSpan.ToArray().Should().Equal([1, 2, 3, .. data], codec.ToString());
        }
    }

    [Theory]
    [InlineData(CompressionType.Gzip, 0)]
    [InlineData(CompressionType.Gzip, 1)]
    [InlineData(CompressionType.Gzip, 9)]
    [InlineData(CompressionType.Lz4, 0)]
    [InlineData(CompressionType.Lz4, 3)]
    [InlineData(CompressionType.Lz4, 12)]
    [InlineData(CompressionType.Zstd, 1)]
    [InlineData(CompressionType.Zstd, 19)]
    [InlineData(CompressionType.Zstd, -5)]
    public void Round_trips_at_explicit_levels(CompressionType codec, int level)
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(100_000, seed: level + 100);
        Decompress(codec, Compress(codec, data, level)).Should().Equal(data);
    }

    [Fact]
    public void Higher_levels_compress_better_on_compressible_data()
    {
        var random = new Random(5);
        string[] words = ["kafka", "record", "batch", "offset", "partition", "leader", "epoch", "producer", "consumer", "topic"];
        byte[] data = System.Text.Encoding.ASCII.GetBytes(string.Join(' ', Enumerable.Range(0, 50_000).Select(_ => words[random.Next(words.Length)] + random.Next(100))));
        Compress(CompressionType.Gzip, data, 9).Length.Should().BeLessThan(Compress(CompressionType.Gzip, data, 0).Length);
        Compress(CompressionType.Zstd, data, 19).Length.Should().BeLessThan(Compress(CompressionType.Zstd, data, 1).Length);
    }

    [Theory]
    [InlineData(CompressionType.None, 3)]
    [InlineData(CompressionType.Gzip, 10)]
    [InlineData(CompressionType.Gzip, -2)]
    [InlineData(CompressionType.Snappy, 1)]
    [InlineData(CompressionType.Lz4, 13)]
    [InlineData(CompressionType.Lz4, -1)]
    [InlineData(CompressionType.Zstd, 23)]
    public void Rejects_out_of_range_levels(CompressionType codec, int level)
    {
        Action act = () => Compress(codec, [1, 2, 3], level);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Gzip_writes_an_rfc1952_stream()
    {
        byte[] compressed = Compress(CompressionType.Gzip, RecordTestHelpers.CompressibleBytes(1000, 1));
        compressed[..3].Should().Equal([0x1F, 0x8B, 0x08], "gzip magic and the deflate method");
    }

    [Fact]
    public void Snappy_writes_xerial_framing_with_32KiB_blocks()
    {
        byte[] data = RecordTestHelpers.CompressibleBytes((2 * 32 * 1024) + 10, seed: 11);
        byte[] compressed = Compress(CompressionType.Snappy, data);

        compressed[..16].Should().Equal(
            [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0x00, 0, 0, 0, 1, 0, 0, 0, 1],
            "xerial magic, version 1, compatible version 1");

        // Walk the blocks independently: each is a big-endian length and a raw snappy block.
        var blockSizes = new List<int>();
        var rebuilt = new List<byte>();
        int p = 16;
        while (p < compressed.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(compressed.AsSpan(p));
            byte[] block = Snappy.DecompressToArray(compressed.AsSpan(p + 4, length));
            blockSizes.Add(block.Length);
            rebuilt.AddRange(block);
            p += 4 + length;
        }
        p.Should().Be(compressed.Length);
        blockSizes.Should().Equal(32 * 1024, 32 * 1024, 10);
        rebuilt.Should().Equal(data);
    }

    [Fact]
    public void Snappy_reads_raw_unframed_blocks()
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(70_000, seed: 12);
        byte[] raw = Snappy.CompressToArray(data);
        raw[0].Should().NotBe(0x82, "the raw block must not look framed for this test to mean anything");
        Decompress(CompressionType.Snappy, raw).Should().Equal(data);
    }

    [Fact]
    public void Lz4_writes_a_frame_with_independent_64KiB_blocks_and_no_checksums()
    {
        byte[] compressed = Compress(CompressionType.Lz4, RecordTestHelpers.CompressibleBytes(200_000, 13));
        compressed[..4].Should().Equal([0x04, 0x22, 0x4D, 0x18], "LZ4 frame magic 0x184D2204 little-endian");
        byte flg = compressed[4];
        (flg >> 6).Should().Be(1, "frame format version 01");
        (flg & 0x20).Should().Be(0x20, "blocks are independent, which Kafka's Java reader requires");
        (flg & 0x10).Should().Be(0, "no block checksums");
        (flg & 0x04).Should().Be(0, "no content checksum");
        (compressed[5] >> 4 & 0x7).Should().Be(4, "block maximum size 64 KiB");
    }

    [Fact]
    public void Gzip_reads_multi_member_streams()
    {
        byte[] a = RecordTestHelpers.CompressibleBytes(10_000, 1);
        byte[] b = RecordTestHelpers.CompressibleBytes(3_000, 2);
        byte[] both = [.. Compress(CompressionType.Gzip, a), .. Compress(CompressionType.Gzip, b)];
        Decompress(CompressionType.Gzip, both).Should().Equal([.. a, .. b]);
    }

    [Fact]
    public void Gzip_detects_truncation_at_every_cut_point()
    {
        byte[] compressed = Compress(CompressionType.Gzip, RecordTestHelpers.CompressibleBytes(3_000, 24));
        for (int cut = 0; cut < compressed.Length; cut++)
        {
            AssertInvalid(CompressionType.Gzip, compressed[..cut]);
        }
    }

    [Fact]
    public void Zstd_writes_a_zstd_frame()
    {
        byte[] compressed = Compress(CompressionType.Zstd, RecordTestHelpers.CompressibleBytes(1000, 1));
        compressed[..4].Should().Equal([0x28, 0xB5, 0x2F, 0xFD], "zstd frame magic 0xFD2FB528 little-endian");
    }

    [Fact]
    public void Zstd_reads_concatenated_frames()
    {
        byte[] a = RecordTestHelpers.CompressibleBytes(10_000, 1);
        byte[] b = RecordTestHelpers.CompressibleBytes(20_000, 2);
        byte[] both = [.. Compress(CompressionType.Zstd, a), .. Compress(CompressionType.Zstd, b)];
        Decompress(CompressionType.Zstd, both).Should().Equal([.. a, .. b]);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Garbage_input_is_reported_as_invalid_compressed_data(CompressionType codec)
    {
        byte[] garbage = new byte[300];
        new Random(99).NextBytes(garbage);
        garbage[0] = 0xFF; // not a gzip/lz4/zstd magic, and a snappy varint that claims an impossible length
        AssertInvalid(codec, garbage);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Truncated_input_is_reported_as_invalid_compressed_data(CompressionType codec)
    {
        byte[] compressed = Compress(codec, RecordTestHelpers.CompressibleBytes(100_000, 21));
        AssertInvalid(codec, compressed[..(compressed.Length / 2)]);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Corrupted_block_header_is_reported_as_invalid_compressed_data(CompressionType codec)
    {
        byte[] compressed = Compress(codec, RecordTestHelpers.CompressibleBytes(100_000, 22));
        // Corrupt the first bytes after the stream header, where each format keeps its first block's header.
        int start = codec switch
        {
            CompressionType.Gzip => 10,
            CompressionType.Snappy => 16,
            CompressionType.Lz4 => 7,
            _ => 6,
        };
        for (int i = start; i < start + 4; i++)
        {
            compressed[i] = 0xFF;
        }
        AssertInvalid(codec, compressed);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Random_corruption_never_escapes_as_another_exception_type(CompressionType codec)
    {
        // Whatever the damage, decompression either succeeds (some flips land in literal bytes and
        // formats without checksums cannot notice) or raises the typed error, never a codec's own exception.
        byte[] original = Compress(codec, RecordTestHelpers.CompressibleBytes(50_000, 31));
        var random = new Random(1234 + (int)codec);
        for (int i = 0; i < 300; i++)
        {
            byte[] damaged = (byte[])original.Clone();
            int flips = random.Next(1, 6);
            for (int f = 0; f < flips; f++)
            {
                damaged[random.Next(damaged.Length)] ^= (byte)random.Next(1, 256);
            }
            int length = random.Next(4) == 0 ? random.Next(damaged.Length) : damaged.Length;
            try
            {
                Decompress(codec, damaged[..length], max: 1 << 20);
            }
            catch (CorruptRecordException)
            {
            }
        }
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompression_stops_at_the_size_limit(CompressionType codec)
    {
        byte[] zeros = new byte[4 << 20];
        byte[] bomb = Compress(codec, zeros);
        bomb.Length.Should().BeLessThan(zeros.Length / 20);

        using var output = new PooledBufferWriter();
        Action act = () => CompressionCodecs.Get(codec).Decompress(bomb, output, 100_000);
        act.Should().Throw<CorruptRecordException>()
            .Which.Reason.Should().Be(CorruptRecordReason.DecompressedSizeLimitExceeded);
        output.Capacity.Should().BeLessThan(1 << 20, "the limit must stop decompression long before the full 4 MiB");
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompression_succeeds_at_exactly_the_limit(CompressionType codec)
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(100_000, 23);
        Decompress(codec, Compress(codec, data), max: data.Length).Should().Equal(data);
        Action oneLess = () => Decompress(codec, Compress(codec, data), max: data.Length - 1);
        oneLess.Should().Throw<CorruptRecordException>()
            .Which.Reason.Should().Be(CorruptRecordReason.DecompressedSizeLimitExceeded);
    }

    [Fact]
    public void Uncompressed_codec_enforces_the_limit_too()
    {
        Action act = () => Decompress(CompressionType.None, new byte[10], max: 9);
        act.Should().Throw<CorruptRecordException>()
            .Which.Reason.Should().Be(CorruptRecordReason.DecompressedSizeLimitExceeded);
    }

    private static void AssertInvalid(CompressionType codec, byte[] input)
    {
        Action act = () => Decompress(codec, input);
        act.Should().Throw<CorruptRecordException>()
            .Which.Reason.Should().Be(CorruptRecordReason.InvalidCompressedData);
    }
}
