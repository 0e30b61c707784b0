using FluentAssertions;
using KafkaClient.Producer;

namespace KafkaClient.Tests.Producer;

/// <summary>
/// <see cref="ProducerOptions.Validate"/>: settings that could only fail later, inside the send loop, fail when the
/// producer is built instead.
/// </summary>
public sealed class ProducerOptionsValidationTests
{
    private static readonly ProducerOptions Valid = new() { BootstrapServers = "localhost:9092" };

    [Theory]
    [InlineData(CompressionType.Gzip, 10)]
    [InlineData(CompressionType.Gzip, -2)]
    [InlineData(CompressionType.Lz4, 13)]
    [InlineData(CompressionType.Zstd, 23)]
    [InlineData(CompressionType.Snappy, 1)]
    [InlineData(CompressionType.None, 3)]
    public void A_compression_level_outside_the_codecs_range_is_rejected(CompressionType codec, int level)
    {
        var act = () => (Valid with { Compression = codec, CompressionLevel = level }).Validate();
        act.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be(nameof(ProducerOptions.CompressionLevel));
    }

    [Theory]
    [InlineData(CompressionType.Gzip, 9)]
    [InlineData(CompressionType.Gzip, -1)]
    [InlineData(CompressionType.Lz4, 12)]
    [InlineData(CompressionType.Zstd, 22)]
    [InlineData(CompressionType.Zstd, -5)]
    [InlineData(CompressionType.None, 0)]
    public void A_level_in_the_codecs_range_is_accepted(CompressionType codec, int level) =>
        (Valid with { Compression = codec, CompressionLevel = level }).Invoking(o => o.Validate()).Should().NotThrow();

    [Fact]
    public void An_unknown_compression_type_is_rejected() =>
        (Valid with { Compression = (CompressionType)9 }).Invoking(o => o.Validate()).Should().Throw<ArgumentOutOfRangeException>()
            .Which.ParamName.Should().Be(nameof(ProducerOptions.Compression));

    [Fact]
    public void The_producer_constructor_rejects_a_bad_level_before_anything_is_sent()
    {
        var act = () => new KafkaProducer<string, string>(Valid with { Compression = CompressionType.Gzip, CompressionLevel = 42 });
        act.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("Gzip levels are 0 to 9");
    }
}
