using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Records;
using Snappier;
using Xunit;

namespace KafkaClient.Tests.Records;

public sealed class RecordBatchReaderTests
{
    private static byte[] WriteBatch(long baseOffset, int records, CompressionType codec = CompressionType.None, int valueSize = 20)
    {
        using var writer = new RecordBatchWriter { BaseOffset = baseOffset, Compression = codec };
        for (int i = 0; i < records; i++)
        {
            writer.Append(1_000 + i, Encoding.UTF8.GetBytes($"k{baseOffset + i}"), RecordTestHelpers.CompressibleBytes(valueSize, i));
        }
        return writer.Finish().ToArray();
    }

    private static List<long> ReadAllOffsets(RecordBatchReader reader)
    {
        var offsets = new List<long>();
        while (reader.TryReadBatch(out RecordBatchView batch))
        {
            foreach (RecordView r in reader.ReadRecords(batch))
            {
                Encoding.UTF8.GetString(r.Key).Should().Be($"k{r.Offset}");
                offsets.Add(r.Offset);
            }
        }
        return offsets;
    }

    /// <summary>A records section built by hand; <paramref name="body"/> follows a computed length prefix.</summary>
    private static byte[] RawRecord(params byte[] body)
    {
        var prefix = new byte[5];
        int n = KafkaClient.Protocol.Varint.Write(prefix, body.Length);
        return [.. prefix[..n], .. body];
    }

    [Fact]
    public void Reads_concatenated_batches_of_mixed_codecs()
    {
        byte[] set = RecordTestHelpers.Concat(
            WriteBatch(0, 3),
            WriteBatch(3, 5, CompressionType.Gzip),
            WriteBatch(8, 2, CompressionType.Snappy),
            WriteBatch(10, 4, CompressionType.Lz4),
            WriteBatch(14, 6, CompressionType.Zstd),
            WriteBatch(20, 1));

        using var reader = new RecordBatchReader();
        reader.Reset(set);
        ReadAllOffsets(reader).Should().Equal(Enumerable.Range(0, 21).Select(i => (long)i));
        reader.TruncatedBytes.Should().Be(0);
    }

    [Fact]
    public void Header_fields_are_available_without_reading_records()
    {
        byte[] set = RecordTestHelpers.Concat(WriteBatch(100, 3, CompressionType.Zstd), WriteBatch(103, 2));
        using var reader = new RecordBatchReader();
        reader.Reset(set);
        var seen = new List<(long, long, int, CompressionType)>();
        while (reader.TryReadBatch(out RecordBatchView batch))
        {
            seen.Add((batch.BaseOffset, batch.LastOffset, batch.RecordCount, batch.Compression));
        }
        seen.Should().Equal((100L, 102L, 3, CompressionType.Zstd), (103L, 104L, 2, CompressionType.None));
    }

    [Fact]
    public void A_truncated_last_batch_is_ignored_at_every_cut_point()
    {
        byte[] first = WriteBatch(0, 2);
        byte[] second = WriteBatch(2, 3, CompressionType.Gzip);
        using var reader = new RecordBatchReader();
        for (int cut = 0; cut < second.Length; cut++)
        {
            byte[] set = RecordTestHelpers.Concat(first, second[..cut]);
            reader.Reset(set);
            ReadAllOffsets(reader).Should().Equal([0L, 1L], $"cut at {cut}");
            reader.TruncatedBytes.Should().Be(cut);
            reader.TryReadBatch(out _).Should().BeFalse("the reader stays at the end");
        }
    }

    [Fact]
    public void Reads_multi_segment_sequences()
    {
        byte[] set = RecordTestHelpers.Concat(WriteBatch(0, 3), WriteBatch(3, 4, CompressionType.Snappy), WriteBatch(7, 2));
        using var reader = new RecordBatchReader();
        foreach (int segmentSize in new[] { 1, 7, 50, 100, set.Length })
        {
            reader.Reset(BuildSequence(set, segmentSize));
            ReadAllOffsets(reader).Should().Equal(Enumerable.Range(0, 9).Select(i => (long)i), $"segments of {segmentSize}");
        }
    }

    [Fact]
    public void Crc_mismatch_raises_corrupt_record_unless_validation_is_off()
    {
        byte[] good = WriteBatch(0, 3);
        byte[] bad = WriteBatch(3, 2);
        bad[^2] ^= 0x01; // last byte of the last value (the final byte is the header count)
        byte[] set = RecordTestHelpers.Concat(good, bad);

        using var reader = new RecordBatchReader();
        reader.Reset(set);
        reader.TryReadBatch(out _).Should().BeTrue();
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<CorruptRecordException>()
            .Where(e => e.Reason == CorruptRecordReason.ChecksumMismatch && e.ErrorCode == ErrorCode.CorruptMessage)
            .WithMessage("*base offset 3*");

        reader.ValidateCrc = false;
        reader.Reset(set);
        ReadAllOffsets(reader).Should().Equal(0, 1, 2, 3, 4);
    }

    [Fact]
    public void Crc_covers_every_byte_from_attributes_to_the_end()
    {
        byte[] batch = WriteBatch(0, 2, CompressionType.None);
        using var reader = new RecordBatchReader();
        for (int i = 21; i < batch.Length; i++)
        {
            batch[i] ^= 0x80;
            reader.Reset(batch);
            Action act = () => reader.TryReadBatch(out _);
            act.Should().Throw<CorruptRecordException>($"byte {i} is covered");
            batch[i] ^= 0x80;
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(0)]
    [InlineData(13)]
    public void Impossible_batch_length_is_a_protocol_error(int length)
    {
        byte[] batch = WriteBatch(0, 1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), length);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<KafkaProtocolException>().WithMessage("*impossible length*");
    }

    [Fact]
    public void Length_shorter_than_a_v2_header_is_a_protocol_error()
    {
        byte[] batch = WriteBatch(0, 1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), 40);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<KafkaProtocolException>().WithMessage("*shorter than a v2 batch header*");
    }

    [Fact]
    public void Huge_length_beyond_the_data_is_treated_as_a_truncated_tail_without_allocating()
    {
        byte[] batch = WriteBatch(0, 1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), int.MaxValue);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out _).Should().BeFalse();
        reader.TruncatedBytes.Should().Be(batch.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Legacy_message_sets_are_reported_clearly(byte magic)
    {
        // A v0/v1 message: offset, size, crc, magic at the same position (byte 16) as a v2 batch's magic.
        byte[] legacy = new byte[12 + 26];
        BinaryPrimitives.WriteInt64BigEndian(legacy, 5);
        BinaryPrimitives.WriteInt32BigEndian(legacy.AsSpan(8), 26);
        legacy[16] = magic;
        using var reader = new RecordBatchReader();
        reader.Reset(legacy);
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<KafkaProtocolException>().WithMessage($"*legacy message format v{magic}*only record batch v2*");
    }

    [Fact]
    public void Unknown_magic_is_reported()
    {
        byte[] batch = WriteBatch(0, 1);
        batch[16] = 3;
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<KafkaProtocolException>().WithMessage("*unknown magic 3*");
    }

    [Fact]
    public void Negative_record_count_is_a_protocol_error()
    {
        byte[] batch = RecordTestHelpers.BuildBatch([], recordCount: -1);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        Action act = () => reader.TryReadBatch(out _);
        act.Should().Throw<KafkaProtocolException>().WithMessage("*negative record count*");
    }

    public static TheoryData<string, byte[], int, string> MalformedRecordSections() => new()
    {
        {
            "record longer than the batch",
            [0x7E, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00], 1, "*impossible length 63*"
        },
        {
            "record shorter than its minimum",
            RawRecord(0x00, 0x00, 0x00), 1, "*impossible length 3*"
        },
        {
            "key length below -1",
            RawRecord(0x00, 0x00, 0x00, 0x03, 0x00, 0x00), 1, "*key length of -2*"
        },
        {
            "value longer than the record",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x14, 0x61, 0x00), 1, "*value length of 10*"
        },
        {
            "negative header count",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x01), 1, "*header count -1*"
        },
        {
            "header count larger than the bytes can hold",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00), 1, "*header count 8*"
        },
        {
            "null header key",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00), 1, "*null or negative key length*"
        },
        {
            "fields shorter than the declared record length",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00), 1, "*declares 7 bytes but its fields take 6*"
        },
        {
            "fewer records than declared",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00), 2, "*records end after 1 of the declared 2*"
        },
        {
            "huge declared record count",
            RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00), int.MaxValue, "*records end after 1*"
        },
        {
            "bytes after the declared records",
            [.. RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00), 0x00], 1, "*1 bytes follow the declared 1 records*"
        },
        {
            "varint longer than 5 bytes",
            RawRecord(0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01, 0x00, 0x00), 1, "*longer than 5 bytes*"
        },
    };

    [Theory]
    [MemberData(nameof(MalformedRecordSections))]
    public void Malformed_records_are_protocol_errors(string name, byte[] records, int count, string message)
    {
        byte[] batch = RecordTestHelpers.BuildBatch(records, count);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue(name);
        Action act = () =>
        {
            foreach (RecordView _ in reader.ReadRecords(view))
            {
            }
        };
        act.Should().Throw<KafkaProtocolException>(name).WithMessage(message);
    }

    [Fact]
    public void Hand_built_minimal_record_is_accepted()
    {
        // The smallest valid record: attributes, zero deltas, null key, empty value, no headers.
        byte[] batch = RecordTestHelpers.BuildBatch(RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00), 1, baseOffset: 77);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        int count = 0;
        foreach (RecordView r in reader.ReadRecords(view))
        {
            r.Offset.Should().Be(77);
            r.IsKeyNull.Should().BeTrue();
            r.IsValueNull.Should().BeFalse();
            r.Value.Length.Should().Be(0);
            count++;
        }
        count.Should().Be(1);
    }

    [Fact]
    public void Unknown_compression_codec_is_a_protocol_error()
    {
        byte[] batch = RecordTestHelpers.BuildBatch(RawRecord(0x00, 0x00, 0x00, 0x01, 0x00, 0x00), 1, attributes: 5);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        int codecId = (int)view.Compression;
        codecId.Should().Be(5);
        try
        {
            reader.ReadRecords(view);
            Assert.Fail("expected an exception");
        }
        catch (KafkaProtocolException ex)
        {
            ex.Message.Should().Contain("unknown compression codec id 5");
        }
    }

    [Fact]
    public void Raw_snappy_record_set_decodes()
    {
        // Some clients write snappy without the xerial framing; build such a batch by hand.
        byte[] records =
        [
            .. RawRecord([0x00, 0x00, 0x00, 0x02, (byte)'a', 0x02, (byte)'1', 0x00]),
            .. RawRecord([0x00, 0x02, 0x02, 0x02, (byte)'b', 0x02, (byte)'2', 0x00]),
        ];
        byte[] batch = RecordTestHelpers.BuildBatch(Snappy.CompressToArray(records), 2, attributes: 2, baseOffset: 40);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        view.Compression.Should().Be(CompressionType.Snappy);
        var seen = new List<string>();
        foreach (RecordView r in reader.ReadRecords(view))
        {
            seen.Add($"{r.Offset}:{Encoding.ASCII.GetString(r.Key)}={Encoding.ASCII.GetString(r.Value)}@{r.Timestamp}");
        }
        seen.Should().Equal("40:a=1@1000", "41:b=2@1001");
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Corrupted_compressed_records_with_a_valid_crc_raise_corrupt_record(CompressionType codec)
    {
        byte[] batch = WriteBatch(500, 50, codec);
        batch.AsSpan(61, 12).Fill(0xFF); // break the stream header, then make the CRC agree again
        RecordTestHelpers.FixCrc(batch);
        using var reader = new RecordBatchReader();
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        try
        {
            reader.ReadRecords(view);
            Assert.Fail("expected an exception");
        }
        catch (CorruptRecordException ex)
        {
            ex.Reason.Should().Be(CorruptRecordReason.InvalidCompressedData);
            ex.Message.Should().Contain("base offset 500");
        }
    }

    [Fact]
    public void Decompressed_size_limit_applies_per_batch()
    {
        byte[] batch = WriteBatch(0, 100, CompressionType.Zstd, valueSize: 1_000);
        using var reader = new RecordBatchReader { MaxDecompressedBytes = 50_000 };
        reader.Reset(batch);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        try
        {
            reader.ReadRecords(view);
            Assert.Fail("expected an exception");
        }
        catch (CorruptRecordException ex)
        {
            ex.Reason.Should().Be(CorruptRecordReason.DecompressedSizeLimitExceeded);
        }

        reader.MaxDecompressedBytes = 200_000;
        int count = 0;
        foreach (RecordView _ in reader.ReadRecords(view))
        {
            count++;
        }
        count.Should().Be(100);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Random_damage_without_crc_checks_only_ever_raises_kafka_exceptions(CompressionType codec)
    {
        // With CRC validation off nothing stops damaged bytes reaching the parsers; they must fail
        // with the typed errors (or decode something), never index out of range or allocate wildly.
        byte[] original = RecordTestHelpers.Concat(WriteBatch(0, 20, codec), WriteBatch(20, 5));
        var random = new Random(99 + (int)codec);
        using var reader = new RecordBatchReader { ValidateCrc = false, MaxDecompressedBytes = 1 << 20 };
        for (int i = 0; i < 500; i++)
        {
            byte[] damaged = (byte[])original.Clone();
            for (int f = random.Next(1, 4); f > 0; f--)
            {
                damaged[random.Next(damaged.Length)] ^= (byte)random.Next(1, 256);
            }
            reader.Reset(damaged);
            try
            {
                while (reader.TryReadBatch(out RecordBatchView batch))
                {
                    foreach (RecordView r in reader.ReadRecords(batch))
                    {
                        foreach (RecordHeaderView h in r.Headers)
                        {
                            _ = h.KeyUtf8.Length + h.Value.Length;
                        }
                        _ = r.Key.Length + r.Value.Length;
                    }
                }
            }
            catch (KafkaException)
            {
            }
        }
    }

    [Fact]
    public void Log_append_time_batches_give_every_record_the_max_timestamp()
    {
        using var writer = new RecordBatchWriter { TimestampType = TimestampType.LogAppendTime };
        writer.Append(10, "a"u8, "1"u8);
        writer.Append(30, "b"u8, "2"u8);
        writer.Append(20, "c"u8, "3"u8);
        using var reader = new RecordBatchReader();
        reader.Reset(writer.Finish());
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        var timestamps = new List<long>();
        foreach (RecordView r in reader.ReadRecords(view))
        {
            timestamps.Add(r.Timestamp);
        }
        timestamps.Should().Equal(30, 30, 30);
    }

    [Fact]
    public void Records_of_an_uncompressed_batch_are_slices_of_the_input()
    {
        byte[] set = WriteBatch(0, 2);
        using var reader = new RecordBatchReader();
        reader.Reset(set);
        reader.TryReadBatch(out RecordBatchView view).Should().BeTrue();
        view.Memory.Length.Should().Be(set.Length);
        foreach (RecordView r in reader.ReadRecords(view))
        {
            System.Runtime.InteropServices.MemoryMarshal.TryGetArray(r.ValueMemory, out ArraySegment<byte> segment).Should().BeTrue();
            segment.Array.Should().BeSameAs(set, "no copy is made");
        }
    }

    private static ReadOnlySequence<byte> BuildSequence(byte[] data, int segmentSize)
    {
        Segment? first = null;
        Segment? last = null;
        for (int i = 0; i < data.Length; i += segmentSize)
        {
            var memory = data.AsMemory(i, Math.Min(segmentSize, data.Length - i));
            if (first is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last!.Append(memory);
            }
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
