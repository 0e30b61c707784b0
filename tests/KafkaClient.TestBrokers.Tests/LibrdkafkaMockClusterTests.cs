using System.Diagnostics;
using System.Net.Sockets;
using Confluent.Kafka;
using FluentAssertions;
using Xunit;

namespace KafkaClient.TestBrokers.Tests;

/// <summary>
/// Each test starts its own cluster (they start in well under a second), so pushed errors and
/// downed brokers never leak between tests running in parallel.
/// </summary>
public sealed class LibrdkafkaMockClusterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;

    public LibrdkafkaMockClusterTests(ITestOutputHelper output) => _output = output;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Start_gives_one_loopback_listener_per_broker_and_reports_its_startup_time()
    {
        var stopwatch = Stopwatch.StartNew();
        using var cluster = LibrdkafkaMockCluster.Start(3);
        var wallClock = stopwatch.Elapsed;

        _output.WriteLine($"librdkafka {LibrdkafkaNativeLibrary.Version} from {LibrdkafkaNativeLibrary.Path}");
        _output.WriteLine($"Start: {cluster.StartupTime.TotalMilliseconds:F1} ms inside, {wallClock.TotalMilliseconds:F1} ms wall clock; {cluster}");

        cluster.BrokerIds.Should().Equal(1, 2, 3);
        cluster.BrokerCount.Should().Be(3);
        var endpoints = cluster.BootstrapServers.Split(',');
        endpoints.Should().HaveCount(3).And.OnlyContain(e => e.StartsWith("127.0.0.1:", StringComparison.Ordinal));
        endpoints.Select(e => int.Parse(e.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture))
            .Should().OnlyHaveUniqueItems().And.OnlyContain(p => p > 0);
        cluster.StartupTime.Should().BePositive().And.BeLessThan(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Native_library_is_loaded_from_the_package_output_or_the_override()
    {
        var path = LibrdkafkaNativeLibrary.Path;
        var overridePath = Environment.GetEnvironmentVariable(LibrdkafkaNativeLibrary.PathEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(overridePath))
        {
            path.Should().StartWith(Path.Combine(AppContext.BaseDirectory, "runtimes"));
            File.Exists(path).Should().BeTrue();
        }
        else
        {
            path.Should().Be(overridePath);
        }

        LibrdkafkaNativeLibrary.Version.Should().StartWith("2.");
    }

    [Fact]
    public void Confluent_admin_metadata_lists_every_broker_and_the_deterministic_leaders()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "leaders";
        cluster.CreateTopic(topic, partitions: 6, replicationFactor: 3);
        using var admin = Peer.Admin(cluster.BootstrapServers);

        var metadata = admin.GetMetadata(topic, Deadline);

        metadata.Brokers.Select(b => b.BrokerId).Should().BeEquivalentTo([1, 2, 3]);
        metadata.Brokers.Should().OnlyContain(b => b.Host == "127.0.0.1");
        var partitions = metadata.Topics.Should().ContainSingle().Which.Partitions;
        partitions.Should().HaveCount(6);
        foreach (var p in partitions)
        {
            p.Leader.Should().Be(cluster.DefaultLeader(p.PartitionId), "partition {0}", p.PartitionId);
            p.Replicas.Should().HaveCount(3).And.Contain(p.Leader);
        }
    }

    [Fact]
    public async Task Confluent_producer_records_read_back_through_a_confluent_consumer()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "round-trip";
        cluster.CreateTopic(topic, partitions: 3);

        using (var producer = Peer.Producer(cluster.BootstrapServers))
        {
            for (var i = 0; i < 10; i++)
            {
                var result = await producer.ProduceAsync(
                    new TopicPartition(topic, i % 3),
                    new Message<string, string> { Key = $"k{i}", Value = $"v{i}" },
                    Ct);
                result.Status.Should().Be(PersistenceStatus.Persisted);
                result.Offset.Value.Should().Be(i / 3);
            }
        }

        using var consumer = Peer.Consumer(cluster.BootstrapServers, "unused-group");
        consumer.Assign(Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var received = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + Deadline;
        while (received.Count < 10 && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is { IsPartitionEOF: false })
            {
                received.Add(record);
            }
        }

        received.Should().HaveCount(10);
        received.Select(r => (r.Message.Key, r.Message.Value)).Should()
            .BeEquivalentTo(Enumerable.Range(0, 10).Select(i => ($"k{i}", $"v{i}")));
        foreach (var r in received)
        {
            var i = int.Parse(r.Message.Key.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
            r.Partition.Value.Should().Be(i % 3);
            r.Offset.Value.Should().Be(i / 3);
        }
    }

    [Fact]
    public async Task A_downed_broker_leaves_metadata_and_comes_back_when_up()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        using var admin = Peer.Admin(cluster.BootstrapServers);
        int[]? seen = null;
        (await Peer.WaitUntilAsync(() => (seen = TryBrokerIds(admin)) is not null, Deadline)).Should().BeTrue();
        seen.Should().BeEquivalentTo([1, 2, 3]);

        cluster.SetBrokerDown(2);
        (await Peer.WaitUntilAsync(() => (seen = TryBrokerIds(admin)) is { } ids && !ids.Contains(2), Deadline))
            .Should().BeTrue("broker 2 should vanish from Metadata once down");
        seen.Should().BeEquivalentTo([1, 3]);

        cluster.SetBrokerUp(2);
        (await Peer.WaitUntilAsync(() => (seen = TryBrokerIds(admin)) is { } ids && ids.Contains(2), Deadline))
            .Should().BeTrue("broker 2 should be back in Metadata once up");
        seen.Should().BeEquivalentTo([1, 2, 3]);
    }

    [Fact]
    public async Task Pushed_retriable_produce_errors_are_retried_through_by_the_confluent_producer()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "retried";
        cluster.CreateTopic(topic);
        using var producer = Peer.Producer(cluster.BootstrapServers);
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "warm", Value = "up" }, Ct);

        cluster.StartRequestTracking();
        const short notEnoughReplicas = 19;
        cluster.PushRequestErrors(0, notEnoughReplicas, notEnoughReplicas);
        var result = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, Ct);

        result.Status.Should().Be(PersistenceStatus.Persisted);
        result.Offset.Value.Should().Be(1, "the two failed attempts must not have appended anything");
        var produceRequests = cluster.GetRequests().Where(r => r.ApiKey == 0).ToList();
        produceRequests.Should().HaveCount(3, "two failed attempts and the successful one");
        produceRequests.Should().OnlyContain(r => r.BrokerId == cluster.DefaultLeader(0));
    }

    [Fact]
    public async Task Pushed_produce_error_surfaces_when_retries_are_disabled()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "not-retried";
        cluster.CreateTopic(topic);
        using var producer = Peer.Producer(cluster.BootstrapServers, c => c.MessageSendMaxRetries = 0);
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "warm", Value = "up" }, Ct);

        cluster.PushRequestErrors(0, 19);
        var act = () => producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, Ct);

        (await act.Should().ThrowAsync<ProduceException<string, string>>())
            .Which.Error.Code.Should().Be(ErrorCode.NotEnoughReplicas);
    }

    [Fact]
    public async Task Cleared_request_errors_are_not_returned()
    {
        using var cluster = LibrdkafkaMockCluster.Start(1);
        const string topic = "cleared";
        cluster.CreateTopic(topic);
        using var producer = Peer.Producer(cluster.BootstrapServers, c => c.MessageSendMaxRetries = 0);
        await producer.ProduceAsync(topic, new Message<string, string> { Value = "warm" }, Ct);

        cluster.PushRequestErrors(0, 19, 19, 19);
        cluster.ClearRequestErrors(0);
        var result = await producer.ProduceAsync(topic, new Message<string, string> { Value = "v" }, Ct);

        result.Status.Should().Be(PersistenceStatus.Persisted);
    }

    [Fact]
    public async Task Broker_rtt_delays_responses()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "slow";
        cluster.CreateTopic(topic);
        using var producer = Peer.Producer(cluster.BootstrapServers);
        await producer.ProduceAsync(topic, new Message<string, string> { Value = "warm" }, Ct);

        cluster.SetBrokerRtt(cluster.DefaultLeader(0), 400);
        var stopwatch = Stopwatch.StartNew();
        await producer.ProduceAsync(topic, new Message<string, string> { Value = "slow" }, Ct);

        stopwatch.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(350));
    }

    [Fact]
    public async Task Moving_a_leader_is_seen_in_metadata()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "moved";
        cluster.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        using var admin = Peer.Admin(cluster.BootstrapServers);
        TryLeader(admin, topic).Should().Be(1);

        cluster.SetPartitionLeader(topic, 0, 3);

        (await Peer.WaitUntilAsync(() => TryLeader(admin, topic) == 3, Deadline)).Should().BeTrue();
    }

    [Fact]
    public async Task Confluent_consumer_group_joins_and_consumes_with_the_default_setup()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        const string topic = "grouped";
        cluster.CreateTopic(topic, partitions: 2);
        using (var producer = Peer.Producer(cluster.BootstrapServers))
        {
            for (var i = 0; i < 4; i++)
            {
                await producer.ProduceAsync(new TopicPartition(topic, i % 2), new Message<string, string> { Value = $"v{i}" }, Ct);
            }
        }

        var stopwatch = Stopwatch.StartNew();
        using var consumer = Peer.Consumer(cluster.BootstrapServers, LibrdkafkaMockClusterFixture.UniqueName("group"),
            c => c.SessionTimeoutMs = 6000);
        consumer.Subscribe(topic);
        var values = new List<string>();
        var deadline = DateTime.UtcNow + Deadline;
        while (values.Count < 4 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } record)
            {
                values.Add(record.Message.Value);
            }
        }

        _output.WriteLine($"group joined and 4 records consumed in {stopwatch.ElapsedMilliseconds} ms");
        values.Should().BeEquivalentTo(["v0", "v1", "v2", "v3"]);
        consumer.Assignment.Should().HaveCount(2);
        consumer.Commit().Should().HaveCount(2);
        consumer.Close();
    }

    [Fact]
    public void Control_errors_are_reported_with_the_librdkafka_code()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        cluster.CreateTopic("dup");

        cluster.Invoking(c => c.CreateTopic("dup")).Should().Throw<InvalidOperationException>()
            .WithMessage("*rd_kafka_mock_topic_create*36*");
        cluster.Invoking(c => c.SetPartitionLeader("dup", 0, 99)).Should().Throw<InvalidOperationException>()
            .WithMessage("*error 8*");
        cluster.Invoking(c => c.SetCoordinator("cluster", "x", 1)).Should().Throw<ArgumentException>();
        cluster.Invoking(c => c.CreateTopic("zero", 0)).Should().Throw<ArgumentOutOfRangeException>();

        // Still usable after refused calls.
        cluster.DeleteTopic("dup");
        cluster.CreateTopic("dup");
    }

    [Fact]
    public async Task Dispose_stops_the_listeners_is_idempotent_and_fences_control_calls()
    {
        var cluster = LibrdkafkaMockCluster.Start(2);
        var port = int.Parse(cluster.BootstrapServers.Split(',')[0].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        using (var probe = new TcpClient())
        {
            await probe.ConnectAsync("127.0.0.1", port, Ct);
        }

        var stopwatch = Stopwatch.StartNew();
        cluster.Dispose();
        _output.WriteLine($"Dispose: {stopwatch.ElapsedMilliseconds} ms");
        cluster.Dispose();
        await cluster.DisposeAsync();

        cluster.IsDisposed.Should().BeTrue();
        cluster.Invoking(c => c.SetBrokerDown(1)).Should().Throw<ObjectDisposedException>();
        cluster.Invoking(c => c.PushRequestErrors(0, 19)).Should().Throw<ObjectDisposedException>();
        using var after = new TcpClient();
        await after.Invoking(c => c.ConnectAsync("127.0.0.1", port, Ct).AsTask())
            .Should().ThrowAsync<SocketException>();
    }

    [Fact]
    public async Task Options_precreate_topics_and_can_leave_the_controller_alone()
    {
        await using var cluster = LibrdkafkaMockCluster.Start(2, new LibrdkafkaMockClusterOptions
        {
            Topics = [new MockTopic("a", 4), new MockTopic("b", 1, 2)],
            ControllerId = 2,
        });
        using var admin = Peer.Admin(cluster.BootstrapServers);

        var metadata = admin.GetMetadata(Deadline);

        metadata.Topics.Select(t => t.Topic).Should().BeEquivalentTo(["a", "b"]);
        metadata.Topics.Single(t => t.Topic == "a").Partitions.Select(p => p.Leader)
            .Should().BeEquivalentTo([1, 2, 1, 2]);
    }

    /// <summary>The broker ids in a fresh Metadata response, or null if the request failed (e.g. it went to a downed broker).</summary>
    private static int[]? TryBrokerIds(IAdminClient admin)
    {
        try
        {
            return admin.GetMetadata(TimeSpan.FromSeconds(2)).Brokers.Select(b => b.BrokerId).ToArray();
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    private static int? TryLeader(IAdminClient admin, string topic)
    {
        try
        {
            return admin.GetMetadata(topic, TimeSpan.FromSeconds(2)).Topics.Single().Partitions.Single().Leader;
        }
        catch (KafkaException)
        {
            return null;
        }
    }
}
