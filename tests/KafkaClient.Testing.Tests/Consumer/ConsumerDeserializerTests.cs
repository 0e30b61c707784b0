using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Serialization;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Deserializers: zero-copy memory, and failures that name the record and keep the position at it.</summary>
public sealed class ConsumerDeserializerTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options => new() { BootstrapServers = Cluster.BootstrapServers, FetchMaxWait = TimeSpan.FromMilliseconds(50) };

    /// <summary>Writes raw keys and values (null stays null) to partition 0 of a new topic.</summary>
    private async Task<TopicPartition> WriteRawAsync(params (byte[]? Key, byte[]? Value)[] records)
    {
        string topic = NewTopic(Cluster, "raw");
        var tp = new TopicPartition(topic, 0);
        await using var producer = new KafkaProducer<byte[]?, byte[]?>(new ProducerOptions { BootstrapServers = Cluster.BootstrapServers });
        foreach (var (key, value) in records)
        {
            await producer.ProduceAsync(tp, new Message<byte[]?, byte[]?> { Key = key, Value = value }, Ct);
        }
        return tp;
    }

    private static byte[] Int32Bytes(int value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Int64Bytes(long value)
    {
        byte[] bytes = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public async Task Memory_values_are_views_of_the_fetch_buffer_not_copies()
    {
        var tp = await WriteRawAsync(([1], [10, 11, 12]), ([2], [20, 21, 22, 23]), (null, null));
        await using var consumer = new KafkaConsumer<ReadOnlyMemory<byte>, ReadOnlyMemory<byte>>(Options);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        var first = await consumer.ConsumeAsync(Ct);
        first.Value.ToArray().Should().Equal(10, 11, 12);
        first.Key.ToArray().Should().Equal(1);
        MemoryMarshal.TryGetArray(first.Value, out var firstSegment).Should().BeTrue();
        var second = await consumer.ConsumeAsync(Ct);
        second.Value.ToArray().Should().Equal(20, 21, 22, 23);
        MemoryMarshal.TryGetArray(second.Value, out var secondSegment).Should().BeTrue();
        var third = await consumer.ConsumeAsync(Ct);

        firstSegment.Array!.Length.Should().BeGreaterThan(first.Value.Length, "the value is a slice of a larger buffer");
        firstSegment.Offset.Should().BeGreaterThan(0);
        secondSegment.Array.Should().BeSameAs(firstSegment.Array, "both values point into the same fetched bytes");
        third.Value.IsEmpty.Should().BeTrue("a null value reads as empty memory");
        third.Key.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public async Task A_bad_Int32_value_fails_with_the_record_and_the_position_stays_until_a_seek()
    {
        var tp = await WriteRawAsync(
            (null, Int32Bytes(1)), (null, Int32Bytes(2)), (null, [1, 2, 3]), (null, Int32Bytes(4)));
        await using var consumer = new KafkaConsumer<string?, int>(Options);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        (await consumer.ConsumeAsync(Ct)).Value.Should().Be(1);
        (await consumer.ConsumeAsync(Ct)).Value.Should().Be(2);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(Ct)).Should().ThrowAsync<KafkaSerializationException>();
            error.Which.Record.Should().Be(new TopicPartitionOffset(tp, 2));
            consumer.Position(tp).Should().Be(2, "the failed record is not consumed");
        }

        consumer.Seek(new TopicPartitionOffset(tp, 3));
        var next = await consumer.ConsumeAsync(Ct);
        next.Offset.Should().Be(3);
        next.Value.Should().Be(4);
    }

    [Fact]
    public async Task A_bad_Int64_key_fails_with_the_record()
    {
        var tp = await WriteRawAsync((Int64Bytes(42), [0x61]), (null, [0x62]));
        await using var consumer = new KafkaConsumer<long, string>(Options);
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        var first = await consumer.ConsumeAsync(Ct);
        first.Key.Should().Be(42);
        first.Value.Should().Be("a");
        var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(Ct)).Should().ThrowAsync<KafkaSerializationException>();
        error.Which.Record.Should().Be(new TopicPartitionOffset(tp, 1));
        error.Which.Message.Should().Contain("null");
    }

    [Fact]
    public async Task A_custom_deserializer_exception_is_wrapped_with_the_record()
    {
        var tp = await WriteRawAsync((null, [1]), (null, [0xFF]), (null, [3]));
        await using var consumer = new KafkaConsumer<string?, byte>(Options, valueDeserializer: new PickyDeserializer());
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        (await consumer.ConsumeAsync(Ct)).Value.Should().Be(1);
        var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(Ct)).Should().ThrowAsync<KafkaSerializationException>();
        error.Which.Record.Should().Be(new TopicPartitionOffset(tp, 1));
        error.Which.InnerException.Should().BeOfType<FormatException>();
        consumer.Seek(new TopicPartitionOffset(tp, 2));
        (await consumer.ConsumeAsync(Ct)).Value.Should().Be(3);
    }

    private sealed class PickyDeserializer : IDeserializer<byte>
    {
        public byte Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context)
        {
            byte value = data.FirstSpan[0];
            return value == 0xFF ? throw new FormatException("0xFF is not allowed") : value;
        }
    }
}
