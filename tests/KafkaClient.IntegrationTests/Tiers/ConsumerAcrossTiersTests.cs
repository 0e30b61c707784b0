using System.Text;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.TestBrokers;
using C = Confluent.Kafka;

namespace KafkaClient.IntegrationTests.Tiers;

/// <summary>Our consumer reading what Confluent.Kafka (librdkafka) wrote, in a group, on every broker tier.</summary>
public sealed class ConsumerAcrossTiersTests
{
    static ConsumerAcrossTiersTests() => LibrdkafkaNativeLibrary.ShareWith(typeof(C.Library).Assembly);

    [Theory]
    [InlineData(BrokerTier.Embedded)]
    [InlineData(BrokerTier.LibrdkafkaMock)]
    [InlineData(BrokerTier.RealKafka)]
    public async Task A_group_reads_what_librdkafka_wrote_and_a_new_member_resumes_at_the_commit(BrokerTier tier)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await TierBroker.StartAsync(tier, ct);
        string topic = LibrdkafkaMockClusterFixture.UniqueName("tiers-consume");
        await broker.CreateTopicAsync(topic, 3);

        using (var producer = new C.ProducerBuilder<string, string>(new C.ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            CompressionType = C.CompressionType.Zstd,
            Partitioner = C.Partitioner.Murmur2Random,
        }).Build())
        {
            for (int i = 0; i < 300; i++)
            {
                var headers = new C.Headers { { "n", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)) } };
                producer.Produce(topic, new C.Message<string, string> { Key = $"k{i % 7}", Value = $"v{i}", Headers = headers });
            }
            producer.Flush(ct);
        }

        var options = new ConsumerOptions
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "g-" + topic,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitStrategy = CommitStrategy.Manual,
            SessionTimeout = TimeSpan.FromSeconds(10),
        };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var byKey = new Dictionary<string, List<int>>();
        await using (var first = new KafkaConsumer<string, string>(options))
        {
            first.Subscribe([topic]);
            while (byKey.Values.Sum(l => l.Count) < 200)
            {
                var record = await first.ConsumeAsync(deadline.Token);
                record.Headers.TryGetLastValue("n", out var n).Should().BeTrue();
                int i = int.Parse(Encoding.UTF8.GetString(n.Span), System.Globalization.CultureInfo.InvariantCulture);
                record.Value.Should().Be($"v{i}");
                record.Key.Should().Be($"k{i % 7}");
                (byKey.TryGetValue(record.Key!, out var list) ? list : byKey[record.Key!] = []).Add(i);
            }
            await first.CommitAsync(deadline.Token);
        }

        await using var second = new KafkaConsumer<string, string>(options);
        second.Subscribe([topic]);
        while (byKey.Values.Sum(l => l.Count) < 300)
        {
            var record = await second.ConsumeAsync(deadline.Token);
            (byKey.TryGetValue(record.Key!, out var list) ? list : byKey[record.Key!] = []).Add(int.Parse(record.Value![1..], System.Globalization.CultureInfo.InvariantCulture));
        }

        byKey.Values.SelectMany(v => v).Should().BeEquivalentTo(Enumerable.Range(0, 300), "every record is read once: the second member starts at the first one's commit");
        byKey.Values.Should().OnlyContain(values => values.SequenceEqual(values.Order()), "each key's records arrive in the order they were produced");
    }
}
