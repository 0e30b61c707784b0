using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Diagnostics;
using KafkaClient.Producer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// Metrics (a MeterListener on the KafkaClient meter) and tracing (an ActivityListener on the KafkaClient source).
/// Listeners are process-wide and other test classes run in parallel, so measurements and spans are filtered by this
/// test's topic; instruments without a topic tag are only checked to have been recorded. The class runs alone, after every
/// parallel collection, because while its activity listener listens every producer in the process writes a <c>traceparent</c>
/// header, which other tests' header assertions would see.
/// </summary>
[Collection(nameof(ConsumerDiagnosticsTests))]
public sealed class ConsumerDiagnosticsTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private sealed class Measurements : IDisposable
    {
        private readonly MeterListener _listener = new();

        public Measurements()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == KafkaDiagnostics.MeterName && instrument.Name.StartsWith("kafka.consumer.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.Start();
        }

        public ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> All { get; } = new();

        public IEnumerable<double> Values(string name, string? topic = null) =>
            All.Where(m => m.Name == name && (topic is null || Equals(m.Tags.GetValueOrDefault("topic"), topic))).Select(m => m.Value);

        public void Observe() => _listener.RecordObservableInstruments();

        public void Dispose() => _listener.Dispose();

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dictionary = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                dictionary[tag.Key] = tag.Value;
            }
            All.Enqueue((instrument.Name, value, dictionary));
        }
    }

    [Fact]
    public async Task Consumer_metrics_count_records_bytes_fetches_lag_commits_and_rebalances()
    {
        using var metrics = new Measurements();
        string topic = NewTopic(Cluster, "metrics");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 30);
        var log = new RebalanceLog();
        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            GroupId = EmbeddedClusterFixture.UniqueName("metrics"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitStrategy = CommitStrategy.Manual,
            OnRebalance = log.Handler,
            FetchMaxWait = TimeSpan.FromMilliseconds(50),
        });
        consumer.Subscribe([topic]);

        for (int i = 0; i < 10; i++)
        {
            await consumer.ConsumeAsync(Ct);
        }
        await WaitUntilAsync(() => consumer.Lag(tp) == 20, Deadline, "the lag is known");
        metrics.Observe();
        metrics.All.Where(m => m.Name == "kafka.consumer.lag" && Equals(m.Tags.GetValueOrDefault("topic"), topic))
            .Should().ContainSingle().Which.Should().Match<(string, double Value, Dictionary<string, object?> Tags)>(m => m.Value == 20 && Equals(m.Tags["partition"], 0));

        await ConsumeAsync(consumer, 20);
        await consumer.CommitAsync(Ct);

        metrics.Values("kafka.consumer.records.consumed", topic).Sum().Should().Be(30);
        metrics.Values("kafka.consumer.bytes.consumed", topic).Sum().Should().BeGreaterThan(30 * 4);
        metrics.Values("kafka.consumer.fetch.duration").Should().NotBeEmpty();
        metrics.Values("kafka.consumer.commit.duration").Should().NotBeEmpty();
        metrics.Values("kafka.consumer.rebalances").Sum().Should().BeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task Records_consumed_counts_what_the_application_got_not_what_a_seek_or_pause_dropped()
    {
        using var metrics = new Measurements();
        string topic = NewTopic(Cluster, "metrics-dropped");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 20);
        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions
        {
            BootstrapServers = Cluster.BootstrapServers,
            FetchMaxWait = TimeSpan.FromMilliseconds(50),
        });
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        // Five records out of a buffer holding all twenty (the high watermark is known once the fetch is in), then a seek
        // back to the start drops the fifteen never handed out.
        for (int i = 0; i < 5; i++)
        {
            await consumer.ConsumeAsync(Ct);
        }
        consumer.GetWatermarkOffsets(tp).HighWatermark.Should().Be(20);
        consumer.Seek(new TopicPartitionOffset(tp, 0));
        (await ConsumeAsync(consumer, 3)).Select(r => r.Offset).Should().Equal(0, 1, 2);

        // A pause drops what was buffered past offset 3; resuming fetches it again.
        consumer.Pause([tp]);
        consumer.Resume([tp]);
        (await ConsumeAsync(consumer, 17)).Select(r => r.Offset).Should().Equal(Enumerable.Range(3, 17).Select(i => (long)i));

        metrics.Values("kafka.consumer.records.consumed", topic).Sum().Should().Be(5 + 3 + 17);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_consumed_record_gets_a_consumer_span_whose_parent_is_the_producer_span(bool runner)
    {
        string topic = NewTopic(Cluster, "tracing");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == KafkaDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.DisplayName.StartsWith(topic, StringComparison.Ordinal))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await using (var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = Cluster.BootstrapServers }))
        {
            await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<string, string> { Value = "traced" }, Ct);
        }
        await WaitUntilAsync(() => spans.Any(s => s.Kind == ActivityKind.Producer), Deadline, "the producer span ended");
        var publish = spans.Single(s => s.Kind == ActivityKind.Producer);

        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = Cluster.BootstrapServers, GroupId = "tracing-group" });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        if (runner)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var handled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var run = consumer.RunAsync((record, token) =>
            {
                handled.TrySetResult(record.Headers.TryGetLastValue("traceparent", out _));
                return ValueTask.CompletedTask;
            }, cancellationToken: stop.Token);
            (await handled.Task.WaitAsync(Deadline, Ct)).Should().BeTrue("the producer injected its context");
            await stop.CancelAsync();
            await run.WaitAsync(Deadline, Ct);
        }
        else
        {
            var record = await consumer.ConsumeAsync(Ct);
            record.Headers.TryGetLastValue("traceparent", out _).Should().BeTrue("the producer injected its context");
        }

        var receive = spans.Should().ContainSingle(s => s.Kind == ActivityKind.Consumer).Subject;
        receive.DisplayName.Should().Be(topic + " receive");
        receive.TraceId.Should().Be(publish.TraceId);
        receive.ParentSpanId.Should().Be(publish.SpanId);
        receive.Links.Should().ContainSingle().Which.Context.SpanId.Should().Be(publish.SpanId);
        receive.GetTagItem("messaging.destination.name").Should().Be(topic);
        receive.GetTagItem("messaging.kafka.offset").Should().Be(0L);
        receive.GetTagItem("messaging.consumer.group.name").Should().Be("tracing-group");
    }
}

/// <summary>The collection of <see cref="ConsumerDiagnosticsTests"/>: not run in parallel with anything else.</summary>
[CollectionDefinition(nameof(ConsumerDiagnosticsTests), DisableParallelization = true)]
public sealed class ConsumerDiagnosticsCollection;
