using System.Buffers.Binary;
using System.Text;
using FluentAssertions;
using KafkaClient.Protocol.Records;
using Xunit;

namespace KafkaClient.Tests.Records;

public sealed class RecordBatchWriterTests
{
    public static TheoryData<CompressionType> AllCodecs() =>
        new(CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd);

    private static RecordBatchView ReadSingleBatch(RecordBatchReader reader, ReadOnlyMemory<byte> bytes)
    {
        reader.Reset(bytes);
        reader.TryReadBatch(out RecordBatchView batch).Should().BeTrue();
        return batch;
    }

    [Fact]
    public void Header_properties_are_written_and_read_back()
    {
        using var writer = new RecordBatchWriter();
        writer.BaseOffset = 1234567890123;
        writer.PartitionLeaderEpoch = 42;
        writer.ProducerId = 987654321;
        writer.ProducerEpoch = 7;
        writer.BaseSequence = 1000;
        writer.IsTransactional = true;
        writer.TimestampType = TimestampType.LogAppendTime;
        writer.Append(5_000, "a"u8, "b"u8);
        writer.Append(4_000, "c"u8, "d"u8);
        writer.Append(6_000, "e"u8, "f"u8);

        using var reader = new RecordBatchReader();
        RecordBatchView batch = ReadSingleBatch(reader, writer.Finish());
        batch.BaseOffset.Should().Be(1234567890123);
        batch.PartitionLeaderEpoch.Should().Be(42);
        batch.ProducerId.Should().Be(987654321);
        batch.ProducerEpoch.Should().Be(7);
        batch.BaseSequence.Should().Be(1000);
        batch.IsTransactional.Should().BeTrue();
        batch.IsControl.Should().BeFalse();
        batch.TimestampType.Should().Be(TimestampType.LogAppendTime);
        batch.Attributes.Should().Be(0x08 | 0x10);
        batch.LastOffsetDelta.Should().Be(2);
        batch.NextOffset.Should().Be(1234567890126);
        batch.BaseTimestamp.Should().Be(5_000, "the first record's timestamp is the base");
        batch.MaxTimestamp.Should().Be(6_000);
        batch.RecordCount.Should().Be(3);
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Compression_codec_is_stored_in_attribute_bits_0_to_2(CompressionType codec)
    {
        using var writer = new RecordBatchWriter { Compression = codec, IsControl = true };
        writer.Append(1, "k"u8, "v"u8);
        ReadOnlyMemory<byte> bytes = writer.Finish();
        short attributes = BinaryPrimitives.ReadInt16BigEndian(bytes.Span[21..]);
        (attributes & 0x07).Should().Be((int)codec);
        (attributes & 0x20).Should().Be(0x20, "the control flag is bit 5");
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Thousand_records_with_headers_round_trip(CompressionType codec)
    {
        using var writer = new RecordBatchWriter { Compression = codec };
        var expected = new List<(byte[]? Key, byte[]? Value, long Timestamp)>();
        for (int i = 0; i < 1000; i++)
        {
            byte[]? key = i % 7 == 0 ? null : Encoding.UTF8.GetBytes($"key-{i}");
            byte[]? value = i % 11 == 0 ? null : RecordTestHelpers.CompressibleBytes(i % 300, seed: i);
            long timestamp = 1_700_000_000_000 + (i * 3) - (i % 5 == 0 ? 10_000 : 0);
            RecordHeader[] headers = i % 3 == 0
                ? [new RecordHeader("trace-id", Encoding.UTF8.GetBytes($"t{i}")), new RecordHeader("ünïcødé", (byte[]?)null)]
                : [];
            writer.Append(timestamp, key, value, headers);
            expected.Add((key, value, timestamp));
        }
        writer.RecordCount.Should().Be(1000);

        using var reader = new RecordBatchReader();
        RecordBatchView batch = ReadSingleBatch(reader, writer.Finish());
        batch.Compression.Should().Be(codec);
        batch.RecordCount.Should().Be(1000);
        batch.MaxTimestamp.Should().Be(expected.Max(e => e.Timestamp));

        int index = 0;
        foreach (RecordView record in reader.ReadRecords(batch))
        {
            (byte[]? key, byte[]? value, long timestamp) = expected[index];
            record.Offset.Should().Be(index);
            record.Timestamp.Should().Be(timestamp);
            record.IsKeyNull.Should().Be(key is null);
            record.Key.ToArray().Should().Equal(key ?? []);
            record.KeyMemory.ToArray().Should().Equal(key ?? []);
            record.IsValueNull.Should().Be(value is null);
            record.Value.ToArray().Should().Equal(value ?? []);
            record.ValueMemory.ToArray().Should().Equal(value ?? []);
            if (index % 3 == 0)
            {
                record.HeaderCount.Should().Be(2);
                var headers = new List<RecordHeaderView>();
                foreach (RecordHeaderView header in record.Headers)
                {
                    headers.Add(header);
                }
                headers[0].GetKey().Should().Be("trace-id");
                Encoding.UTF8.GetString(headers[0].Value).Should().Be($"t{index}");
                headers[0].IsValueNull.Should().BeFalse();
                headers[1].GetKey().Should().Be("ünïcødé");
                headers[1].IsValueNull.Should().BeTrue();
            }
            else
            {
                record.HeaderCount.Should().Be(0);
            }
            index++;
        }
        index.Should().Be(1000);
    }

    [Fact]
    public void Null_and_empty_keys_and_values_stay_distinct()
    {
        using var writer = new RecordBatchWriter();
        writer.Append(1, key: null, value: null);
        writer.Append(1, key: Array.Empty<byte>(), value: ReadOnlySpan<byte>.Empty);
        writer.Append(1, NullableBytes.Null, new byte[] { 9 });
        writer.Append(1, "x"u8, "y"u8, [new RecordHeader("empty", ReadOnlyMemory<byte>.Empty), new RecordHeader("null", (byte[]?)null)]);

        using var reader = new RecordBatchReader();
        var seen = new List<string>();
        foreach (RecordView r in reader.ReadRecords(ReadSingleBatch(reader, writer.Finish())))
        {
            string headers = "";
            foreach (RecordHeaderView h in r.Headers)
            {
                headers += $"[{h.GetKey()}={(h.IsValueNull ? "null" : h.Value.Length.ToString())}]";
            }
            seen.Add($"{(r.IsKeyNull ? "null" : r.Key.Length.ToString())}/{(r.IsValueNull ? "null" : r.Value.Length.ToString())}{headers}");
        }
        seen.Should().Equal("null/null", "0/0", "null/1", "1/1[empty=0][null=null]");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("€€€€€€€€€€€€€€€€€€€€€")] // 21 chars, 63 UTF-8 bytes: the largest one-byte length
    [InlineData("€€€€€€€€€€€€€€€€€€€€€€")] // 22 chars, 66 UTF-8 bytes: a two-byte length
    [InlineData("😀😀😀😀😀😀😀😀😀😀")] // surrogate pairs, 4 UTF-8 bytes each
    [InlineData("a-much-longer-header-key-that-exceeds-sixty-four-bytes-when-encoded-as-utf8")]
    public void Header_keys_of_any_length_round_trip(string key)
    {
        using var writer = new RecordBatchWriter();
        writer.Append(1, "k"u8, "v"u8, [new RecordHeader(key, new byte[] { 1, 2 })]);
        using var reader = new RecordBatchReader();
        foreach (RecordView r in reader.ReadRecords(ReadSingleBatch(reader, writer.Finish())))
        {
            foreach (RecordHeaderView h in r.Headers)
            {
                h.GetKey().Should().Be(key);
                h.KeyUtf8.Length.Should().Be(Encoding.UTF8.GetByteCount(key));
                h.Value.ToArray().Should().Equal(1, 2);
            }
        }
    }

    [Fact]
    public void Large_values_round_trip()
    {
        byte[] big = RecordTestHelpers.CompressibleBytes(1 << 20, seed: 77);
        using var writer = new RecordBatchWriter(initialCapacity: 128);
        writer.Append(10, "big"u8, big);
        writer.Append(11, "small"u8, "x"u8);
        using var reader = new RecordBatchReader();
        var values = new List<byte[]>();
        foreach (RecordView r in reader.ReadRecords(ReadSingleBatch(reader, writer.Finish())))
        {
            values.Add(r.Value.ToArray());
        }
        values[0].Should().Equal(big);
        values[1].Should().Equal((byte)'x');
    }

    [Fact]
    public void MeasureRecord_predicts_what_Append_adds()
    {
        using var writer = new RecordBatchWriter();
        writer.UncompressedSizeInBytes.Should().Be(RecordBatchWriter.BatchHeaderSize);
        var random = new Random(3);
        for (int i = 0; i < 300; i++)
        {
            byte[]? key = random.Next(4) == 0 ? null : new byte[random.Next(0, 200)];
            byte[] value = new byte[random.Next(0, 20_000)];
            RecordHeader[] headers = Enumerable.Range(0, random.Next(0, 3))
                .Select(h => new RecordHeader(new string('é', random.Next(0, 100)), new byte[random.Next(0, 70)]))
                .ToArray();
            long timestamp = 1_000_000 + random.Next(-100_000, 100_000);
            int predicted = writer.MeasureRecord(timestamp, key, value, headers);
            int before = writer.UncompressedSizeInBytes;
            writer.Append(timestamp, key, value, headers);
            (writer.UncompressedSizeInBytes - before).Should().Be(predicted, $"record {i}");
        }
        writer.Finish().Length.Should().Be(writer.UncompressedSizeInBytes);
    }

    [Fact]
    public void Finish_again_rewrites_the_header_and_crc_without_touching_records()
    {
        using var writer = new RecordBatchWriter { Compression = CompressionType.Lz4, ProducerId = 5, ProducerEpoch = 1, BaseSequence = 10 };
        writer.Append(1, "k"u8, "v"u8);
        writer.Append(2, "k2"u8, "v2"u8);
        byte[] first = writer.Finish().ToArray();

        writer.ProducerEpoch = 2;
        writer.BaseSequence = 0;
        byte[] second = writer.Finish().ToArray();

        second.Length.Should().Be(first.Length);
        second.AsSpan(61).SequenceEqual(first.AsSpan(61)).Should().BeTrue("the compressed records are reused");
        using var reader = new RecordBatchReader();
        RecordBatchView batch = ReadSingleBatch(reader, second);
        batch.ProducerEpoch.Should().Be(2);
        batch.BaseSequence.Should().Be(0);
        batch.IsCrcValid().Should().BeTrue();
        batch.Crc.Should().NotBe(BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(17)));
    }

    [Fact]
    public void Misuse_is_rejected()
    {
        using var writer = new RecordBatchWriter();
        Action finishEmpty = () => writer.Finish();
        finishEmpty.Should().Throw<InvalidOperationException>();

        writer.Append(1, "k"u8, "v"u8);
        writer.Finish();
        writer.IsFinished.Should().BeTrue();
        Action appendAfterFinish = () => writer.Append(2, "k"u8, "v"u8);
        appendAfterFinish.Should().Throw<InvalidOperationException>();
        Action changeCodec = () => writer.Compression = CompressionType.Gzip;
        changeCodec.Should().Throw<InvalidOperationException>();
        Action unknownCodec = () => new RecordBatchWriter { Compression = (CompressionType)5 };
        unknownCodec.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Invalid_compression_level_is_reported_by_Finish()
    {
        using var writer = new RecordBatchWriter { Compression = CompressionType.Gzip, CompressionLevel = 42 };
        writer.Append(1, "k"u8, "v"u8);
        Action act = () => writer.Finish();
        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Reset_starts_a_fresh_batch_with_default_properties()
    {
        using var writer = new RecordBatchWriter { Compression = CompressionType.Zstd, ProducerId = 9, IsTransactional = true, IsControl = true };
        writer.Append(100, "old"u8, "old"u8);
        writer.Finish();

        writer.Reset();
        writer.IsFinished.Should().BeFalse();
        writer.RecordCount.Should().Be(0);
        writer.Compression.Should().Be(CompressionType.None);
        writer.ProducerId.Should().Be(-1);
        writer.PartitionLeaderEpoch.Should().Be(-1);
        writer.IsTransactional.Should().BeFalse();
        writer.IsControl.Should().BeFalse();

        writer.Append(200, "new"u8, "new"u8);
        using var reader = new RecordBatchReader();
        RecordBatchView batch = ReadSingleBatch(reader, writer.Finish());
        batch.RecordCount.Should().Be(1);
        batch.BaseTimestamp.Should().Be(200);
        batch.Attributes.Should().Be(0);
        foreach (RecordView r in reader.ReadRecords(batch))
        {
            Encoding.UTF8.GetString(r.Value).Should().Be("new");
            r.Offset.Should().Be(0);
        }
    }

    [Fact]
    public void Appending_allocates_nothing_in_steady_state()
    {
        using var writer = new RecordBatchWriter();
        byte[] key = new byte[16];
        byte[] value = new byte[100];
        RecordHeader[] headers = [new RecordHeader("trace", new byte[8]), new RecordHeader("ü-null", (byte[]?)null)];

        void FillBatch()
        {
            writer.Reset();
            for (int i = 0; i < 1000; i++)
            {
                writer.Append(1_700_000_000_000 + i, key, value, headers);
                writer.Append(1_700_000_000_000 + i, null, value);
            }
            writer.Finish();
        }

        FillBatch(); // grows the pooled buffer to its steady-state size and JIT-compiles the path
        FillBatch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        FillBatch();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        allocated.Should().Be(0);
    }

    [Fact]
    public void Reading_uncompressed_records_allocates_nothing()
    {
        using var writer = new RecordBatchWriter();
        for (int i = 0; i < 500; i++)
        {
            writer.Append(i, "key"u8, new byte[100], [new RecordHeader("h", new byte[3])]);
        }
        ReadOnlyMemory<byte> bytes = writer.Finish();
        using var reader = new RecordBatchReader();

        long Sum()
        {
            long total = 0;
            reader.Reset(bytes);
            while (reader.TryReadBatch(out RecordBatchView batch))
            {
                foreach (RecordView r in reader.ReadRecords(batch))
                {
                    total += r.Key.Length + r.Value.Length + r.Offset;
                    foreach (RecordHeaderView h in r.Headers)
                    {
                        total += h.KeyUtf8.Length + h.Value.Length;
                    }
                }
            }
            return total;
        }

        long expected = Sum();
        Sum();
        long before = GC.GetAllocatedBytesForCurrentThread();
        long result = Sum();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        result.Should().Be(expected);
        allocated.Should().Be(0);
    }
}
