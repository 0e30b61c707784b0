using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using FluentAssertions;
using KafkaClient.Diagnostics;
using KafkaClient.Producer;
using KafkaClient.TestBrokers;
using C = Confluent.Kafka;

namespace KafkaClient.IntegrationTests;

/// <summary>
/// Runs alone, after every parallel collection: an activity listener is process-wide, and while it listens every producer
/// in the process writes a <c>traceparent</c> header, which other tests' header assertions would see.
/// </summary>
[CollectionDefinition(nameof(ProducerDiagnosticsTests), DisableParallelization = true)]
public sealed class ProducerDiagnosticsCollection;

/// <summary>Metrics and tracing of the producer.</summary>
[Collection(nameof(ProducerDiagnosticsTests))]
public sealed class ProducerDiagnosticsTests : IClassFixture<LibrdkafkaMockClusterFixture>
{
    private readonly LibrdkafkaMockClusterFixture _fixture;

    static ProducerDiagnosticsTests() => LibrdkafkaNativeLibrary.ShareWith(typeof(C.Library).Assembly);

    public ProducerDiagnosticsTests(LibrdkafkaMockClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Each_record_gets_a_producer_span_whose_trace_context_travels_in_the_headers()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("trace");
        _fixture.Cluster.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == KafkaDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (stopped) { stopped.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);

        await using (var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = _fixture.BootstrapServers }))
        {
            await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, TestContext.Current.CancellationToken);
        }

        Activity span;
        lock (stopped)
        {
            span = stopped.Single(a => a.OperationName == $"{topic} publish");
        }
        span.Kind.Should().Be(ActivityKind.Producer);
        span.GetTagItem("messaging.destination.name").Should().Be(topic);
        span.GetTagItem("messaging.kafka.offset").Should().Be(0L);

        using var consumer = new C.ConsumerBuilder<string, string>(new C.ConsumerConfig { BootstrapServers = _fixture.BootstrapServers, GroupId = "g-" + topic }).Build();
        consumer.Assign(new C.TopicPartitionOffset(topic, 0, C.Offset.Beginning));
        var record = consumer.Consume(TimeSpan.FromSeconds(10));
        record.Should().NotBeNull();
        var traceparent = Encoding.UTF8.GetString(record!.Message.Headers.GetLastBytes("traceparent"));
        traceparent.Should().Be(span.Id, "the W3C traceparent header carries the producer span's id");
    }

    [Fact]
    public async Task Records_sent_and_batches_are_counted()
    {
        string topic = LibrdkafkaMockClusterFixture.UniqueName("metrics");
        _fixture.Cluster.CreateTopic(topic, partitions: 2, replicationFactor: 1);
        long recordsSent = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == KafkaDiagnostics.MeterName && instrument.Name == "kafka.producer.records.sent")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.destination.name" && (string?)tag.Value == topic)
                {
                    Interlocked.Add(ref recordsSent, value);
                }
            }
        });
        listener.Start();

        await using (var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = _fixture.BootstrapServers }))
        {
            for (int i = 0; i < 250; i++)
            {
                producer.Produce(topic, new Message<string, string> { Key = $"k{i}", Value = "v" });
            }
            await producer.FlushAsync(TestContext.Current.CancellationToken);
        }

        Interlocked.Read(ref recordsSent).Should().Be(250);
    }
}
