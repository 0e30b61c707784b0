using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>AutoOffsetReset: where a partition without a committed offset, or with an offset out of range, starts.</summary>
public sealed class ConsumerOffsetResetTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<(string Topic, TopicPartition Partition)> TopicWithTenRecordsAsync()
    {
        string topic = NewTopic(Cluster, "reset");
        await ProduceAsync(Cluster, topic, 0, 10);
        return (topic, new TopicPartition(topic, 0));
    }

    private KafkaConsumer<string, string> NewConsumer(AutoOffsetReset reset, string? groupId = null) => new(new ConsumerOptions
    {
        BootstrapServers = Cluster.BootstrapServers,
        AutoOffsetReset = reset,
        GroupId = groupId,
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
    });

    [Fact]
    public async Task Earliest_starts_at_the_first_record()
    {
        var (_, tp) = await TopicWithTenRecordsAsync();
        await using var consumer = NewConsumer(AutoOffsetReset.Earliest);
        consumer.Assign([tp]);

        var records = await ConsumeAsync(consumer, 10);

        records.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 10).Select(i => (long)i));
    }

    [Fact]
    public async Task Latest_starts_after_the_last_record()
    {
        var (topic, tp) = await TopicWithTenRecordsAsync();
        await using var consumer = NewConsumer(AutoOffsetReset.Latest);
        consumer.Assign([tp]);
        await WaitUntilAsync(() => consumer.Position(tp) == 10, Deadline, "the position is resolved to the end");

        await ProduceAsync(Cluster, topic, 0, 5, first: 10);
        var records = await ConsumeAsync(consumer, 5);

        records.Select(r => r.Value).Should().Equal("v10", "v11", "v12", "v13", "v14");
        records[0].Offset.Should().Be(10);
    }

    [Fact]
    public async Task Error_fails_consuming_until_the_application_seeks()
    {
        var (_, tp) = await TopicWithTenRecordsAsync();
        await using var consumer = NewConsumer(AutoOffsetReset.Error);
        consumer.Assign([tp]);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Deadline);

        var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(timeout.Token)).Should().ThrowAsync<KafkaException>();
        error.Which.ErrorCode.Should().Be(ErrorCode.OffsetOutOfRange);
        consumer.Position(tp).Should().BeNull();

        consumer.Seek(new TopicPartitionOffset(tp, 3));
        var record = await consumer.ConsumeAsync(timeout.Token);
        record.Offset.Should().Be(3);
    }

    [Theory]
    [InlineData(AutoOffsetReset.Earliest)]
    [InlineData(AutoOffsetReset.Latest)]
    [InlineData(AutoOffsetReset.Error)]
    public async Task An_offset_beyond_the_log_is_reset_per_the_policy(AutoOffsetReset reset)
    {
        var (topic, tp) = await TopicWithTenRecordsAsync();
        await using var consumer = NewConsumer(reset);
        consumer.Assign([new TopicPartitionOffset(tp, 1000)]);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Deadline);

        switch (reset)
        {
            case AutoOffsetReset.Earliest:
                (await consumer.ConsumeAsync(timeout.Token)).Offset.Should().Be(0);
                break;
            case AutoOffsetReset.Latest:
                await WaitUntilAsync(() => consumer.Position(tp) == 10, Deadline, "the position is reset to the end");
                await ProduceAsync(Cluster, topic, 0, 1, first: 10);
                (await consumer.ConsumeAsync(timeout.Token)).Offset.Should().Be(10);
                break;
            default:
                var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(timeout.Token)).Should().ThrowAsync<KafkaException>();
                error.Which.ErrorCode.Should().Be(ErrorCode.OffsetOutOfRange);
                consumer.Seek(new TopicPartitionOffset(tp, Offset.Beginning));
                (await consumer.ConsumeAsync(timeout.Token)).Offset.Should().Be(0);
                break;
        }
    }

    [Fact]
    public async Task A_committed_offset_wins_over_the_policy()
    {
        var (_, tp) = await TopicWithTenRecordsAsync();
        string group = EmbeddedClusterFixture.UniqueName("reset-group");
        await using (var committer = NewConsumer(AutoOffsetReset.Earliest, group))
        {
            committer.Assign([tp]);
            await committer.CommitAsync([new TopicPartitionOffset(tp, 4)], Ct);
        }
        await using var consumer = NewConsumer(AutoOffsetReset.Error, group);
        consumer.Assign([tp]);

        var records = await ConsumeAsync(consumer, 6);

        records.Select(r => r.Offset).Should().Equal(4, 5, 6, 7, 8, 9);
    }
}
