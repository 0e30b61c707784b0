using System.Text;
using FluentAssertions;
using KafkaClient.Producer;

namespace KafkaClient.Tests.Producer;

public sealed class PartitionerTests
{
    [Theory]
    // Apache Kafka's own vectors (UtilsTest.testMurmur2 in the Java client).
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    public void Murmur2_matches_the_java_client(string key, int expected) =>
        Partitioners.Murmur2(Encoding.ASCII.GetBytes(key)).Should().Be(expected);

    [Fact]
    public void Keyed_records_go_to_the_positive_hash_modulo_partition_count()
    {
        var key = Encoding.ASCII.GetBytes("foobar");
        int expected = (-790332482 & 0x7fffffff) % 10;
        Partitioners.Default.Partition("t", 10, key, keyIsNull: false).Should().Be(expected);
        Partitioners.PartitionForKey(key, 10).Should().Be(expected);
    }

    [Fact]
    public void Records_without_a_key_are_left_to_the_sticky_strategy()
    {
        Partitioners.Default.Partition("t", 10, default, keyIsNull: true).Should().Be(Partitioners.NoPreference);
        Partitioners.UniformSticky.Partition("t", 10, "k"u8, keyIsNull: false).Should().Be(Partitioners.NoPreference);
    }

    [Fact]
    public void Round_robin_cycles_through_partitions_per_topic()
    {
        var partitioner = Partitioners.RoundRobin;
        Enumerable.Range(0, 7).Select(_ => partitioner.Partition("a", 3, default, true)).Should().Equal(0, 1, 2, 0, 1, 2, 0);
        partitioner.Partition("b", 3, default, true).Should().Be(0, "each topic has its own cycle");
    }
}
