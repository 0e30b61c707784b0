using System.Text;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Server;
using static KafkaClient.Testing.Tests.Consumer.ConsumerTestKit;

namespace KafkaClient.Testing.Tests.Consumer;

/// <summary>
/// The fetch options, observed at the broker (a spy on the embedded cluster's Fetch handler): how many bytes one fetch
/// carries, when prefetching stops, fetch sessions, the client rack (KIP-392) and CRC checking.
/// </summary>
public sealed class ConsumerFetchOptionTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private const int ValueBytes = 1000;

    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private ConsumerOptions Options(string clientId) => new()
    {
        BootstrapServers = Cluster.BootstrapServers,
        ClientId = clientId,
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
    };

    private static string NewClientId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Per partition answer to <paramref name="clientId"/>: the record bytes and the batches they hold.</summary>
    private static List<(int Broker, int Bytes, int Batches)> Answers(ApiSpy spy, string clientId) =>
        [.. spy.From(clientId)
            .Where(s => s.Response is FetchResponse)
            .SelectMany(s => ((FetchResponse)s.Response!).Responses.SelectMany(t => t.Partitions)
                .Where(p => p.Records is { Length: > 0 })
                .Select(p => (s.BrokerId, p.Records!.Value.Length, Batches(p.Records.Value.Span).Count)))];

    private static long FetchedBytes(ApiSpy spy, string clientId) => Answers(spy, clientId).Sum(a => a.Bytes);

    private static void ShouldBeInOrder(IEnumerable<ConsumeResult<string, string>> records, int count) =>
        records.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, count).Select(i => (long)i));

    [Fact]
    public async Task MaxPartitionFetchBytes_bounds_the_bytes_one_fetch_returns_for_a_partition()
    {
        string topic = NewTopic(Cluster, "mpfb");
        await ProduceOneBatchEachAsync(Cluster, topic, 0, 30, ValueBytes);
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("mpfb");
        await using var consumer = new KafkaConsumer<string, string>(Options(client) with { MaxPartitionFetchBytes = 2500 });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);

        ShouldBeInOrder(await ConsumeAsync(consumer, 30), 30);

        spy.From(client).Select(s => (FetchRequest)s.Request).SelectMany(r => r.Topics).SelectMany(t => t.Partitions)
            .Should().OnlyContain(p => p.PartitionMaxBytes == 2500);
        var answers = Answers(spy, client);
        answers.Should().OnlyContain(a => a.Bytes <= 2500 && a.Batches <= 2, "two ~1.1 KB batches fit in 2,500 bytes, three do not");
        answers.Sum(a => a.Batches).Should().BeGreaterThanOrEqualTo(30);
        answers.Count.Should().BeGreaterThanOrEqualTo(15, "30 records at most two per fetch");
    }

    [Fact]
    public async Task FetchMaxBytes_bounds_the_bytes_of_one_fetch_response()
    {
        string topic = NewTopic(Cluster, "fmb");
        await ProduceOneBatchEachAsync(Cluster, topic, 0, 30, ValueBytes);
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("fmb");
        await using var consumer = new KafkaConsumer<string, string>(Options(client) with { FetchMaxBytes = 2500 });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);

        ShouldBeInOrder(await ConsumeAsync(consumer, 30), 30);

        spy.From(client).Select(s => ((FetchRequest)s.Request).MaxBytes).Should().OnlyContain(m => m == 2500);
        var answers = Answers(spy, client);
        answers.Should().OnlyContain(a => a.Bytes <= 2500);
        answers.Count.Should().BeGreaterThanOrEqualTo(15);
    }

    /// <summary>
    /// A fetch is waiting at the broker (10 s FetchMaxWait) when five ~1.1 KB records are written one at a time: with
    /// FetchMinBytes 5,000 the broker holds it until all five are there, so they come in one response.
    /// </summary>
    [Fact]
    public async Task FetchMinBytes_holds_a_fetch_until_enough_bytes_arrived()
    {
        string topic = NewTopic(Cluster, "minbytes");
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("minbytes");
        await using var consumer = new KafkaConsumer<string, string>(Options(client) with { FetchMinBytes = 5000, FetchMaxWait = TimeSpan.FromSeconds(10) });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
        await WaitUntilAsync(() => spy.Arrived.Any(a => a.ClientId == client), Deadline, "a fetch is waiting at the broker");

        await ProduceOneBatchEachAsync(Cluster, topic, 0, 5, ValueBytes);
        ShouldBeInOrder(await ConsumeAsync(consumer, 5), 5);

        spy.From(client).Select(s => (FetchRequest)s.Request).Should().OnlyContain(r => r.MinBytes == 5000 && r.MaxWaitMs == 10_000);
        Answers(spy, client).First().Batches.Should().Be(5, "the first answer waited for 5,000 bytes");
    }

    /// <summary>FetchMinBytes is never reached, yet records arrive: FetchMaxWait (sent as MaxWaitMs) bounds how long the broker holds a fetch.</summary>
    [Fact]
    public async Task FetchMaxWait_bounds_a_fetch_that_never_reaches_FetchMinBytes()
    {
        string topic = NewTopic(Cluster, "maxwait");
        await ProduceAsync(Cluster, topic, 0, 3);
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("maxwait");
        await using var consumer = new KafkaConsumer<string, string>(Options(client) with { FetchMinBytes = 10_000_000, FetchMaxWait = TimeSpan.FromMilliseconds(150) });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);

        ShouldBeInOrder(await ConsumeAsync(consumer, 3), 3);

        spy.From(client).Select(s => (FetchRequest)s.Request).Should().NotBeEmpty().And.OnlyContain(r => r.MaxWaitMs == 150 && r.MinBytes == 10_000_000);
    }

    [Fact]
    public async Task A_batch_larger_than_MaxPartitionFetchBytes_still_comes_whole()
    {
        string topic = NewTopic(Cluster, "big");
        await ProduceOneBatchEachAsync(Cluster, topic, 0, 3, valueBytes: 5000);
        await using var consumer = new KafkaConsumer<string, string>(Options(NewClientId("big")) with { MaxPartitionFetchBytes = 1000, FetchMaxBytes = 1000 });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);

        var records = await ConsumeAsync(consumer, 3);

        ShouldBeInOrder(records, 3);
        records.Should().OnlyContain(r => r.Value!.Length == 5000);
    }

    /// <summary>
    /// Records are written one at a time while the application does not consume: the consumer fetches each until the limit
    /// is reached, then stops fetching. A second consumer without the limit reads everything meanwhile (the witness that
    /// fetching went on); then the application consumes and the rest is fetched.
    /// </summary>
    [Theory]
    [InlineData(4000L, 1024 * 1024)]
    [InlineData(64L * 1024 * 1024, 2500)]
    public async Task Prefetching_stops_at_MaxBufferedBytes_and_MaxPartitionFetchBytes_until_the_application_consumes(long maxBuffered, int maxPartition)
    {
        string topic = NewTopic(Cluster, "buffered");
        var spy = Cluster.Spy(ApiKey.Fetch);
        string limitedId = NewClientId("limited");
        await using var limited = new KafkaConsumer<string, string>(Options(limitedId) with { MaxBufferedBytes = maxBuffered, MaxPartitionFetchBytes = maxPartition });
        var tp = new TopicPartition(topic, 0);
        limited.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
        long limit = Math.Min(maxBuffered, maxPartition);

        await using var producer = new KafkaClient.Producer.KafkaProducer<string, string>(new KafkaClient.Producer.ProducerOptions { BootstrapServers = Cluster.BootstrapServers, Linger = TimeSpan.Zero });
        int produced = 0;
        async Task ProduceOne()
        {
            await producer.ProduceAsync(tp, new KafkaClient.Producer.Message<string, string> { Key = "k", Value = new string('x', ValueBytes) }, Ct);
            produced++;
        }

        while (FetchedBytes(spy, limitedId) < limit)
        {
            await ProduceOne();
            int expected = produced;
            await WaitUntilAsync(() => Answers(spy, limitedId).Sum(a => a.Batches) >= expected, Deadline, $"the limited consumer fetched record {expected - 1}");
        }
        int fetchedBeforeLimit = produced;
        int requestsAtLimit = spy.From(limitedId).Count();
        fetchedBeforeLimit.Should().BeGreaterThan(1, "the limit is above one batch");
        limited.Position(tp).Should().Be(0, "nothing was consumed");
        await WaitUntilAsync(() => limited.Lag(tp) == fetchedBeforeLimit, Deadline, "the lag counts the fetched records (the spy sees a response before the consumer does)");

        for (int i = 0; i < 20; i++)
        {
            await ProduceOne();
        }
        string witnessId = NewClientId("witness");
        await using (var witness = new KafkaConsumer<string, string>(Options(witnessId)))
        {
            witness.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
            (await ConsumeAsync(witness, produced)).Should().HaveCount(produced);
            int polls = spy.From(witnessId).Count();
            await WaitUntilAsync(() => spy.From(witnessId).Count() >= polls + 10, Deadline, "the witness made ten more (empty) fetches");
        }

        Answers(spy, limitedId).Sum(a => a.Batches).Should().Be(fetchedBeforeLimit, "nothing is fetched beyond the limit while the application does not consume");
        spy.From(limitedId).Count().Should().Be(requestsAtLimit, "no fetch is even sent while the buffer is full");

        var all = await ConsumeAsync(limited, produced);
        ShouldBeInOrder(all, produced);
        limited.Lag(tp).Should().Be(0);
    }

    [Fact]
    public async Task With_fetch_sessions_idle_and_partial_fetches_are_incremental()
    {
        string topic = NewTopic(Cluster, "sessions", partitions: 2);
        int leader = Cluster.Partition(topic, 0).LeaderId;
        Cluster.MovePartitionLeader(topic, 1, leader);
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("sessions");
        await using var consumer = new KafkaConsumer<string, string>(Options(client));
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning), new TopicPartitionOffset(topic, 1, Offset.Beginning)]);
        await WaitUntilAsync(() => spy.From(client).Count(s => ((FetchRequest)s.Request).SessionEpoch > 0 && ((FetchRequest)s.Request).Topics.Count == 0) >= 3,
            Deadline, "idle incremental fetches that name no partition");
        int before = spy.From(client).Count();

        await ProduceAsync(Cluster, topic, 0, 50);
        ShouldBeInOrder(await ConsumeAsync(consumer, 50), 50);

        // After records of partition 0, the next fetch names only partition 0 (whose fetch offset moved).
        await WaitUntilAsync(() => spy.From(client).Skip(before).Select(s => (FetchRequest)s.Request)
            .Any(r => r.Topics.SelectMany(t => t.Partitions).Select(p => p.Partition).SequenceEqual(new[] { 0 })),
            Deadline, "an incremental fetch names partition 0 alone");
        var requests = spy.From(client).Select(s => (FetchRequest)s.Request).ToList();
        requests[0].SessionEpoch.Should().Be(0, "the first fetch opens a session");
        requests[0].Topics.SelectMany(t => t.Partitions).Should().HaveCount(2, "a full fetch names every partition");
        requests.Skip(1).Should().OnlyContain(r => r.SessionEpoch > 0 && r.SessionId != 0, "later fetches are incremental");
        requests.Skip(before).Should().NotContain(r => r.Topics.SelectMany(t => t.Partitions).Any(p => p.Partition == 1),
            "partition 1 did not change, so the session remembers it");
    }

    [Fact]
    public async Task Without_fetch_sessions_every_fetch_is_full_and_records_still_flow()
    {
        string topic = NewTopic(Cluster, "nosessions", partitions: 2);
        int leader = Cluster.Partition(topic, 0).LeaderId;
        Cluster.MovePartitionLeader(topic, 1, leader);
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("nosessions");
        await using var consumer = new KafkaConsumer<string, string>(Options(client) with { EnableFetchSessions = false });
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning), new TopicPartitionOffset(topic, 1, Offset.Beginning)]);

        await ProduceAsync(Cluster, topic, 0, 50);
        await ProduceAsync(Cluster, topic, 1, 50);
        var records = await ConsumeAsync(consumer, 100);

        records.GroupBy(r => r.Partition).Should().HaveCount(2).And.OnlyContain(g => g.Select(r => r.Offset).SequenceEqual(Enumerable.Range(0, 50).Select(i => (long)i)));
        var requests = spy.From(client).Select(s => (FetchRequest)s.Request).ToList();
        requests.Should().NotBeEmpty().And.OnlyContain(r => r.SessionId == 0 && r.SessionEpoch == -1, "sessionless fetches");
        requests.Should().OnlyContain(r => r.Topics.SelectMany(t => t.Partitions).Count() == 2, "every fetch names every partition");
    }

    /// <summary>
    /// The embedded cluster has no broker-side replica selector, so the spy plays one: a leader asked by a client in
    /// rack "rack-b" answers with no records and the follower as preferred read replica (as Kafka does), and the
    /// follower serves the fetch from the partition's log. Records then must come from the follower.
    /// </summary>
    [Fact]
    public async Task ClientRack_is_sent_and_a_preferred_read_replica_is_fetched_from()
    {
        string topic = NewTopic(Cluster, "rack", partitions: 1, replicationFactor: 3);
        var info = Cluster.Partition(topic, 0);
        int leader = info.LeaderId;
        int follower = info.Replicas.First(r => r != leader);
        var spy = Cluster.Spy(ApiKey.Fetch);
        spy.Override = async (context, request, inner, ct) =>
        {
            var fetch = (FetchRequest)request;
            if (context.BrokerId == follower && fetch.RackId == "rack-b")
            {
                var asLeader = new RequestContext { BrokerId = leader, Cluster = context.Cluster, Header = context.Header, ConnectionId = context.ConnectionId, ClientHost = context.ClientHost, Session = context.Session };
                return await inner.HandleAsync(asLeader, request, ct);
            }
            var response = await inner.HandleAsync(context, request, ct);
            if (context.BrokerId == leader && fetch.RackId == "rack-b" && response is FetchResponse r)
            {
                foreach (var p in r.Responses.SelectMany(t => t.Partitions).Where(p => p.ErrorCode == 0))
                {
                    p.PreferredReadReplica = follower;
                    p.Records = ReadOnlyMemory<byte>.Empty;
                }
            }
            return response;
        };
        try
        {
            await ProduceAsync(Cluster, topic, 0, 40);
            string client = NewClientId("rack");
            await using var consumer = new KafkaConsumer<string, string>(Options(client) with { ClientRack = "rack-b" });
            consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);

            ShouldBeInOrder(await ConsumeAsync(consumer, 40), 40);

            spy.From(client).Should().OnlyContain(s => ((FetchRequest)s.Request).RackId == "rack-b");
            var answers = Answers(spy, client);
            answers.Should().NotBeEmpty().And.OnlyContain(a => a.Broker == follower, "the leader only redirected; the follower served the records");
        }
        finally
        {
            spy.Override = null;
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CheckCrcs_rejects_a_corrupted_batch_or_lets_it_through(bool checkCrcs)
    {
        string topic = NewTopic(Cluster, "crc");
        await using (var producer = new KafkaClient.Producer.KafkaProducer<string, string>(new KafkaClient.Producer.ProducerOptions { BootstrapServers = Cluster.BootstrapServers }))
        {
            await producer.ProduceAsync(new TopicPartition(topic, 0), new KafkaClient.Producer.Message<string, string> { Key = "k", Value = "payload-AAAAAAAA" }, Ct);
        }
        var spy = Cluster.Spy(ApiKey.Fetch);
        string client = NewClientId("crc");
        byte[] pattern = Encoding.ASCII.GetBytes("AAAAAAAA");
        spy.OnResponse = (context, request, response) =>
        {
            if (context.Header.ClientId != client)
            {
                return;
            }
            foreach (var p in ((FetchResponse)response).Responses.SelectMany(t => t.Partitions).Where(p => p.Records is { Length: > 0 }))
            {
                byte[] copy = p.Records!.Value.ToArray();
                int at = copy.AsSpan().IndexOf(pattern);
                if (at >= 0)
                {
                    copy[at] = (byte)'B';
                    p.Records = copy;
                }
            }
        };
        try
        {
            await using var consumer = new KafkaConsumer<string, string>(Options(client) with { CheckCrcs = checkCrcs });
            consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning)]);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(Deadline);

            if (checkCrcs)
            {
                var error = await FluentActions.Awaiting(async () => await consumer.ConsumeAsync(timeout.Token)).Should().ThrowAsync<KafkaException>();
                error.Which.ErrorCode.Should().Be(ErrorCode.CorruptMessage);
                consumer.Position(new TopicPartition(topic, 0)).Should().Be(0, "the corrupt batch was not consumed");
            }
            else
            {
                var record = await consumer.ConsumeAsync(timeout.Token);
                record.Value.Should().Be("payload-BAAAAAAA", "without CRC checks the altered bytes are handed out as they came");
            }
        }
        finally
        {
            spy.OnResponse = null;
        }
    }
}
