using System.Collections.Concurrent;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Serialization;

namespace KafkaClient.Testing.Tests;

/// <summary>Producer options that only show when something goes wrong, proven on the embedded cluster.</summary>
public sealed class ProducerOptionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_unknown_topic_fails_after_max_block_when_auto_creation_is_off()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1, AutoCreateTopics = false }, Ct);
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            MaxBlock = TimeSpan.FromMilliseconds(700),
        });

        var act = () => producer.ProduceAsync("does-not-exist", new Message<string, string> { Value = "v" }, Ct).AsTask();

        var thrown = await act.Should().ThrowAsync<ProduceException<string, string>>();
        thrown.Which.InnerException.Should().BeOfType<KafkaTimeoutException>().Which.Message.Should().Contain("MaxBlock");
        thrown.Which.DeliveryResult.Status.Should().Be(PersistenceStatus.NotPersisted);
    }

    [Fact]
    public async Task A_record_that_cannot_be_delivered_fails_at_the_delivery_timeout()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 2 }, Ct);
        cluster.CreateTopic("stuck", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            RequestTimeout = TimeSpan.FromSeconds(1),
            DeliveryTimeout = TimeSpan.FromSeconds(3),
            RetryBackoff = TimeSpan.FromMilliseconds(50),
        });
        await producer.ProduceAsync("stuck", new Message<string, string> { Value = "warm" }, Ct);
        int leader = cluster.DescribePartition("stuck", 0)!.Value.LeaderId;
        await cluster.StopBrokerAsync(leader, Ct); // the only replica: the partition has no leader now

        var act = () => producer.ProduceAsync("stuck", new Message<string, string> { Value = "lost" }, Ct).AsTask();

        var thrown = await act.Should().ThrowAsync<ProduceException<string, string>>();
        thrown.Which.InnerException.Should().BeOfType<KafkaTimeoutException>().Which.Message.Should().Contain("DeliveryTimeout");
    }

    [Fact]
    public async Task With_acks_none_records_are_written_but_reported_as_possibly_persisted()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("fire", partitions: 1, replicationFactor: 1);
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = Acks.None,
            EnableIdempotence = false,
        }))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
                producer.ProduceAsync("fire", new Message<Null, string> { Value = $"v{i}" }, Ct).AsTask()));
            results.Should().OnlyContain(r => r.Status == PersistenceStatus.PossiblyPersisted && r.Offset == -1);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cluster.DescribePartition("fire", 0)!.Value.HighWatermark < 50 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, Ct);
        }
        cluster.DescribePartition("fire", 0)!.Value.HighWatermark.Should().Be(50);
    }

    [Fact]
    public async Task A_full_buffer_makes_produce_wait_then_fail_clearly_after_max_block()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 2 }, Ct);
        cluster.CreateTopic("full", partitions: 1, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, byte[]>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            BufferMemory = 64 * 1024,
            MaxRequestSize = 32 * 1024,
            MaxBlock = TimeSpan.FromMilliseconds(500),
            RequestTimeout = TimeSpan.FromSeconds(1),
            DeliveryTimeout = TimeSpan.FromSeconds(30),
        });
        await producer.ProduceAsync("full", new Message<Null, byte[]> { Value = [1] }, Ct);
        await cluster.StopBrokerAsync(cluster.DescribePartition("full", 0)!.Value.LeaderId, Ct);

        var value = new byte[10_000];
        var act = () =>
        {
            for (int i = 0; i < 100; i++)
            {
                producer.Produce("full", new Message<Null, byte[]> { Value = value });
            }
        };

        var thrown = act.Should().Throw<ProduceException<Null, byte[]>>();
        thrown.Which.InnerException.Should().BeOfType<KafkaTimeoutException>().Which.Message.Should().Contain("buffer");
    }

    [Fact]
    public async Task The_client_id_is_sent_in_the_header_of_every_request()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("named", partitions: 1, replicationFactor: 1);
        var seen = new ConcurrentQueue<(ApiKey Api, string? ClientId)>();
        cluster.RequestHandled += (_, e) => seen.Enqueue((e.ApiKey, e.ClientId));
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            ClientId = "billing-service",
        }))
        {
            await producer.ProduceAsync("named", new Message<Null, string> { Value = "v" }, Ct);
        }

        seen.Select(r => r.Api).Should().Contain([ApiKey.ApiVersions, ApiKey.Metadata, ApiKey.InitProducerId, ApiKey.Produce]);
        seen.Should().OnlyContain(r => r.ClientId == "billing-service", "the broker logs, quotas and metrics key on it");
    }

    [Fact]
    public async Task A_retriable_failure_is_retried_after_retry_backoff_doubling_per_attempt()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);
        cluster.CreateTopic("patient", partitions: 1, replicationFactor: 1);
        var backoff = TimeSpan.FromMilliseconds(250);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            RetryBackoff = backoff,
            RetryBackoffMax = TimeSpan.FromSeconds(5),
        });
        await producer.ProduceAsync("patient", new Message<Null, string> { Value = "warm-up" }, Ct);
        var attempts = new ConcurrentQueue<DateTimeOffset>();
        cluster.RequestHandled += (_, e) =>
        {
            if (e.ApiKey == ApiKey.Produce)
            {
                attempts.Enqueue(e.ReceivedAt);
            }
        };
        cluster.InjectErrors(ApiKey.Produce, ErrorCode.NotLeaderOrFollower, count: 2);

        var result = await producer.ProduceAsync("patient", new Message<Null, string> { Value = "v" }, Ct);

        result.Offset.Should().Be(1);
        var at = attempts.ToArray();
        at.Should().HaveCount(3, "two refusals, then the write");
        // Lower bounds only (±20% jitter, minus clock granularity): a slow machine can only make
        // the gaps longer, while a producer ignoring RetryBackoff retries within milliseconds.
        (at[1] - at[0]).Should().BeGreaterThanOrEqualTo(backoff * 0.8 - TimeSpan.FromMilliseconds(20), "the first retry waits RetryBackoff");
        (at[2] - at[1]).Should().BeGreaterThanOrEqualTo(backoff * 2 * 0.8 - TimeSpan.FromMilliseconds(20), "the wait doubles per attempt");
    }
}
