using Confluent.Kafka;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests.Support;

/// <summary>
/// Confluent.Kafka (librdkafka inside) as an independent peer. Its DllImports are bound to the
/// librdkafka file the mock cluster loaded, before the first Confluent client exists (see the
/// TestBrokers README: <c>Library.Load</c> does not work on Debian 12).
/// </summary>
public static class ConfluentPeer
{
    private static readonly Lazy<bool> Shared = new(() =>
    {
        LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);
        return true;
    });

    public static IProducer<byte[]?, byte[]?> Producer(string bootstrap, Action<ProducerConfig> configure)
    {
        _ = Shared.Value;
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            EnableIdempotence = false,
            MessageTimeoutMs = 10_000,
            LogConnectionClose = false,
        };
        configure(config);
        return new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetKeySerializer(Serializers.ByteArray)
            .SetValueSerializer(Serializers.ByteArray)
            .SetLogHandler(static (_, _) => { })
            .Build();
    }

    public static IConsumer<byte[]?, byte[]?> Consumer(string bootstrap)
    {
        _ = Shared.Value;
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = LibrdkafkaMockClusterFixture.UniqueName("interop-group"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Error, // the assignment says where to start
            FetchWaitMaxMs = 50,
            CheckCrcs = true, // librdkafka verifies the CRC-32C of every batch we wrote
            LogConnectionClose = false,
        };
        return new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetLogHandler(static (_, _) => { })
            .Build();
    }

    public static Message<byte[]?, byte[]?> ToMessage(TestRecord record)
    {
        var headers = new Headers();
        foreach (var header in record.Headers)
        {
            headers.Add(header.Key, header.Value);
        }
        return new Message<byte[]?, byte[]?>
        {
            Key = record.Key,
            Value = record.Value,
            Headers = headers,
            Timestamp = new Timestamp(record.Timestamp, Confluent.Kafka.TimestampType.CreateTime),
        };
    }

    public static TestRecord FromResult(ConsumeResult<byte[]?, byte[]?> result) => new(
        result.Offset.Value,
        result.Message.Timestamp.UnixTimestampMs,
        result.Message.Key,
        result.Message.Value,
        result.Message.Headers?.Select(h => new TestHeader(h.Key, h.GetValueBytes())).ToList() ?? []);

    public static KafkaClient.CompressionType ToOurs(Confluent.Kafka.CompressionType codec) => codec switch
    {
        Confluent.Kafka.CompressionType.None => KafkaClient.CompressionType.None,
        Confluent.Kafka.CompressionType.Gzip => KafkaClient.CompressionType.Gzip,
        Confluent.Kafka.CompressionType.Snappy => KafkaClient.CompressionType.Snappy,
        Confluent.Kafka.CompressionType.Lz4 => KafkaClient.CompressionType.Lz4,
        Confluent.Kafka.CompressionType.Zstd => KafkaClient.CompressionType.Zstd,
        _ => throw new ArgumentOutOfRangeException(nameof(codec), codec, null),
    };
}
