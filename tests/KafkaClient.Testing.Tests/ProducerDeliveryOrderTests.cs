using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.Serialization;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// Delivery reports of one partition come in offset order, as Java's and librdkafka's do, even with five requests in
/// flight: the connection completes each response on the thread pool, and the producer handles one leader's responses
/// in the order their requests were sent.
/// </summary>
public sealed class ProducerDeliveryOrderTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Callbacks_of_one_partition_report_offsets_in_order_with_requests_in_flight(bool idempotent)
    {
        string topic = EmbeddedClusterFixture.UniqueName("order");
        fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 1);
        var reported = new ConcurrentQueue<(int Partition, long Offset)>();
        Exception? failure = null;
        await using (var producer = new KafkaProducer<Null, byte[]>(new ProducerOptions
        {
            BootstrapServers = fixture.Cluster.BootstrapServers,
            EnableIdempotence = idempotent,
            Acks = Acks.All,
            // Small batches, sent at once: many requests, up to five in flight per connection.
            BatchSize = 2048,
            Linger = TimeSpan.Zero,
            MaxInFlightRequestsPerConnection = 5,
        }))
        {
            var value = new byte[100];
            for (int i = 0; i < 40_000; i++)
            {
                producer.Produce(new TopicPartition(topic, i % 2), new Message<Null, byte[]> { Value = value }, d =>
                {
                    if (d.Error is not null)
                    {
                        Interlocked.CompareExchange(ref failure, d.Error, null);
                    }
                    reported.Enqueue((d.Partition, d.Offset));
                });
            }
            await producer.FlushAsync(TestContext.Current.CancellationToken);
        }

        failure.Should().BeNull();
        foreach (var partition in reported.GroupBy(r => r.Partition))
        {
            var offsets = partition.Select(r => r.Offset).ToList();
            offsets.Should().HaveCount(20_000);
            offsets.Should().Equal(Enumerable.Range(0, 20_000).Select(o => (long)o), $"partition {partition.Key}'s deliveries are reported in offset order");
        }
    }
}
