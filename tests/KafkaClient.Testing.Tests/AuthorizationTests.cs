using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Network;
using KafkaClient.Producer;
using KafkaClient.Protocol.Messages;
using ErrorCode = Confluent.Kafka.ErrorCode;
using Message = Confluent.Kafka.Message<Confluent.Kafka.Null, string>;
using OurMessage = KafkaClient.Producer.Message<string, string>;
using ProduceException = Confluent.Kafka.ProduceException<Confluent.Kafka.Null, string>;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// ACLs administered with Confluent's AdminClient, and the authorizer checking produce, fetch,
/// groups and transactions against the SASL principal.
/// </summary>
public sealed class AuthorizationTests
{
    private const string AdminPassword = "admin-secret";
    private const string AlicePassword = "alice-secret";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    static AuthorizationTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<EmbeddedKafkaCluster> StartAsync(bool enableAuthorization = true) =>
        EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with
        {
            BrokerCount = 2,
            SecurityProtocol = EmbeddedSecurityProtocol.SaslPlaintext,
            SaslUsers = [new EmbeddedSaslUser("admin", AdminPassword), new EmbeddedSaslUser("alice", AlicePassword)],
            EnableAuthorization = enableAuthorization,
            SuperUsers = ["User:admin"],
        }, Ct);

    private static T As<T>(T config, EmbeddedKafkaCluster cluster, string user)
        where T : ClientConfig
    {
        config.BootstrapServers = cluster.BootstrapServers;
        config.SecurityProtocol = SecurityProtocol.SaslPlaintext;
        config.SaslMechanism = Confluent.Kafka.SaslMechanism.ScramSha256;
        config.SaslUsername = user;
        config.SaslPassword = user == "admin" ? AdminPassword : AlicePassword;
        return config;
    }

    private static IAdminClient Admin(EmbeddedKafkaCluster cluster, string user = "admin") =>
        new AdminClientBuilder(As(new AdminClientConfig(), cluster, user)).Build();

    private static AclBinding Acl(ResourceType type, string name, string principal, AclOperation operation,
        AclPermissionType permission = AclPermissionType.Allow, ResourcePatternType pattern = ResourcePatternType.Literal) => new()
        {
            Pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = pattern },
            Entry = new AccessControlEntry { Principal = principal, Host = "*", Operation = operation, PermissionType = permission },
        };

    [Fact]
    public async Task AdminClient_creates_describes_and_deletes_acls_with_kafkas_filter_semantics()
    {
        await using var cluster = await StartAsync();
        using var admin = Admin(cluster);
        var literal = Acl(ResourceType.Topic, "orders-eu", "User:alice", AclOperation.Read);
        var wildcard = Acl(ResourceType.Topic, "*", "User:bob", AclOperation.Describe);
        var prefixed = Acl(ResourceType.Topic, "orders-", "User:alice", AclOperation.Write, pattern: ResourcePatternType.Prefixed);
        var other = Acl(ResourceType.Topic, "orders-us", "User:alice", AclOperation.Read, AclPermissionType.Deny);
        var group = Acl(ResourceType.Group, "readers", "User:alice", AclOperation.Read);

        await admin.CreateAclsAsync([literal, wildcard, prefixed, other, group]);

        var everything = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        everything.AclBindings.Should().BeEquivalentTo([literal, wildcard, prefixed, other, group]);

        var applying = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = "orders-eu", ResourcePatternType = ResourcePatternType.Match },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        applying.AclBindings.Should().BeEquivalentTo([literal, wildcard, prefixed], "MATCH finds the literal, wildcard and prefix ACLs that apply to the name");

        var alicesReads = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
            EntryFilter = new AccessControlEntryFilter { Principal = "User:alice", Operation = AclOperation.Read, PermissionType = AclPermissionType.Allow },
        });
        alicesReads.AclBindings.Should().BeEquivalentTo([literal, group]);

        var deleted = await admin.DeleteAclsAsync(
        [
            new AclBindingFilter
            {
                PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = "orders-eu", ResourcePatternType = ResourcePatternType.Match },
                EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
            },
        ]);
        deleted.Single().AclBindings.Should().BeEquivalentTo([literal, wildcard, prefixed]);

        var left = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        left.AclBindings.Should().BeEquivalentTo([other, group]);
    }

    [Fact]
    public async Task Only_principals_allowed_to_alter_the_cluster_may_change_acls_and_brokers_without_an_authorizer_say_security_is_disabled()
    {
        await using (var cluster = await StartAsync())
        {
            using var alice = Admin(cluster, "alice");
            var create = async () => await alice.CreateAclsAsync([Acl(ResourceType.Topic, "t", "User:alice", AclOperation.All)]);
            (await create.Should().ThrowAsync<CreateAclsException>()).Which.Results.Single().Error.Code.Should().Be(ErrorCode.ClusterAuthorizationFailed);

            using var admin = Admin(cluster);
            await admin.CreateAclsAsync([Acl(ResourceType.Broker, "kafka-cluster", "User:alice", AclOperation.Alter)]);
            await alice.CreateAclsAsync([Acl(ResourceType.Topic, "t", "User:alice", AclOperation.All)]);
        }

        await using var open = await StartAsync(enableAuthorization: false);
        using var anyone = Admin(open, "alice");
        var disabled = async () => await anyone.CreateAclsAsync([Acl(ResourceType.Topic, "t", "User:alice", AclOperation.All)]);
        (await disabled.Should().ThrowAsync<CreateAclsException>()).Which.Results.Single().Error.Code.Should().Be(ErrorCode.SecurityDisabled);
    }

    [Fact]
    public async Task Confluent_produce_and_group_consume_are_denied_until_acls_allow_them()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("payments", partitions: 1);
        using var admin = Admin(cluster);

        using (var denied = new ProducerBuilder<Null, string>(As(new ProducerConfig { MessageTimeoutMs = 10_000 }, cluster, "alice")).Build())
        {
            var produce = async () => await denied.ProduceAsync("payments", new Message { Value = "no" }, Ct);
            (await produce.Should().ThrowAsync<ProduceException>()).Which.Error.Code.Should().Be(ErrorCode.TopicAuthorizationFailed);
        }
        cluster.DescribePartition("payments", 0)!.Value.HighWatermark.Should().Be(0);

        await admin.CreateAclsAsync([Acl(ResourceType.Topic, "pay", "User:alice", AclOperation.Write, pattern: ResourcePatternType.Prefixed)]);
        using (var allowed = new ProducerBuilder<Null, string>(As(new ProducerConfig(), cluster, "alice")).Build())
        {
            (await allowed.ProduceAsync("payments", new Message { Value = "yes" }, Ct)).Offset.Value.Should().Be(0);
        }

        var consumerConfig = As(new ConsumerConfig { GroupId = "payment-readers", AutoOffsetReset = AutoOffsetReset.Earliest }, cluster, "alice");
        using (var noRead = new ConsumerBuilder<Null, string>(consumerConfig).Build())
        {
            noRead.Subscribe("payments");
            FirstConsumeError(noRead).Should().BeOneOf(ErrorCode.TopicAuthorizationFailed, ErrorCode.GroupAuthorizationFailed);
        }

        await admin.CreateAclsAsync([Acl(ResourceType.Topic, "payments", "User:alice", AclOperation.Read)]);
        using (var noGroup = new ConsumerBuilder<Null, string>(consumerConfig).Build())
        {
            noGroup.Subscribe("payments");
            FirstConsumeError(noGroup).Should().Be(ErrorCode.GroupAuthorizationFailed);
        }

        await admin.CreateAclsAsync([Acl(ResourceType.Group, "payment-", "User:alice", AclOperation.Read, pattern: ResourcePatternType.Prefixed)]);
        using var consumer = new ConsumerBuilder<Null, string>(consumerConfig).Build();
        consumer.Subscribe("payments");
        ConsumeResult<Null, string>? read = null;
        var deadline = DateTime.UtcNow + Timeout;
        while (read is null && DateTime.UtcNow < deadline)
        {
            read = consumer.Consume(TimeSpan.FromMilliseconds(200));
        }
        read.Should().NotBeNull();
        read!.Message.Value.Should().Be("yes");
        consumer.Commit(read);
        consumer.Close();
    }

    [Fact]
    public async Task Transactional_producers_need_write_on_their_transactional_id()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("ledger", partitions: 1);
        using var admin = Admin(cluster);
        await admin.CreateAclsAsync([Acl(ResourceType.Topic, "ledger", "User:alice", AclOperation.Write)]);

        var config = As(new ProducerConfig { TransactionalId = "ledger-writer", TransactionTimeoutMs = 10_000 }, cluster, "alice");
        using (var denied = new ProducerBuilder<Null, string>(config).Build())
        {
            var init = () => denied.InitTransactions(Timeout);
            init.Should().Throw<KafkaException>().Which.Error.Code.Should().Be(ErrorCode.TransactionalIdAuthorizationFailed);
        }

        // Confluent's ResourceType has no TRANSACTIONAL_ID: this one goes through our protocol client.
        await using (var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
        {
            BootstrapServers = cluster.BootstrapServers,
            Sasl = new SaslOptions { Mechanism = KafkaClient.Network.SaslMechanism.Plain, Username = "admin", Password = AdminPassword },
        }, Ct))
        {
            var created = await client.SendAsync(new CreateAclsRequest
            {
                Creations =
                [
                    new CreateAclsRequest.AclCreation
                    {
                        ResourceType = 5, // TRANSACTIONAL_ID
                        ResourceName = "ledger-",
                        ResourcePatternType = 4, // PREFIXED
                        Principal = "User:alice",
                        Host = "*",
                        Operation = 4, // WRITE
                        PermissionType = 3, // ALLOW
                    },
                ],
            }, Ct);
            created.Results.Single().ErrorCode.Should().Be(0);
        }
        using var producer = new ProducerBuilder<Null, string>(config).Build();
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await producer.ProduceAsync("ledger", new Message { Value = "entry" }, Ct);
        producer.CommitTransaction(Timeout);
        cluster.DescribePartition("ledger", 0)!.Value.LastStableOffset.Should().Be(2, "one record and the commit marker");
    }

    [Fact]
    public async Task Our_producer_gets_an_authorization_exception_until_write_is_allowed_and_metadata_hides_what_alice_may_not_describe()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("audit", partitions: 1);
        cluster.CreateTopic("hidden", partitions: 1);
        var alice = new ProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Sasl = new SaslOptions { Mechanism = KafkaClient.Network.SaslMechanism.ScramSha512, Username = "alice", Password = AlicePassword },
            DeliveryTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = TimeSpan.FromSeconds(5),
        };

        await using (var denied = new KafkaProducer<string, string>(alice))
        {
            var produce = () => denied.ProduceAsync("audit", new OurMessage { Value = "no" }, Ct).AsTask();
            (await produce.Should().ThrowAsync<KafkaClient.Producer.ProduceException<string, string>>())
                .WithInnerException<KafkaClient.Errors.KafkaAuthorizationException>()
                .Which.ErrorCode.Should().Be(KafkaClient.Errors.ErrorCode.TopicAuthorizationFailed);
        }

        using var admin = Admin(cluster);
        await admin.CreateAclsAsync([Acl(ResourceType.Topic, "audit", "User:alice", AclOperation.Write)]);
        await using (var producer = new KafkaProducer<string, string>(alice))
        {
            (await producer.ProduceAsync("audit", new OurMessage { Value = "yes" }, Ct)).Offset.Should().Be(0);
        }

        await using var client = await KafkaProtocolClient.ConnectAsync(KafkaClientOptions.Default with
        {
            BootstrapServers = cluster.BootstrapServers,
            Sasl = alice.Sasl,
        }, Ct);
        var all = await client.SendAsync(new MetadataRequest { Topics = null }, Ct);
        all.Topics.Select(t => t.Name).Should().Equal(["audit"], "WRITE implies DESCRIBE; hidden is left out");
        var named = await client.SendAsync(new MetadataRequest { Topics = [new() { Name = "hidden" }, new() { Name = "unknown" }], AllowAutoTopicCreation = true }, Ct);
        named.Topics.Select(t => t.ErrorCode).Should().Equal(
            (short)KafkaClient.Errors.ErrorCode.TopicAuthorizationFailed, (short)KafkaClient.Errors.ErrorCode.TopicAuthorizationFailed);
        cluster.TopicNames().Should().NotContain("unknown", "alice may not create topics");
    }

    private static ErrorCode FirstConsumeError(IConsumer<Null, string> consumer)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                consumer.Consume(TimeSpan.FromMilliseconds(200));
            }
            catch (ConsumeException ex)
            {
                return ex.Error.Code;
            }
        }
        return ErrorCode.NoError;
    }
}
