using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Producer;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;
using KafkaClient.Serialization;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// Producer options whose only effect is on what goes over the wire (codec, acks, batching,
/// pipelining, partitioning, idempotence), each proven where it shows: in the batches the broker
/// stored, in the requests it handled, or on the connection itself through a relay that counts
/// unanswered requests and can hold Produce responses back.
/// </summary>
public sealed class ProducerOptionEffectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<EmbeddedKafkaCluster> StartAsync() =>
        EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 1 }, Ct);

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task Every_batch_is_stored_compressed_with_the_chosen_codec(CompressionType codec)
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("codec", partitions: 1, replicationFactor: 1);
        var values = Enumerable.Range(0, 40).Select(i => $"{i:D3}-" + string.Concat(Enumerable.Repeat("compressible ", 20))).ToArray();
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Compression = codec,
            Linger = TimeSpan.FromMilliseconds(20),
        }))
        {
            await producer.ProduceAsync("codec", new Message<Null, string> { Value = values[0] }, Ct);
            await Task.WhenAll(values.Skip(1).Select(v => producer.ProduceAsync("codec", new Message<Null, string> { Value = v }, Ct).AsTask()));
        }

        var batches = await StoredBatchesAsync(cluster, "codec");

        batches.Should().NotBeEmpty().And.OnlyContain(b => b.Compression == codec, "the codec bits of every stored batch name the producer's codec");
        batches.SelectMany(b => b.Values).Should().Equal(values);
        if (codec != CompressionType.None)
        {
            int raw = batches.Sum(b => b.Values.Sum(v => v.Length));
            batches.Sum(b => b.SizeInBytes).Should().BeLessThan(raw / 2, "repetitive values shrink when compressed");
        }
    }

    [Fact]
    public async Task The_gzip_compression_level_is_applied_level_0_stores_and_level_9_deflates()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("stored", partitions: 1, replicationFactor: 1);
        cluster.CreateTopic("deflated", partitions: 1, replicationFactor: 1);
        string value = string.Concat(Enumerable.Repeat("the same words again and again ", 100)); // 3,100 bytes
        foreach (var (topic, level) in new[] { ("stored", 0), ("deflated", 9) })
        {
            await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
            {
                BootstrapServers = cluster.BootstrapServers,
                Compression = CompressionType.Gzip,
                CompressionLevel = level,
            });
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = value }, Ct);
        }

        var stored = (await StoredBatchesAsync(cluster, "stored")).Single();
        var deflated = (await StoredBatchesAsync(cluster, "deflated")).Single();

        stored.Compression.Should().Be(CompressionType.Gzip);
        deflated.Compression.Should().Be(CompressionType.Gzip);
        stored.Values.Should().Equal(value);
        deflated.Values.Should().Equal(value);
        stored.SizeInBytes.Should().BeGreaterThan(value.Length, "gzip level 0 stores the records without compressing them");
        deflated.SizeInBytes.Should().BeLessThan(value.Length / 10, "gzip level 9 deflates repetitive text to a fraction");
    }

    [Fact]
    public async Task With_acks_leader_every_produce_request_asks_for_the_leaders_acknowledgement_and_records_are_persisted()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("leader-acks", partitions: 1, replicationFactor: 1);
        var acks = new ConcurrentQueue<short>();
        cluster.RequestHandled += (_, e) =>
        {
            if (e.Request is ProduceRequest produce)
            {
                acks.Enqueue(produce.Acks);
            }
        };
        var results = new List<DeliveryResult<Null, string>>();
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = Acks.Leader,
            EnableIdempotence = false,
        }))
        {
            for (int i = 0; i < 5; i++)
            {
                results.Add(await producer.ProduceAsync("leader-acks", new Message<Null, string> { Value = $"v{i}" }, Ct));
            }
            results.AddRange(await Task.WhenAll(Enumerable.Range(5, 45).Select(i =>
                producer.ProduceAsync("leader-acks", new Message<Null, string> { Value = $"v{i}" }, Ct).AsTask())));
        }

        acks.Should().HaveCountGreaterThanOrEqualTo(6).And.OnlyContain(a => a == 1, "Acks.Leader is acks=1 on the wire");
        results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted);
        results.Select(r => r.Offset).Should().Equal(Enumerable.Range(0, 50).Select(i => (long)i));
        (await StoredBatchesAsync(cluster, "leader-acks")).SelectMany(b => b.Values).Should().Equal(Enumerable.Range(0, 50).Select(i => $"v{i}"));
    }

    [Fact]
    public async Task With_one_request_in_flight_a_produce_request_waits_until_the_previous_one_is_answered()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("one-at-a-time", partitions: 3, replicationFactor: 1);
        await using var tap = WireTap.Start(cluster);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = tap.BootstrapServers,
            MaxInFlightRequestsPerConnection = 1,
            Linger = TimeSpan.Zero,
        });
        await producer.ProduceAsync(new TopicPartition("one-at-a-time", 0), new Message<Null, string> { Value = "warm-up" }, Ct);

        using var hold = tap.HoldProduceResponses();
        var first = producer.ProduceAsync(new TopicPartition("one-at-a-time", 0), new Message<Null, string> { Value = "first" }, Ct).AsTask();
        await WaitUntilAsync(() => tap.ProducesSent == 2, "the first record is sent at once");
        var others = Enumerable.Range(1, 2).Select(p =>
            producer.ProduceAsync(new TopicPartition("one-at-a-time", p), new Message<Null, string> { Value = $"p{p}" }, Ct).AsTask()).ToArray();
        // A round trip of another client through the relay: time in which a producer that
        // pipelined would have written the other partitions' request.
        await tap.RoundTripAsync();

        tap.ProducesSent.Should().Be(2, "the connection's only slot is taken until the first response arrives");
        hold.Dispose();
        await first;
        await Task.WhenAll(others);
        tap.ProducesSent.Should().BeGreaterThanOrEqualTo(3);
        tap.MaxProducesOutstanding.Should().Be(1);
    }

    [Fact]
    public async Task With_five_requests_in_flight_a_produce_request_is_sent_while_the_previous_one_is_unanswered()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("pipelined", partitions: 3, replicationFactor: 1);
        await using var tap = WireTap.Start(cluster);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = tap.BootstrapServers,
            MaxInFlightRequestsPerConnection = 5,
            Linger = TimeSpan.Zero,
        });
        await producer.ProduceAsync(new TopicPartition("pipelined", 0), new Message<Null, string> { Value = "warm-up" }, Ct);

        using var hold = tap.HoldProduceResponses();
        var first = producer.ProduceAsync(new TopicPartition("pipelined", 0), new Message<Null, string> { Value = "first" }, Ct).AsTask();
        await WaitUntilAsync(() => tap.ProducesSent == 2, "the first record is sent at once");
        var second = producer.ProduceAsync(new TopicPartition("pipelined", 1), new Message<Null, string> { Value = "second" }, Ct).AsTask();

        await WaitUntilAsync(() => tap.MaxProducesOutstanding >= 2, "the second request goes out while the first is unanswered");
        first.IsCompleted.Should().BeFalse();
        hold.Dispose();
        (await first).Offset.Should().Be(1);
        (await second).Offset.Should().Be(0);
    }

    [Fact]
    public async Task The_round_robin_partitioner_sends_records_without_keys_to_each_partition_in_turn()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("turns", partitions: 3, replicationFactor: 1);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Partitioner = Partitioners.RoundRobin,
        });

        var partitions = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            partitions.Add((await producer.ProduceAsync("turns", new Message<Null, string> { Value = $"v{i}" }, Ct)).Partition);
        }

        partitions.Should().Equal(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2);
        Enumerable.Range(0, 3).Select(p => cluster.DescribePartition("turns", p)!.Value.HighWatermark).Should().Equal(4, 4, 4);
    }

    [Fact]
    public async Task The_uniform_sticky_partitioner_ignores_keys_and_moves_on_only_after_a_batch_worth_of_bytes()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("sticky", partitions: 3, replicationFactor: 1);
        const int batchSize = 1024;
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Partitioner = Partitioners.UniformSticky,
            BatchSize = batchSize,
        });

        var partitions = new List<int>();
        for (int i = 0; i < 60; i++)
        {
            // Distinct keys: the default partitioner would hash them all over the topic.
            var message = new Message<string, string> { Key = $"key-{i}", Value = new string('x', 100) };
            partitions.Add((await producer.ProduceAsync("sticky", message, Ct)).Partition);
        }

        var runs = Runs(partitions);
        runs.Should().HaveCountGreaterThan(1, "a batch worth of bytes moves the producer to another partition");
        runs.SkipLast(1).Should().OnlyContain(r => r.Length >= 5, "each partition keeps records until about a batch worth went to it, whatever their keys");
        runs.Zip(runs.Skip(1)).Should().OnlyContain(pair => pair.First.Partition != pair.Second.Partition);
    }

    [Fact]
    public async Task A_custom_partitioner_decides_where_records_without_keys_go()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("chosen", partitions: 3, replicationFactor: 1);
        var partitioner = new LastPartition();
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Partitioner = partitioner,
        }))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
                producer.ProduceAsync("chosen", new Message<Null, string> { Value = $"v{i}" }, Ct).AsTask()));
            results.Should().OnlyContain(r => r.Partition == 2);
        }

        partitioner.Calls.Should().HaveCount(20).And.OnlyContain(c => c.Topic == "chosen" && c.PartitionCount == 3 && c.KeyIsNull);
        Enumerable.Range(0, 3).Select(p => cluster.DescribePartition("chosen", p)!.Value.HighWatermark).Should().Equal(0, 0, 20);
    }

    [Fact]
    public async Task With_a_long_linger_records_produced_while_a_request_is_in_flight_wait_and_leave_together_in_one_batch()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("lingering", partitions: 1, replicationFactor: 1);
        await using var tap = WireTap.Start(cluster);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = tap.BootstrapServers,
            Linger = TimeSpan.FromMinutes(1),
            DeliveryTimeout = TimeSpan.FromMinutes(3),
        });
        await producer.ProduceAsync("lingering", new Message<Null, string> { Value = "warm-up" }, Ct);

        using var hold = tap.HoldProduceResponses();
        var first = producer.ProduceAsync("lingering", new Message<Null, string> { Value = "first" }, Ct).AsTask();
        await WaitUntilAsync(() => tap.ProducesSent == 2, "a record produced while nothing is in flight is sent at once");
        var lingering = Enumerable.Range(0, 5).Select(i => producer.ProduceAsync("lingering", new Message<Null, string> { Value = $"l{i}" }, Ct).AsTask()).ToArray();
        await tap.RoundTripAsync();

        tap.ProducesSent.Should().Be(2, "records produced while a request is in flight linger");
        hold.Dispose();
        await first;
        await Task.WhenAll(lingering);
        var batches = await StoredBatchesAsync(cluster, "lingering");
        batches.Select(b => b.Values).Should().BeEquivalentTo(
            new[] { new[] { "warm-up" }, ["first"], ["l0", "l1", "l2", "l3", "l4"] },
            options => options.WithStrictOrdering());
    }

    [Fact]
    public async Task With_linger_0_a_record_is_sent_while_the_previous_request_is_still_in_flight_each_in_its_own_batch()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("eager", partitions: 1, replicationFactor: 1);
        await using var tap = WireTap.Start(cluster);
        await using var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = tap.BootstrapServers,
            Linger = TimeSpan.Zero,
        });
        await producer.ProduceAsync("eager", new Message<Null, string> { Value = "warm-up" }, Ct);

        using var hold = tap.HoldProduceResponses();
        var first = producer.ProduceAsync("eager", new Message<Null, string> { Value = "first" }, Ct).AsTask();
        await WaitUntilAsync(() => tap.ProducesSent == 2, "a record produced while nothing is in flight is sent at once");
        var second = producer.ProduceAsync("eager", new Message<Null, string> { Value = "second" }, Ct).AsTask();

        await WaitUntilAsync(() => tap.ProducesSent == 3, "without linger the second record does not wait for the first response");
        hold.Dispose();
        await first;
        await second;
        for (int i = 0; i < 3; i++)
        {
            await producer.ProduceAsync("eager", new Message<Null, string> { Value = $"awaited{i}" }, Ct);
        }
        var batches = await StoredBatchesAsync(cluster, "eager");
        batches.Select(b => b.Values.Single()).Should().Equal("warm-up", "first", "second", "awaited0", "awaited1", "awaited2");
    }

    [Fact]
    public async Task Batches_never_exceed_the_batch_size_except_a_single_larger_record()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("small-batches", partitions: 1, replicationFactor: 1);
        const int batchSize = 1024;
        var values = Enumerable.Range(0, 120).Select(i => i == 60 ? new string('L', 3000) : $"{i:D3}" + new string('s', 90)).ToArray();
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            BatchSize = batchSize,
            Linger = TimeSpan.FromMilliseconds(50),
        }))
        {
            await producer.ProduceAsync("small-batches", new Message<Null, string> { Value = "warm-up" }, Ct);
            await Task.WhenAll(values.Select(v => producer.ProduceAsync("small-batches", new Message<Null, string> { Value = v }, Ct).AsTask()));
        }

        var batches = (await StoredBatchesAsync(cluster, "small-batches")).Skip(1).ToList();

        batches.SelectMany(b => b.Values).Should().Equal(values);
        batches.Where(b => b.RecordCount > 1).Should().NotBeEmpty("records produced together share batches")
            .And.OnlyContain(b => b.SizeInBytes <= batchSize, "a batch closes before a record would take it past BatchSize");
        var large = batches.Single(b => b.Values.Contains(values[60]));
        large.RecordCount.Should().Be(1, "a record larger than BatchSize travels alone");
        large.SizeInBytes.Should().BeGreaterThan(batchSize);
        batches.Should().HaveCountGreaterThanOrEqualTo(values.Sum(v => v.Length) / batchSize);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Only_an_idempotent_producer_asks_for_a_producer_id_and_stamps_its_batches(bool enableIdempotence)
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("stamped", partitions: 1, replicationFactor: 1);
        var apis = new ConcurrentQueue<ApiKey>();
        cluster.RequestHandled += (_, e) => apis.Enqueue(e.ApiKey);
        await using (var producer = new KafkaProducer<Null, string>(new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = enableIdempotence,
        }))
        {
            await producer.ProduceAsync("stamped", new Message<Null, string> { Value = "first" }, Ct);
            await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
                producer.ProduceAsync("stamped", new Message<Null, string> { Value = $"v{i}" }, Ct).AsTask()));
        }

        var batches = await StoredBatchesAsync(cluster, "stamped");
        batches.SelectMany(b => b.Values).Should().HaveCount(21);
        apis.Should().Contain(ApiKey.Produce);
        if (enableIdempotence)
        {
            apis.Should().Contain(ApiKey.InitProducerId);
            batches.Should().OnlyContain(b => b.ProducerId >= 0 && b.ProducerEpoch >= 0);
            batches.Select(b => b.BaseSequence).Should().Equal(batches.Select(b => (int)b.BaseOffset), "sequences count records from 0");
        }
        else
        {
            apis.Should().NotContain(ApiKey.InitProducerId);
            batches.Should().OnlyContain(b => b.ProducerId == -1 && b.ProducerEpoch == -1 && b.BaseSequence == -1, "a producer without idempotence has no producer id");
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string because)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, because);
            await Task.Delay(5, Ct);
        }
    }

    private static List<(int Partition, int Length)> Runs(List<int> partitions)
    {
        var runs = new List<(int Partition, int Length)>();
        foreach (int p in partitions)
        {
            if (runs.Count > 0 && runs[^1].Partition == p)
            {
                runs[^1] = (p, runs[^1].Length + 1);
            }
            else
            {
                runs.Add((p, 1));
            }
        }
        return runs;
    }

    /// <summary>One batch as the broker stored it.</summary>
    private sealed record StoredBatch(long BaseOffset, CompressionType Compression, int SizeInBytes, int RecordCount,
        long ProducerId, short ProducerEpoch, int BaseSequence, List<string> Values);

    /// <summary>Fetches a partition's whole log as raw batches, straight from the broker.</summary>
    private static async Task<List<StoredBatch>> StoredBatchesAsync(EmbeddedKafkaCluster cluster, string topic, int partition = 0)
    {
        var info = cluster.DescribePartition(topic, partition)!.Value;
        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers }, Ct);
        using var reader = new RecordBatchReader();
        var batches = new List<StoredBatch>();
        long offset = 0;
        while (offset < info.HighWatermark)
        {
            var response = await client.SendAsync(new FetchRequest
            {
                MaxWaitMs = 0,
                MaxBytes = 1 << 20,
                Topics =
                [
                    new FetchRequest.FetchTopic
                    {
                        Topic = topic,
                        TopicId = cluster.State.GetTopic(topic)!.Id,
                        Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = 1 << 20 }],
                    },
                ],
            }, info.LeaderId, ConnectionPurpose.Fetch, Ct);
            var data = response.Responses.Single().Partitions.Single();
            data.ErrorCode.Should().Be(0);
            reader.Reset(data.Records ?? ReadOnlyMemory<byte>.Empty);
            int before = batches.Count;
            while (reader.TryReadBatch(out var batch))
            {
                var values = new List<string>();
                foreach (var record in reader.ReadRecords(batch))
                {
                    values.Add(Encoding.UTF8.GetString(record.Value));
                }
                batches.Add(new StoredBatch(batch.BaseOffset, batch.Compression, batch.SizeInBytes, batch.RecordCount,
                    batch.ProducerId, batch.ProducerEpoch, batch.BaseSequence, values));
                offset = batch.NextOffset;
            }
            batches.Count.Should().BeGreaterThan(before, "a fetch below the high watermark returns a batch");
        }
        return batches;
    }

    /// <summary>Sends every record without a key to the topic's last partition, noting each call.</summary>
    private sealed class LastPartition : IPartitioner
    {
        public ConcurrentQueue<(string Topic, int PartitionCount, bool KeyIsNull)> Calls { get; } = new();

        public int Partition(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull)
        {
            Calls.Enqueue((topic, partitionCount, keyIsNull));
            return keyIsNull ? partitionCount - 1 : Partitioners.NoPreference;
        }
    }

    /// <summary>
    /// A TCP relay in front of every broker of a cluster. Metadata answers advertise the relay's
    /// ports, so a client bootstrapped on <see cref="BootstrapServers"/> reaches the brokers only
    /// through it. Per connection it counts the Produce requests the client wrote and the broker has
    /// not answered yet (a request counts before it is passed on, an answer only after it is taken
    /// off, so the count never misses an overlap), and it can hold Produce responses back.
    /// </summary>
    private sealed class WireTap : IAsyncDisposable
    {
        private readonly EmbeddedKafkaCluster _cluster;
        private readonly Dictionary<int, int> _relayPortOf = [];
        private readonly List<TcpListener> _listeners = [];
        private readonly ConcurrentBag<Socket> _sockets = [];
        private readonly ConcurrentBag<Task> _loops = [];
        private readonly CancellationTokenSource _stop = new();
        private TaskCompletionSource _released = Released();
        private int _producesSent;
        private int _maxProducesOutstanding;

        private WireTap(EmbeddedKafkaCluster cluster) => _cluster = cluster;

        public string BootstrapServers => string.Join(',', _listeners.Select(l => $"127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}"));

        /// <summary>Produce requests the client has written so far.</summary>
        public int ProducesSent => Volatile.Read(ref _producesSent);

        /// <summary>The most Produce requests one connection ever had unanswered at once.</summary>
        public int MaxProducesOutstanding => Volatile.Read(ref _maxProducesOutstanding);

        public static WireTap Start(EmbeddedKafkaCluster cluster)
        {
            var tap = new WireTap(cluster);
            foreach (var broker in cluster.Brokers)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                tap._listeners.Add(listener);
                tap._relayPortOf[broker.Port] = ((IPEndPoint)listener.LocalEndpoint).Port;
                tap._loops.Add(tap.AcceptAsync(listener, broker));
            }
            cluster.RequestHandled += tap.Advertise;
            return tap;
        }

        /// <summary>
        /// Produce responses wait in the relay until the returned hold is disposed (also when a
        /// test fails half-way, so that the producer's close does not wait for them).
        /// </summary>
        public IDisposable HoldProduceResponses()
        {
            var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _released, held);
            return new Hold(held);
        }

        /// <summary>Connects another client through the relay and waits for its metadata.</summary>
        public async Task RoundTripAsync()
        {
            await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with { BootstrapServers = BootstrapServers }, Ct);
            await client.SendAsync(new MetadataRequest { Topics = [] }, _cluster.Brokers[0].NodeId, ConnectionPurpose.General, Ct);
        }

        private static TaskCompletionSource Released()
        {
            var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            released.SetResult();
            return released;
        }

        private void Advertise(object? sender, EmbeddedRequestEventArgs e)
        {
            if (e.Response is MetadataResponse metadata)
            {
                foreach (var broker in metadata.Brokers)
                {
                    if (_relayPortOf.TryGetValue(broker.Port, out int relay))
                    {
                        broker.Port = relay;
                    }
                }
            }
        }

        private async Task AcceptAsync(TcpListener listener, EmbeddedBroker broker)
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                _sockets.Add(client);
                _sockets.Add(server);
                try
                {
                    await server.ConnectAsync(broker.Host, broker.Port, _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    client.Dispose();
                    server.Dispose();
                    continue;
                }
                var connection = new Relayed();
                _loops.Add(RequestsAsync(client, server, connection));
                _loops.Add(ResponsesAsync(server, client, connection));
            }
        }

        private async Task RequestsAsync(Socket from, Socket to, Relayed connection)
        {
            await PumpAsync(from, to, async frame =>
            {
                var api = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(4));
                lock (connection)
                {
                    connection.Pending.Enqueue(api);
                    if (api == ApiKey.Produce)
                    {
                        Interlocked.Increment(ref _producesSent);
                        int outstanding = ++connection.ProducesOutstanding;
                        if (outstanding > _maxProducesOutstanding)
                        {
                            Volatile.Write(ref _maxProducesOutstanding, outstanding);
                        }
                    }
                }
                await to.SendAsync(frame, SocketFlags.None, _stop.Token);
            });
        }

        private async Task ResponsesAsync(Socket from, Socket to, Relayed connection)
        {
            await PumpAsync(from, to, async frame =>
            {
                ApiKey api;
                lock (connection)
                {
                    api = connection.Pending.Peek();
                }
                if (api == ApiKey.Produce)
                {
                    await Volatile.Read(ref _released).Task.WaitAsync(_stop.Token);
                }
                lock (connection)
                {
                    connection.Pending.Dequeue();
                    if (api == ApiKey.Produce)
                    {
                        connection.ProducesOutstanding--;
                    }
                }
                await to.SendAsync(frame, SocketFlags.None, _stop.Token);
            });
        }

        /// <summary>Reads size-prefixed frames from <paramref name="from"/> and hands each (prefix included) on until either side closes.</summary>
        private async Task PumpAsync(Socket from, Socket to, Func<byte[], Task> forward)
        {
            try
            {
                using var input = new NetworkStream(from, ownsSocket: false);
                var prefix = new byte[4];
                while (true)
                {
                    await input.ReadExactlyAsync(prefix, _stop.Token);
                    var frame = new byte[4 + BinaryPrimitives.ReadInt32BigEndian(prefix)];
                    prefix.CopyTo(frame, 0);
                    await input.ReadExactlyAsync(frame.AsMemory(4), _stop.Token);
                    await forward(frame);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or EndOfStreamException)
            {
            }
            finally
            {
                // One side is gone: so is the other.
                from.Dispose();
                to.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _cluster.RequestHandled -= Advertise;
            Volatile.Read(ref _released).TrySetResult();
            await _stop.CancelAsync();
            foreach (var listener in _listeners)
            {
                listener.Stop();
            }
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
            await Task.WhenAll(_loops);
            _stop.Dispose();
        }

        private sealed class Hold(TaskCompletionSource held) : IDisposable
        {
            public void Dispose() => held.TrySetResult();
        }

        private sealed class Relayed
        {
            public Queue<ApiKey> Pending { get; } = new();

            public int ProducesOutstanding { get; set; }
        }
    }
}
