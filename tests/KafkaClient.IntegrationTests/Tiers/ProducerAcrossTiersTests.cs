using System.Text;
using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.TestBrokers;
using C = Confluent.Kafka;

namespace KafkaClient.IntegrationTests.Tiers;

/// <summary>One test body per behaviour, run against every broker tier (2, 3 and, when available, 4).</summary>
public sealed class ProducerAcrossTiersTests
{
    static ProducerAcrossTiersTests() => LibrdkafkaNativeLibrary.ShareWith(typeof(C.Library).Assembly);

    [Theory]
    [InlineData(BrokerTier.Embedded)]
    [InlineData(BrokerTier.LibrdkafkaMock)]
    [InlineData(BrokerTier.RealKafka)]
    public async Task Keyed_records_keep_their_order_and_land_on_the_java_partition(BrokerTier tier)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await TierBroker.StartAsync(tier, ct);
        string topic = LibrdkafkaMockClusterFixture.UniqueName("tiers");
        await broker.CreateTopicAsync(topic, 4);

        await using (var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = broker.BootstrapServers, Compression = CompressionType.Lz4 }))
        {
            var results = new List<Task<DeliveryResult<string, string>>>();
            for (int i = 0; i < 400; i++)
            {
                results.Add(producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i % 8}", Value = $"{i}" }, ct).AsTask());
            }
            foreach (var result in await Task.WhenAll(results))
            {
                result.Partition.Should().Be(Producer.Partitioners.PartitionForKey(Encoding.UTF8.GetBytes(result.Message.Key!), 4));
            }
        }

        using var consumer = new C.ConsumerBuilder<string, string>(new C.ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = topic, EnablePartitionEof = true }).Build();
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new C.TopicPartitionOffset(topic, p, C.Offset.Beginning)));
        var byKey = new Dictionary<string, List<int>>();
        int eofs = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (eofs < 4 && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (record is null)
            {
                continue;
            }
            if (record.IsPartitionEOF)
            {
                eofs++;
                continue;
            }
            (byKey.TryGetValue(record.Message.Key, out var list) ? list : byKey[record.Message.Key] = []).Add(int.Parse(record.Message.Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        byKey.Values.Sum(l => l.Count).Should().Be(400);
        byKey.Values.Should().OnlyContain(values => values.SequenceEqual(values.Order()), "each key's records keep the order they were produced in");
    }
}
