using FluentAssertions;
using KafkaClient.Consumer;
using static KafkaClient.Testing.Tests.Consumer.GroupTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>The runner shares its workers between partitions: one with a steady supply of records does not keep a worker to itself.</summary>
public sealed class RunnerFairnessTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    [Fact]
    public async Task Partitions_take_turns_when_there_are_more_partitions_than_workers()
    {
        const int partitions = 4;
        const int perPartition = 20_000;
        string topic = EmbeddedClusterFixture.UniqueName("fair");
        fixture.Cluster.CreateTopic(topic, partitions, replicationFactor: 1);
        // 256 KiB batches: a fetch returns less than MaxPartitionFetchBytes, so the fetcher keeps every partition's queue supplied.
        await ProduceIndexedAsync(fixture.Cluster.BootstrapServers, topic, partitions, partitions * perPartition);

        await using var consumer = new KafkaConsumer<int, ReadOnlyMemory<byte>>(new ConsumerOptions { BootstrapServers = fixture.Cluster.BootstrapServers });
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        var processed = new int[partitions];
        int[]? whenFirstFinished = null;
        int total = 0;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runner = consumer.RunAsync((record, _) =>
        {
            int count = ++processed[record.Partition];
            if (count == perPartition && whenFirstFinished is null)
            {
                whenFirstFinished = [.. processed];
            }
            if (++total == partitions * perPartition)
            {
                done.Cancel();
            }
            return ValueTask.CompletedTask;
        }, new RunnerOptions { MaxConcurrentPartitions = 1 }, done.Token);
        await runner.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        total.Should().Be(partitions * perPartition);
        whenFirstFinished.Should().NotBeNull();
        whenFirstFinished!.Should().OnlyContain(n => n > 0,
            $"every partition is processed before the first one is finished (processed then: {string.Join(", ", whenFirstFinished!)})");
    }
}
