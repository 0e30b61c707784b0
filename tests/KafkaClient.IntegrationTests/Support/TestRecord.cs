using System.Text;
using FluentAssertions;
using KafkaClient.Protocol.Records;

namespace KafkaClient.IntegrationTests.Support;

/// <summary>A header as a test expects or observed it: a key and a value that may be null.</summary>
public sealed record TestHeader(string Key, byte[]? Value);

/// <summary>
/// A record as written or read, materialised (no views into pooled or received memory), so the
/// same shape can be compared whichever client wrote or read it. <see cref="Offset"/> is -1 for a
/// record that has not been written yet.
/// </summary>
public sealed record TestRecord(long Offset, long Timestamp, byte[]? Key, byte[]? Value, IReadOnlyList<TestHeader> Headers)
{
    /// <summary>
    /// A varied set of records: null and empty keys, null (tombstone) and empty values, a value
    /// larger than every codec's block size (LZ4 64 KiB, xerial snappy 32 KiB), headers with several
    /// values for one key, a null and an empty header value, a non-ASCII header key, and timestamps
    /// that go backwards inside the batch (negative timestamp deltas).
    /// </summary>
    public static IReadOnlyList<TestRecord> CreateSet(int count, long baseTimestamp, string tag)
    {
        var records = new List<TestRecord>(count);
        for (int i = 0; i < count; i++)
        {
            byte[]? key = (i % 7) switch
            {
                3 => null,
                5 => [],
                _ => Encoding.UTF8.GetBytes($"{tag}-key-{i}"),
            };
            byte[]? value = (i % 11) switch
            {
                4 => [],
                9 => null,
                _ => i == count / 2 ? LargeValue(200 * 1024, i) : Encoding.UTF8.GetBytes($"value {i} of {tag}: " + string.Concat(Enumerable.Repeat("compressible text ", 1 + (i % 5)))),
            };
            IReadOnlyList<TestHeader> headers = (i % 3) switch
            {
                0 => [],
                1 =>
                [
                    new("trace", Encoding.UTF8.GetBytes($"a-{i}")),
                    new("nullable", null),
                    new("trace", Encoding.UTF8.GetBytes($"b-{i}")),
                    new("empty", []),
                    new("trace", Encoding.UTF8.GetBytes($"c-{i}")),
                ],
                _ => [new("schlüssel-ключ", Encoding.UTF8.GetBytes($"wert {i}")), new("nullable", null)],
            };
            // Mostly increasing, with a step back every 13th record: deltas from the base are signed.
            long timestamp = baseTimestamp + (i * 17L) - (i % 13 == 12 ? 5_000 : 0);
            records.Add(new TestRecord(-1, timestamp, key, value, headers));
        }
        return records;
    }

    /// <summary>Reads a record of a batch into a <see cref="TestRecord"/> (copies everything).</summary>
    public static TestRecord From(in RecordView record)
    {
        var headers = new List<TestHeader>(record.HeaderCount);
        foreach (var header in record.Headers)
        {
            headers.Add(new TestHeader(header.GetKey(), header.IsValueNull ? null : header.Value.ToArray()));
        }
        return new TestRecord(
            record.Offset,
            record.Timestamp,
            record.IsKeyNull ? null : record.Key.ToArray(),
            record.IsValueNull ? null : record.Value.ToArray(),
            headers);
    }

    /// <summary>Appends this record to <paramref name="writer"/>.</summary>
    public void AppendTo(RecordBatchWriter writer)
    {
        var headers = Headers.Select(h => new RecordHeader(h.Key, h.Value)).ToArray();
        writer.Append(Timestamp, Key, Value, headers);
    }

    /// <summary>Builds a finished batch of <paramref name="records"/> with <paramref name="codec"/>.</summary>
    public static ReadOnlyMemory<byte> WriteBatch(RecordBatchWriter writer, IEnumerable<TestRecord> records, CompressionType codec)
    {
        writer.Reset();
        writer.Compression = codec;
        foreach (var record in records)
        {
            record.AppendTo(writer);
        }
        return writer.Finish();
    }

    /// <summary>
    /// Asserts that <paramref name="actual"/> holds exactly <paramref name="expected"/>, in order,
    /// with offsets counting up from <paramref name="firstOffset"/> (or ignoring offsets when it is null).
    /// Null and empty are different everywhere.
    /// </summary>
    public static void ShouldMatch(IReadOnlyList<TestRecord> actual, IReadOnlyList<TestRecord> expected, long? firstOffset)
    {
        actual.Should().HaveCount(expected.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var a = actual[i];
            var e = expected[i];
            string which = $"record #{i}";
            if (firstOffset is { } first)
            {
                a.Offset.Should().Be(first + i, which);
            }
            a.Timestamp.Should().Be(e.Timestamp, which);
            ShouldBeSameBytes(a.Key, e.Key, $"{which} key");
            ShouldBeSameBytes(a.Value, e.Value, $"{which} value");
            a.Headers.Select(h => h.Key).Should().Equal(e.Headers.Select(h => h.Key), $"{which} header keys, in order");
            for (int h = 0; h < e.Headers.Count; h++)
            {
                ShouldBeSameBytes(a.Headers[h].Value, e.Headers[h].Value, $"{which} header #{h} ({e.Headers[h].Key}) value");
            }
        }
    }

    private static void ShouldBeSameBytes(byte[]? actual, byte[]? expected, string what)
    {
        if (expected is null)
        {
            actual.Should().BeNull(what + " is null");
            return;
        }
        actual.Should().NotBeNull(what + " is not null");
        // SequenceEqual first: a 200 KiB mismatch should not be printed element by element.
        if (!actual.AsSpan().SequenceEqual(expected))
        {
            int at = actual.AsSpan().CommonPrefixLength(expected);
            actual!.Length.Should().Be(expected.Length, what + " length");
            Assert.Fail($"{what}: {actual.Length} bytes differ from the expected ones at index {at}.");
        }
    }

    private static byte[] LargeValue(int size, int seed)
    {
        // Compressible but not trivially so: short random runs of a small alphabet.
        var random = new Random(seed);
        var bytes = new byte[size];
        for (int i = 0; i < size;)
        {
            byte b = (byte)('a' + random.Next(8));
            int run = 1 + random.Next(6);
            for (int j = 0; j < run && i < size; j++, i++)
            {
                bytes[i] = b;
            }
        }
        return bytes;
    }
}
