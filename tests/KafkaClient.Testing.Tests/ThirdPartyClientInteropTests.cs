using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using KafkaClient.Consumer;
using KafkaClient.Producer;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// Interoperability with clients nobody on this project wrote, other than Confluent.Kafka (tested elsewhere): kcat
/// (librdkafka's command-line client) and kafkajs (a pure JavaScript client) read what our producer writes, and our
/// consumer reads what they write, with keys, values, repeated headers, timestamps and the Java key partitioning intact.
/// </summary>
internal static class ThirdPartyRecords
{
    public const int Count = 300;
    public const int Partitions = 3;

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Record i: key "key-(i mod 17)", value "value-i", headers n=i, dup=a, dup=b.</summary>
    public static async Task ProduceOursAsync(string bootstrap, string topic, CompressionType codec, long firstTimestamp)
    {
        await using var producer = new KafkaProducer<string, string>(new ProducerOptions { BootstrapServers = bootstrap, Compression = codec });
        var results = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => producer.ProduceAsync(topic, new Message<string, string>
        {
            Key = $"key-{i % 17}",
            Value = $"value-{i}",
            Headers = [new Header("n", Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture))), new Header("dup", "a"u8.ToArray()), new Header("dup", "b"u8.ToArray())],
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(firstTimestamp + i),
        }, Ct).AsTask()));
        results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted);
    }

    /// <summary>Reads <see cref="Count"/> records from every partition's beginning with our consumer.</summary>
    public static async Task<List<(int Partition, long Offset, long Timestamp, string? Key, string? Value, List<(string Key, string? Value)> Headers)>> ConsumeOursAsync(string bootstrap, string topic)
    {
        await using var consumer = new KafkaConsumer<string, string>(new ConsumerOptions { BootstrapServers = bootstrap });
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var seen = new List<(int, long, long, string?, string?, List<(string, string?)>)>();
        while (seen.Count < Count)
        {
            var r = await consumer.ConsumeAsync(deadline.Token);
            var headers = r.Headers.ToList().Select(h => (h.Key, h.Value is { } v ? Encoding.UTF8.GetString(v.Span) : null)).ToList();
            seen.Add((r.Partition, r.Offset, r.TimestampMs, r.Key, r.Value, headers));
        }
        return seen;
    }

    /// <summary>
    /// Checks what a client read back against what <see cref="ProduceOursAsync"/> (or the same scheme in another client)
    /// wrote: every record once, each key on the Java client's partition in produce order, headers in order.
    /// </summary>
    public static void ShouldMatchWhatWasWritten(
        IReadOnlyList<(int Partition, long Offset, long Timestamp, string? Key, string? Value, List<(string Key, string? Value)> Headers)> records,
        long firstTimestamp,
        bool javaPartitioning = true)
    {
        records.Should().HaveCount(Count);
        records.Select(r => (r.Partition, r.Offset)).Should().OnlyHaveUniqueItems();
        records.Select(r => r.Value).Should().BeEquivalentTo(Enumerable.Range(0, Count).Select(i => $"value-{i}"));
        foreach (var r in records)
        {
            int i = int.Parse(r.Value!["value-".Length..], CultureInfo.InvariantCulture);
            r.Key.Should().Be($"key-{i % 17}");
            r.Timestamp.Should().Be(firstTimestamp + i);
            r.Headers.Should().Equal([("n", i.ToString(CultureInfo.InvariantCulture)), ("dup", "a"), ("dup", "b")]);
            if (javaPartitioning)
            {
                r.Partition.Should().Be(Partitioners.PartitionForKey(Encoding.UTF8.GetBytes(r.Key!), Partitions), $"{r.Key} goes where the Java client puts it");
            }
        }
        foreach (var byKey in records.GroupBy(r => r.Key))
        {
            byKey.OrderBy(r => r.Offset).Select(r => int.Parse(r.Value!["value-".Length..], CultureInfo.InvariantCulture)).Should().BeInAscendingOrder();
        }
    }

    /// <summary>Runs a command to its end (killing it at the deadline) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(string file, IEnumerable<string> arguments, string? input = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var errors = process.StandardError.ReadToEndAsync(Ct);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output, await errors);
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Where(d => d.Length > 0).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KafkaClient.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("KafkaClient.sln not found above the test binaries.");
    }

    public static long FirstTimestamp() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
}

/// <summary>kcat (librdkafka 2.x's command-line client, Debian package kcat) against our producer and consumer.</summary>
public sealed class KcatInteropTests(EmbeddedClusterFixture fixture) : IClassFixture<EmbeddedClusterFixture>
{
    private static readonly string? Kcat = ThirdPartyRecords.FindOnPath("kcat");

    private static readonly Dictionary<CompressionType, string> Codecs = new()
    {
        [CompressionType.None] = "none",
        [CompressionType.Gzip] = "gzip",
        [CompressionType.Snappy] = "snappy",
        [CompressionType.Lz4] = "lz4",
        [CompressionType.Zstd] = "zstd",
    };

    /// <summary>Every codec, each a theory case.</summary>
    public static TheoryData<CompressionType> AllCodecs => [.. Codecs.Keys];

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public async Task Kcat_reads_what_our_producer_writes(CompressionType codec)
    {
        Assert.SkipWhen(Kcat is null, "kcat is not installed (Debian package kcat; .ci/run installs it).");
        string topic = EmbeddedClusterFixture.UniqueName("to-kcat-" + Codecs[codec]);
        fixture.Cluster.CreateTopic(topic, ThirdPartyRecords.Partitions, replicationFactor: 1);
        long first = ThirdPartyRecords.FirstTimestamp();
        await ThirdPartyRecords.ProduceOursAsync(fixture.Cluster.BootstrapServers, topic, codec, first);

        var (exit, output, errors) = await ThirdPartyRecords.RunAsync(Kcat!,
            ["-b", fixture.Cluster.BootstrapServers, "-C", "-t", topic, "-o", "beginning", "-J", "-e", "-q", "-c", ThirdPartyRecords.Count.ToString(CultureInfo.InvariantCulture)]);
        exit.Should().Be(0, errors);

        var records = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            root.GetProperty("tstype").GetString().Should().Be("create");
            var flat = root.GetProperty("headers").EnumerateArray().Select(e => e.GetString()).ToList();
            var headers = Enumerable.Range(0, flat.Count / 2).Select(h => (flat[2 * h]!, flat[(2 * h) + 1])).ToList();
            return (root.GetProperty("partition").GetInt32(), root.GetProperty("offset").GetInt64(), root.GetProperty("ts").GetInt64(),
                root.GetProperty("key").GetString(), root.GetProperty("payload").GetString(), headers);
        }).ToList();
        ThirdPartyRecords.ShouldMatchWhatWasWritten(records, first);
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public async Task Our_consumer_reads_what_kcat_writes(CompressionType codec)
    {
        Assert.SkipWhen(Kcat is null, "kcat is not installed (Debian package kcat; .ci/run installs it).");
        string topic = EmbeddedClusterFixture.UniqueName("from-kcat-" + Codecs[codec]);
        fixture.Cluster.CreateTopic(topic, ThirdPartyRecords.Partitions, replicationFactor: 1);
        // kcat gives every record of one run the same headers and the current time: the headers say so, the timestamps are
        // checked to be the broker-accepted create times of this run.
        string lines = string.Concat(Enumerable.Range(0, ThirdPartyRecords.Count).Select(i => $"key-{i % 17}|value-{i}\n"));
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (exit, _, errors) = await ThirdPartyRecords.RunAsync(Kcat!,
            ["-b", fixture.Cluster.BootstrapServers, "-P", "-t", topic, "-K", "|", "-z", Codecs[codec], "-H", "src=kcat", "-H", "dup=a", "-H", "dup=b",
             "-X", "topic.partitioner=murmur2_random", "-X", "topic.request.required.acks=-1", "-X", "linger.ms=20"], input: lines);
        exit.Should().Be(0, errors);
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var records = await ThirdPartyRecords.ConsumeOursAsync(fixture.Cluster.BootstrapServers, topic);
        records.Should().HaveCount(ThirdPartyRecords.Count);
        records.Select(r => r.Value).Should().BeEquivalentTo(Enumerable.Range(0, ThirdPartyRecords.Count).Select(i => $"value-{i}"));
        foreach (var r in records)
        {
            int i = int.Parse(r.Value!["value-".Length..], CultureInfo.InvariantCulture);
            r.Key.Should().Be($"key-{i % 17}");
            r.Headers.Should().Equal([("src", "kcat"), ("dup", "a"), ("dup", "b")]);
            r.Timestamp.Should().BeInRange(before - 1000, after + 1000, "kcat stamps each record with its create time");
            r.Partition.Should().Be(Partitioners.PartitionForKey(Encoding.UTF8.GetBytes(r.Key!), ThirdPartyRecords.Partitions), "librdkafka's murmur2_random is the Java partitioner");
        }
        foreach (var byKey in records.GroupBy(r => r.Key))
        {
            byKey.OrderBy(r => r.Offset).Select(r => int.Parse(r.Value!["value-".Length..], CultureInfo.InvariantCulture)).Should().BeInAscendingOrder();
        }
    }
}

/// <summary>
/// Installs the pinned kafkajs (tests/interop/kafkajs/package-lock.json) with <c>npm ci</c> once, unless it is there already;
/// the tests skip, saying why, when Node.js or the package cannot be had.
/// </summary>
public sealed class KafkajsFixture : IAsyncLifetime
{
    public string Directory { get; } = Path.Combine(ThirdPartyRecords.RepositoryRoot(), "tests", "interop", "kafkajs");

    public string? Node { get; } = ThirdPartyRecords.FindOnPath("node");

    /// <summary>Why the kafkajs tests cannot run here, or null when they can.</summary>
    public string? Unavailable { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (Node is null)
        {
            Unavailable = "Node.js is not installed (Debian package nodejs; .ci/run installs it).";
            return;
        }
        if (File.Exists(Path.Combine(Directory, "node_modules", "kafkajs", "package.json")))
        {
            return;
        }
        string? npm = ThirdPartyRecords.FindOnPath("npm");
        if (npm is null)
        {
            Unavailable = "kafkajs is not installed in tests/interop/kafkajs and npm is not on PATH to install it.";
            return;
        }
        var (exit, output, errors) = await ThirdPartyRecords.RunAsync(npm, ["ci", "--no-audit", "--no-fund"], workingDirectory: Directory);
        if (exit != 0)
        {
            Unavailable = $"npm ci in tests/interop/kafkajs failed (exit {exit}): {errors}{output}";
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>kafkajs 2.2.4 (pure JavaScript; tests/interop/kafkajs/kafkajs-client.mjs) against our producer and consumer.</summary>
public sealed class KafkajsInteropTests(EmbeddedClusterFixture cluster, KafkajsFixture kafkajs) : IClassFixture<EmbeddedClusterFixture>, IClassFixture<KafkajsFixture>
{
    private async Task<JsonElement> RunKafkajsAsync(params string[] arguments)
    {
        var (exit, output, errors) = await ThirdPartyRecords.RunAsync(kafkajs.Node!, ["kafkajs-client.mjs", .. arguments], workingDirectory: kafkajs.Directory);
        exit.Should().Be(0, $"kafkajs {arguments[0]} succeeds: {errors}");
        string result = output.Split('\n').Last(l => l.StartsWith("RESULT ", StringComparison.Ordinal))["RESULT ".Length..];
        using var json = JsonDocument.Parse(result);
        return json.RootElement.Clone();
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    public async Task Kafkajs_reads_what_our_producer_writes(CompressionType codec)
    {
        Assert.SkipWhen(kafkajs.Unavailable is not null, kafkajs.Unavailable ?? "");
        string topic = EmbeddedClusterFixture.UniqueName("to-kafkajs-" + codec);
        cluster.Cluster.CreateTopic(topic, ThirdPartyRecords.Partitions, replicationFactor: 1);
        long first = ThirdPartyRecords.FirstTimestamp();
        await ThirdPartyRecords.ProduceOursAsync(cluster.Cluster.BootstrapServers, topic, codec, first);

        var read = await RunKafkajsAsync("consume", cluster.Cluster.BootstrapServers, topic, EmbeddedClusterFixture.UniqueName("kafkajs-group"),
            ThirdPartyRecords.Count.ToString(CultureInfo.InvariantCulture));
        var records = read.EnumerateArray().Select(r =>
        {
            // kafkajs gathers a header's values under its key (an array when repeated) and keeps keys in first-seen order.
            var headers = new List<(string, string?)>();
            foreach (var header in r.GetProperty("headers").EnumerateObject())
            {
                if (header.Value.ValueKind == JsonValueKind.Array)
                {
                    headers.AddRange(header.Value.EnumerateArray().Select(v => (header.Name, v.GetString())));
                }
                else
                {
                    headers.Add((header.Name, header.Value.GetString()));
                }
            }
            return (r.GetProperty("partition").GetInt32(), r.GetProperty("offset").GetInt64(), r.GetProperty("timestamp").GetInt64(),
                r.GetProperty("key").GetString(), r.GetProperty("value").GetString(), headers);
        }).ToList();
        ThirdPartyRecords.ShouldMatchWhatWasWritten(records, first);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    public async Task Our_consumer_reads_what_kafkajs_writes(string codec)
    {
        Assert.SkipWhen(kafkajs.Unavailable is not null, kafkajs.Unavailable ?? "");
        string topic = EmbeddedClusterFixture.UniqueName("from-kafkajs-" + codec);
        cluster.Cluster.CreateTopic(topic, ThirdPartyRecords.Partitions, replicationFactor: 1);
        long first = ThirdPartyRecords.FirstTimestamp();
        var sent = await RunKafkajsAsync("produce", cluster.Cluster.BootstrapServers, topic, ThirdPartyRecords.Count.ToString(CultureInfo.InvariantCulture), codec,
            first.ToString(CultureInfo.InvariantCulture));
        sent.EnumerateArray().Should().OnlyContain(r => r.GetProperty("error").GetInt32() == 0);

        var records = await ThirdPartyRecords.ConsumeOursAsync(cluster.Cluster.BootstrapServers, topic);
        ThirdPartyRecords.ShouldMatchWhatWasWritten(records, first);
    }
}
