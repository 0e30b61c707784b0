using System.Text;
using FluentAssertions;
using KafkaClient.Protocol.Records;
using Xunit;

namespace KafkaClient.Tests.Records;

public sealed class Crc32CTests
{
    public static TheoryData<string, byte[], uint> PublishedVectors => new()
    {
        // RFC 3720 (iSCSI) appendix B.4 test vectors.
        { "32 zero bytes", new byte[32], 0x8A9136AA },
        { "32 0xFF bytes", Enumerable.Repeat((byte)0xFF, 32).ToArray(), 0x62A8AB43 },
        { "ascending 0..31", Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), 0x46DD794E },
        { "descending 31..0", Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(), 0x113FDB5C },
        // The standard CRC catalogue check value.
        { "123456789", Encoding.ASCII.GetBytes("123456789"), 0xE3069283 },
        { "empty", [], 0x00000000 },
    };

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void Compute_matches_published_vectors(string name, byte[] data, uint expected)
    {
        Crc32C.Compute(data).Should().Be(expected, name);
        Crc32C.AppendSoftware(0, data).Should().Be(expected, name);
        RecordTestHelpers.ReferenceCrc32C(data).Should().Be(expected, "the test's reference CRC must agree too");
    }

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void Hardware_path_matches_published_vectors(string name, byte[] data, uint expected)
    {
        if (!Crc32C.IsHardwareAccelerated)
        {
            Assert.Skip("No CRC-32C instruction on this CPU.");
        }
        Crc32C.AppendHardware(0, data).Should().Be(expected, name);
    }

    [Fact]
    public void Append_continues_a_crc_across_any_split()
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(100_000, seed: 1);
        uint whole = Crc32C.Compute(data);
        foreach (int split in new[] { 0, 1, 7, 8, 767, 768, 24_576, 24_577, 99_999, 100_000 })
        {
            uint first = Crc32C.Compute(data.AsSpan(0, split));
            Crc32C.Append(first, data.AsSpan(split)).Should().Be(whole, $"split at {split}");
            Crc32C.AppendSoftware(Crc32C.AppendSoftware(0, data.AsSpan(0, split)), data.AsSpan(split)).Should().Be(whole);
        }
    }

    [Fact]
    public void Software_path_matches_bitwise_reference_on_random_data()
    {
        var random = new Random(42);
        for (int i = 0; i < 200; i++)
        {
            var data = new byte[random.Next(0, 2_000)];
            random.NextBytes(data);
            Crc32C.AppendSoftware(0, data).Should().Be(RecordTestHelpers.ReferenceCrc32C(data), $"length {data.Length}");
        }
    }

    [Fact]
    public void Hardware_and_software_agree_on_random_lengths_and_alignments()
    {
        if (!Crc32C.IsHardwareAccelerated)
        {
            Assert.Skip("No CRC-32C instruction on this CPU.");
        }
        var random = new Random(7);
        var buffer = new byte[(1 << 20) + 64];
        random.NextBytes(buffer);

        // Lengths around every path boundary: the 8-byte loop, three short blocks (768) and three long blocks (24 KiB).
        var lengths = new List<int> { 0, 1, 7, 8, 9, 15, 16, 767, 768, 769, 1535, 1536, 24_575, 24_576, 24_577, 49_152 + 768 + 9, 1 << 20 };
        for (int i = 0; i < 300; i++)
        {
            lengths.Add(random.Next(0, i < 250 ? 70_000 : 1 << 20));
        }
        foreach (int length in lengths)
        {
            int offset = random.Next(0, 64);
            ReadOnlySpan<byte> slice = buffer.AsSpan(offset, length);
            uint seed = (uint)random.Next();
            Crc32C.AppendHardware(seed, slice).Should().Be(
                Crc32C.AppendSoftware(seed, slice), $"length {length} at offset {offset} from seed {seed:X8}");
        }
    }

    [Fact]
    public void A_single_flipped_bit_changes_the_crc()
    {
        byte[] data = RecordTestHelpers.CompressibleBytes(50_000, seed: 3);
        uint original = Crc32C.Compute(data);
        foreach (int position in new[] { 0, 1_000, 24_576, 49_999 })
        {
            data[position] ^= 0x10;
            Crc32C.Compute(data).Should().NotBe(original);
            data[position] ^= 0x10;
        }
        Crc32C.Compute(data).Should().Be(original);
    }
}
