using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Producer;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>Positions: Seek, SeekToTimestampAsync, Pause/Resume, Position, watermarks, Lag and CommittedAsync.</summary>
public sealed class ConsumerPositionTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private KafkaConsumer<string, string> NewConsumer(string? group = null) => new(new ConsumerOptions
    {
        BootstrapServers = Cluster.BootstrapServers,
        GroupId = group,
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
    });

    [Fact]
    public async Task Seek_to_an_offset_the_beginning_and_the_end_while_consuming()
    {
        string topic = NewTopic(Cluster, "seek");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 20);
        await using var consumer = NewConsumer();
        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);

        for (int i = 0; i < 10; i++)
        {
            (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(i);
        }

        consumer.Seek(new TopicPartitionOffset(tp, 5));
        consumer.Position(tp).Should().Be(5);
        (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(5, "records buffered past the old position are dropped");
        (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(6);

        consumer.Seek(new TopicPartitionOffset(tp, 15));
        (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(15, "a seek forward skips");

        consumer.Seek(new TopicPartitionOffset(tp, Offset.Beginning));
        (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(0);

        consumer.Seek(new TopicPartitionOffset(tp, Offset.End));
        await WaitUntilAsync(() => consumer.Position(tp) == 20, Deadline, "the end is resolved");
        await ProduceAsync(Cluster, topic, 0, 1, first: 20);
        var next = await consumer.ConsumeAsync(Ct);
        next.Offset.Should().Be(20);
        next.Value.Should().Be("v20");

        FluentActions.Invoking(() => consumer.Seek(new TopicPartitionOffset(topic, 1, 0))).Should().Throw<InvalidOperationException>("only assigned partitions can be sought");
    }

    [Fact]
    public async Task SeekToTimestampAsync_moves_to_the_first_record_at_or_after_the_time()
    {
        string topic = NewTopic(Cluster, "timestamps", partitions: 2);
        var start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await using (var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = Cluster.BootstrapServers }))
        {
            for (int i = 0; i < 10; i++)
            {
                await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<string, string> { Value = "v" + i, Timestamp = start.AddMinutes(i) }, Ct);
                await producer.ProduceAsync(new TopicPartition(topic, 1), new Message<string, string> { Value = "w" + i, Timestamp = start.AddMinutes(10 * i) }, Ct);
            }
        }
        TopicPartition p0 = new(topic, 0), p1 = new(topic, 1);
        await using var consumer = NewConsumer();
        consumer.Assign([new TopicPartitionOffset(p0, Offset.Beginning), new TopicPartitionOffset(p1, Offset.Beginning)]);
        await ConsumeAsync(consumer, 20);

        await consumer.SeekToTimestampAsync([p0, p1], start.AddMinutes(4.5), Ct);
        consumer.Position(p0).Should().Be(5);
        consumer.Position(p1).Should().Be(1);
        var records = await ConsumeAsync(consumer, 14);
        records.Where(r => r.Partition == 0).Select(r => r.Offset).Should().Equal(5, 6, 7, 8, 9);
        records.Where(r => r.Partition == 1).Select(r => r.Offset).Should().Equal(1, 2, 3, 4, 5, 6, 7, 8, 9);
        records.Single(r => r.Partition == 0 && r.Offset == 5).Timestamp.Should().Be(start.AddMinutes(5));

        await consumer.SeekToTimestampAsync([p0], start.AddMinutes(3), Ct);
        (await consumer.ConsumeAsync(Ct)).Offset.Should().Be(3, "a record exactly at the time is included");

        await consumer.SeekToTimestampAsync([p0], start.AddDays(1), Ct);
        await WaitUntilAsync(() => consumer.Position(p0) == 10, Deadline, "a time after every record moves to the end");
    }

    [Fact]
    public async Task A_paused_partition_hands_out_nothing_even_if_buffered_and_resumes_at_its_position()
    {
        string topic = NewTopic(Cluster, "pause", partitions: 2);
        TopicPartition p0 = new(topic, 0), p1 = new(topic, 1);
        await ProduceAsync(Cluster, topic, 0, 10);
        await ProduceAsync(Cluster, topic, 1, 10);
        await using var consumer = NewConsumer();
        consumer.Assign([new TopicPartitionOffset(p0, Offset.Beginning), new TopicPartitionOffset(p1, Offset.Beginning)]);
        await ConsumeAsync(consumer, 20);

        await ProduceAsync(Cluster, topic, 0, 10, first: 10);
        await WaitUntilAsync(() => consumer.GetWatermarkOffsets(p0).HighWatermark == 20, Deadline, "the new records of partition 0 were fetched");
        consumer.Pause([p0]);
        consumer.Paused.Should().Equal(p0);
        await ProduceAsync(Cluster, topic, 0, 5, first: 20);
        await ProduceAsync(Cluster, topic, 1, 10, first: 10);

        var whilePaused = await ConsumeAsync(consumer, 10);
        whilePaused.Should().OnlyContain(r => r.Partition == 1);
        (await DrainAsync(consumer)).Should().BeEmpty("nothing comes from the paused partition, not even what was buffered");
        consumer.Position(p0).Should().Be(10);

        consumer.Resume([p0]);
        consumer.Paused.Should().BeEmpty();
        var resumed = await ConsumeAsync(consumer, 15);
        resumed.Select(r => (r.Partition, r.Offset)).Should().Equal(Enumerable.Range(10, 15).Select(o => (0, (long)o)));
    }

    [Fact]
    public async Task Position_watermarks_and_lag_follow_consumption()
    {
        string topic = NewTopic(Cluster, "lag");
        var tp = new TopicPartition(topic, 0);
        await ProduceAsync(Cluster, topic, 0, 10);
        await using var consumer = NewConsumer();
        consumer.Position(tp).Should().BeNull("not assigned");
        consumer.Lag(tp).Should().BeNull();
        consumer.GetWatermarkOffsets(tp).Should().Be(new WatermarkOffsets(-1, -1, -1));

        consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        for (int i = 0; i < 7; i++)
        {
            await consumer.ConsumeAsync(Ct);
        }

        consumer.Position(tp).Should().Be(7);
        consumer.GetWatermarkOffsets(tp).Should().Be(new WatermarkOffsets(0, 10, 10));
        consumer.Lag(tp).Should().Be(3);
        (await consumer.QueryWatermarkOffsetsAsync(tp, Ct)).Should().Be(new WatermarkOffsets(0, 10, -1));

        await ProduceAsync(Cluster, topic, 0, 5, first: 10);
        (await consumer.QueryWatermarkOffsetsAsync(tp, Ct)).HighWatermark.Should().Be(15, "the query asks the leader");
        await WaitUntilAsync(() => consumer.Lag(tp) == 8, Deadline, "the lag counts the new records once a fetch reports them");
        await ConsumeAsync(consumer, 8);
        consumer.Lag(tp).Should().Be(0);
        consumer.Position(tp).Should().Be(15);
    }

    [Fact]
    public async Task CommittedAsync_returns_the_group_offsets_and_minus_one_for_none()
    {
        string topic = NewTopic(Cluster, "committed", partitions: 2);
        TopicPartition p0 = new(topic, 0), p1 = new(topic, 1);
        string group = EmbeddedClusterFixture.UniqueName("committed");
        await using var consumer = NewConsumer(group);

        await consumer.CommitAsync([new TopicPartitionOffset(p0, 3)], Ct);

        var committed = await consumer.CommittedAsync([p0, p1], Ct);
        committed.Select(o => (o.TopicPartition, o.Offset)).Should().Equal((p0, 3L), (p1, -1L));
    }
}
