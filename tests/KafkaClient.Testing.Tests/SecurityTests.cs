using System.Text;
using Confluent.Kafka;
using OurMessage = KafkaClient.Producer.Message<string, string>;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Producer;
using Message = Confluent.Kafka.Message<Confluent.Kafka.Null, string>;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS listeners, proven with Confluent.Kafka
/// (librdkafka, whose SASL and TLS code nobody here wrote) and with our own client.
/// </summary>
public sealed class SecurityTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "alice-secret";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly List<string> _files = [];

    static SecurityTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<EmbeddedKafkaCluster> StartAsync(EmbeddedSecurityProtocol protocol) =>
        EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 2,
            SecurityProtocol = protocol,
            SaslUsers = protocol is EmbeddedSecurityProtocol.SaslPlaintext or EmbeddedSecurityProtocol.SaslSsl
                ? [new EmbeddedSaslUser(User, Password), new EmbeddedSaslUser("bob", "bob-secret", EmbeddedSaslMechanisms.Plain)]
                : [],
        }, Ct);

    public void Dispose()
    {
        foreach (string file in _files)
        {
            File.Delete(file);
        }
    }

    private T Configure<T>(T config, EmbeddedKafkaCluster cluster, string? mechanism, string password = Password)
        where T : ClientConfig
    {
        config.BootstrapServers = cluster.BootstrapServers;
        config.SecurityProtocol = cluster.Options.SecurityProtocol switch
        {
            EmbeddedSecurityProtocol.SaslPlaintext => SecurityProtocol.SaslPlaintext,
            EmbeddedSecurityProtocol.Ssl => SecurityProtocol.Ssl,
            EmbeddedSecurityProtocol.SaslSsl => SecurityProtocol.SaslSsl,
            _ => SecurityProtocol.Plaintext,
        };
        if (mechanism is not null)
        {
            config.SaslMechanism = mechanism switch
            {
                "PLAIN" => Confluent.Kafka.SaslMechanism.Plain,
                "SCRAM-SHA-256" => Confluent.Kafka.SaslMechanism.ScramSha256,
                _ => Confluent.Kafka.SaslMechanism.ScramSha512,
            };
            config.SaslUsername = User;
            config.SaslPassword = password;
        }
        if (cluster.CaCertificatePem is { } pem)
        {
            string file = Path.Combine(Path.GetTempPath(), $"embedded-ca-{Guid.NewGuid():N}.pem");
            File.WriteAllText(file, pem);
            _files.Add(file);
            config.SslCaLocation = file;
        }
        return config;
    }

    private static T Configure<T>(T options, EmbeddedKafkaCluster cluster, KafkaClient.Network.SaslMechanism? mechanism, string password = Password)
        where T : KafkaClientOptions => options with
        {
            BootstrapServers = cluster.BootstrapServers,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = TimeSpan.FromSeconds(15),
            Sasl = mechanism is { } m ? new SaslOptions { Mechanism = m, Username = User, Password = password } : null,
            Tls = cluster.CaCertificate is { } ca ? new TlsOptions { Enabled = true, CaCertificates = [ca] } : new TlsOptions(),
        };

    private static string[] PrincipalsOf(EmbeddedKafkaCluster cluster) =>
        [.. cluster.Brokers.SelectMany(b => b.Server.Connections).Select(c => c.Session.Principal)];

    [Theory]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, "PLAIN")]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, "SCRAM-SHA-256")]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, "SCRAM-SHA-512")]
    [InlineData(EmbeddedSecurityProtocol.Ssl, null)]
    [InlineData(EmbeddedSecurityProtocol.SaslSsl, "PLAIN")]
    [InlineData(EmbeddedSecurityProtocol.SaslSsl, "SCRAM-SHA-512")]
    public async Task Confluent_producer_and_consumer_round_trip_records(EmbeddedSecurityProtocol protocol, string? mechanism)
    {
        await using var cluster = await StartAsync(protocol);
        cluster.CreateTopic("secured", partitions: 1);

        using (var producer = new ProducerBuilder<Null, string>(Configure(new ProducerConfig { LingerMs = 1 }, cluster, mechanism)).Build())
        {
            for (int i = 0; i < 10; i++)
            {
                var delivered = await producer.ProduceAsync("secured", new Message { Value = $"v{i}" }, Ct);
                delivered.Offset.Value.Should().Be(i);
            }
            if (mechanism is not null)
            {
                PrincipalsOf(cluster).Should().Contain($"User:{User}", "the producer's connections authenticated as alice");
            }
            else
            {
                PrincipalsOf(cluster).Should().NotBeEmpty().And.OnlyContain(p => p == "User:ANONYMOUS");
            }
        }

        using var consumer = new ConsumerBuilder<Null, string>(Configure(new ConsumerConfig { GroupId = "secured-readers", EnableAutoCommit = false }, cluster, mechanism)).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset("secured", 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + Timeout;
        while (values.Count < 10 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } result)
            {
                values.Add(result.Message.Value);
            }
        }
        values.Should().Equal(Enumerable.Range(0, 10).Select(i => $"v{i}"));
    }

    [Theory]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, "PLAIN")]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, "SCRAM-SHA-256")]
    public async Task Confluent_with_a_wrong_password_gets_an_authentication_error_carrying_the_brokers_message(EmbeddedSecurityProtocol protocol, string mechanism)
    {
        await using var cluster = await StartAsync(protocol);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Error>();
        using var producer = new ProducerBuilder<Null, string>(Configure(new ProducerConfig(), cluster, mechanism, password: "wrong"))
            .SetErrorHandler((_, e) => errors.Enqueue(e))
            .Build();

        var deadline = DateTime.UtcNow + Timeout;
        while (!errors.Any(e => e.Code == Confluent.Kafka.ErrorCode.Local_Authentication) && DateTime.UtcNow < deadline)
        {
            producer.Poll(TimeSpan.FromMilliseconds(100));
        }

        var failure = errors.FirstOrDefault(e => e.Code == Confluent.Kafka.ErrorCode.Local_Authentication);
        failure.Should().NotBeNull("librdkafka reports a SASL failure as an authentication error");
        failure!.Reason.Should().Contain("Authentication failed");
        PrincipalsOf(cluster).Should().NotContain($"User:{User}");
    }

    [Theory]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, KafkaClient.Network.SaslMechanism.Plain)]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, KafkaClient.Network.SaslMechanism.ScramSha256)]
    [InlineData(EmbeddedSecurityProtocol.SaslPlaintext, KafkaClient.Network.SaslMechanism.ScramSha512)]
    [InlineData(EmbeddedSecurityProtocol.Ssl, null)]
    [InlineData(EmbeddedSecurityProtocol.SaslSsl, KafkaClient.Network.SaslMechanism.ScramSha256)]
    public async Task Our_producer_writes_and_our_protocol_client_fetches_back(EmbeddedSecurityProtocol protocol, KafkaClient.Network.SaslMechanism? mechanism)
    {
        await using var cluster = await StartAsync(protocol);
        cluster.CreateTopic("ours", partitions: 1);

        await using (var producer = new KafkaProducer<string, string>(Configure(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(1) }, cluster, mechanism)))
        {
            for (int i = 0; i < 10; i++)
            {
                var delivered = await producer.ProduceAsync("ours", new OurMessage { Key = $"k{i}", Value = $"v{i}" }, Ct);
                delivered.Offset.Should().Be(i);
            }
        }

        await using var client = await KafkaProtocolClient.ConnectAsync(Configure(KafkaClientOptions.Default, cluster, mechanism), Ct);
        int leader = cluster.DescribePartition("ours", 0)!.Value.LeaderId;
        var response = await client.SendAsync(new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 1 << 20,
            Topics =
            [
                new FetchRequest.FetchTopic
                {
                    Topic = "ours",
                    TopicId = cluster.State.GetTopic("ours")!.Id,
                    Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }],
                },
            ],
        }, leader, ConnectionPurpose.Fetch, Ct);
        var values = new List<string>();
        using var reader = new RecordBatchReader();
        reader.Reset(response.Responses.Single().Partitions.Single().Records ?? ReadOnlyMemory<byte>.Empty);
        while (reader.TryReadBatch(out var batch))
        {
            foreach (var record in reader.ReadRecords(batch))
            {
                values.Add(Encoding.UTF8.GetString(record.Value));
            }
        }
        values.Should().Equal(Enumerable.Range(0, 10).Select(i => $"v{i}"));
        string expected = mechanism is null ? "User:ANONYMOUS" : $"User:{User}";
        PrincipalsOf(cluster).Should().OnlyContain(p => p == expected);
    }

    [Theory]
    [InlineData(KafkaClient.Network.SaslMechanism.Plain)]
    [InlineData(KafkaClient.Network.SaslMechanism.ScramSha256)]
    [InlineData(KafkaClient.Network.SaslMechanism.ScramSha512)]
    public async Task Our_client_with_a_wrong_password_gets_an_authentication_exception(KafkaClient.Network.SaslMechanism mechanism)
    {
        await using var cluster = await StartAsync(EmbeddedSecurityProtocol.SaslSsl);

        var connect = () => KafkaProtocolClient.ConnectAsync(Configure(KafkaClientOptions.Default, cluster, mechanism, password: "wrong"), Ct);

        var failure = (await connect.Should().ThrowAsync<KafkaAuthenticationException>()).Which;
        failure.ErrorCode.Should().Be(KafkaClient.Errors.ErrorCode.SaslAuthenticationFailed);
        failure.Message.Should().Contain("Authentication failed");
    }

    [Fact]
    public async Task The_tls_listener_is_really_tls_and_its_certificate_chains_only_to_the_clusters_own_authority()
    {
        await using var cluster = await StartAsync(EmbeddedSecurityProtocol.Ssl);
        cluster.CaCertificate!.Subject.Should().Contain("embedded cluster CA");
        cluster.CaCertificatePem.Should().StartWith("-----BEGIN CERTIFICATE-----");
        var trusted = Configure(KafkaClientOptions.Default, cluster, mechanism: null);

        var plaintext = () => KafkaProtocolClient.ConnectAsync(trusted with { Tls = new TlsOptions(), ConnectTimeout = TimeSpan.FromSeconds(2) }, Ct);
        await plaintext.Should().ThrowAsync<KafkaClient.Errors.KafkaException>("a plaintext ApiVersions request is not a TLS client hello");

        await using var other = await StartAsync(EmbeddedSecurityProtocol.Ssl);
        var wrongAuthority = () => KafkaProtocolClient.ConnectAsync(trusted with { Tls = new TlsOptions { Enabled = true, CaCertificates = [other.CaCertificate!] } }, Ct);
        await wrongAuthority.Should().ThrowAsync<KafkaAuthenticationException>("every cluster generates its own authority");

        await using var client = await KafkaProtocolClient.ConnectAsync(trusted, Ct);
        client.Metadata.Brokers.Should().HaveCount(2);
    }

    [Fact]
    public async Task A_user_may_only_use_the_mechanisms_it_was_given()
    {
        await using var cluster = await StartAsync(EmbeddedSecurityProtocol.SaslPlaintext);
        var bob = KafkaClientOptions.Default with
        {
            BootstrapServers = cluster.BootstrapServers,
            Sasl = new SaslOptions { Mechanism = KafkaClient.Network.SaslMechanism.ScramSha256, Username = "bob", Password = "bob-secret" },
        };

        var scram = () => KafkaProtocolClient.ConnectAsync(bob, Ct);
        await scram.Should().ThrowAsync<KafkaAuthenticationException>("bob has no SCRAM credential");

        var plainOptions = bob with { Sasl = bob.Sasl! with { Mechanism = KafkaClient.Network.SaslMechanism.Plain } };
        await using var plain = await KafkaProtocolClient.ConnectAsync(plainOptions, Ct);
        plain.Metadata.Brokers.Should().HaveCount(2);
    }

    [Fact]
    public async Task Requests_before_authentication_close_the_connection_and_handshake_v0_takes_bare_tokens()
    {
        await using var cluster = await StartAsync(EmbeddedSecurityProtocol.SaslPlaintext);
        var broker = cluster.Brokers[0];

        using (var early = await RawConnection.OpenAsync(broker.Port, Ct))
        {
            await early.SendAsync(ApiKey.Metadata, 4, new MetadataRequest { Topics = [] });
            (await early.ReadFrameAsync()).Should().BeNull("Kafka closes a connection that skips authentication");
        }

        using var raw = await RawConnection.OpenAsync(broker.Port, Ct);
        await raw.SendAsync(ApiKey.SaslHandshake, 0, new SaslHandshakeRequest { Mechanism = "PLAIN" });
        var handshake = RawConnection.Read<SaslHandshakeResponse>(await raw.ReadFrameAsync(), 0);
        handshake.ErrorCode.Should().Be(0);
        handshake.Mechanisms.Should().Equal("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512");

        await raw.SendTokenAsync(Encoding.UTF8.GetBytes($"\0{User}\0{Password}"));
        (await raw.ReadFrameAsync()).Should().BeEmpty("PLAIN answers a v0 token with an empty token");

        await raw.SendAsync(ApiKey.Metadata, 4, new MetadataRequest { Topics = [] });
        var metadata = RawConnection.Read<MetadataResponse>(await raw.ReadFrameAsync(), 4);
        metadata.Brokers.Should().HaveCount(2);
    }

    [Fact]
    public async Task An_unknown_mechanism_is_refused_with_the_enabled_list()
    {
        await using var cluster = await StartAsync(EmbeddedSecurityProtocol.SaslPlaintext);
        using var raw = await RawConnection.OpenAsync(cluster.Brokers[0].Port, Ct);

        await raw.SendAsync(ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "GSSAPI" });
        var handshake = RawConnection.Read<SaslHandshakeResponse>(await raw.ReadFrameAsync(), 1);

        handshake.ErrorCode.Should().Be((short)KafkaClient.Errors.ErrorCode.UnsupportedSaslMechanism);
        handshake.Mechanisms.Should().Contain("SCRAM-SHA-512");
        (await raw.ReadFrameAsync()).Should().BeNull("the broker closes the connection after refusing the mechanism");
    }
}
