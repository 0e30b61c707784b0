using Confluent.Kafka;
using Confluent.Kafka.Admin;
using FluentAssertions;

namespace KafkaClient.Testing.Tests;

/// <summary>Confluent.Kafka's AdminClient describing and altering topic and broker configs on the embedded cluster.</summary>
public sealed class ConfluentConfigTests : IClassFixture<EmbeddedClusterFixture>
{
    private readonly EmbeddedClusterFixture _fixture;

    public ConfluentConfigTests(EmbeddedClusterFixture fixture)
    {
        EmbeddedClusterFixture.EnsureNativeLibrary();
        _fixture = fixture;
    }

    private EmbeddedKafkaCluster Cluster => _fixture.Cluster;

    private IAdminClient NewAdmin() => new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();

    private static ConfigResource Topic(string name) => new() { Type = ResourceType.Topic, Name = name };

    private static async Task<Dictionary<string, ConfigEntryResult>> DescribeAsync(IAdminClient admin, ConfigResource resource) =>
        (await admin.DescribeConfigsAsync([resource])).Single().Entries;

    [Fact]
    public async Task DescribeConfigs_shows_defaults_and_the_configs_the_topic_was_created_with()
    {
        string topic = EmbeddedClusterFixture.UniqueName("cfg-describe");
        Cluster.CreateTopic(topic, 1, 1, new Dictionary<string, string?> { ["retention.ms"] = "1000", ["cleanup.policy"] = "compact" });
        using var admin = NewAdmin();

        var entries = await DescribeAsync(admin, Topic(topic));

        entries["retention.ms"].Value.Should().Be("1000");
        entries["retention.ms"].Source.Should().Be(ConfigSource.DynamicTopicConfig);
        entries["retention.ms"].IsDefault.Should().BeFalse();
        entries["cleanup.policy"].Value.Should().Be("compact");
        entries["max.message.bytes"].Value.Should().Be("1048588");
        entries["max.message.bytes"].Source.Should().Be(ConfigSource.DefaultConfig);
        entries["min.insync.replicas"].Value.Should().Be("1");
        entries["compression.type"].Value.Should().Be("producer");
        entries["segment.bytes"].Value.Should().Be("1073741824");
        entries["message.timestamp.type"].Value.Should().Be("CreateTime");
        entries["segment.bytes"].IsReadOnly.Should().BeFalse();
        entries["segment.bytes"].IsSensitive.Should().BeFalse();
        entries["retention.ms"].Synonyms.Select(s => (s.Name, s.Source)).Should().Equal(
            ("retention.ms", ConfigSource.DynamicTopicConfig), ("log.retention.ms", ConfigSource.DefaultConfig));
    }

    [Fact]
    public async Task DescribeConfigs_of_an_unknown_topic_fails_with_unknown_topic()
    {
        using var admin = NewAdmin();
        var describe = async () => await admin.DescribeConfigsAsync([Topic(EmbeddedClusterFixture.UniqueName("cfg-missing"))]);
        (await describe.Should().ThrowAsync<DescribeConfigsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.UnknownTopicOrPart);
    }

    [Fact]
    public async Task AlterConfigs_replaces_the_whole_dynamic_set_and_validate_only_changes_nothing()
    {
        string topic = EmbeddedClusterFixture.UniqueName("cfg-alter");
        Cluster.CreateTopic(topic, 1, 1, new Dictionary<string, string?> { ["retention.ms"] = "1000" });
        using var admin = NewAdmin();

        await admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "segment.bytes", Value = "1048576" }],
        }, new AlterConfigsOptions { ValidateOnly = true });
        var entries = await DescribeAsync(admin, Topic(topic));
        entries["segment.bytes"].Source.Should().Be(ConfigSource.DefaultConfig);
        entries["retention.ms"].Value.Should().Be("1000");

        await admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "segment.bytes", Value = "1048576" }],
        });
        entries = await DescribeAsync(admin, Topic(topic));
        entries["segment.bytes"].Value.Should().Be("1048576");
        entries["segment.bytes"].Source.Should().Be(ConfigSource.DynamicTopicConfig);
        entries["retention.ms"].Value.Should().Be("604800000", "AlterConfigs replaces the whole set");
        entries["retention.ms"].Source.Should().Be(ConfigSource.DefaultConfig);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_sets_deletes_appends_and_subtracts()
    {
        string topic = EmbeddedClusterFixture.UniqueName("cfg-incremental");
        Cluster.CreateTopic(topic, 1, 1, new Dictionary<string, string?> { ["retention.ms"] = "1000" });
        using var admin = NewAdmin();

        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] =
            [
                new ConfigEntry { Name = "min.insync.replicas", Value = "2", IncrementalOperation = AlterConfigOpType.Set },
                new ConfigEntry { Name = "cleanup.policy", Value = "compact", IncrementalOperation = AlterConfigOpType.Append },
            ],
        });
        var entries = await DescribeAsync(admin, Topic(topic));
        entries["min.insync.replicas"].Value.Should().Be("2");
        entries["cleanup.policy"].Value.Should().Be("delete,compact");
        entries["retention.ms"].Value.Should().Be("1000", "incremental changes keep the rest");

        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] =
            [
                new ConfigEntry { Name = "retention.ms", IncrementalOperation = AlterConfigOpType.Delete },
                new ConfigEntry { Name = "cleanup.policy", Value = "delete", IncrementalOperation = AlterConfigOpType.Subtract },
                new ConfigEntry { Name = "min.insync.replicas", Value = "3", IncrementalOperation = AlterConfigOpType.Set },
            ],
        }, new IncrementalAlterConfigsOptions { ValidateOnly = true });
        entries = await DescribeAsync(admin, Topic(topic));
        entries["min.insync.replicas"].Value.Should().Be("2", "validate-only changes nothing");
        entries["retention.ms"].Value.Should().Be("1000");

        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] =
            [
                new ConfigEntry { Name = "retention.ms", IncrementalOperation = AlterConfigOpType.Delete },
                new ConfigEntry { Name = "cleanup.policy", Value = "delete", IncrementalOperation = AlterConfigOpType.Subtract },
            ],
        });
        entries = await DescribeAsync(admin, Topic(topic));
        entries["retention.ms"].Value.Should().Be("604800000");
        entries["retention.ms"].Source.Should().Be(ConfigSource.DefaultConfig);
        entries["cleanup.policy"].Value.Should().Be("compact");
    }

    [Fact]
    public async Task Unknown_keys_and_bad_numbers_are_invalid_config()
    {
        string topic = EmbeddedClusterFixture.UniqueName("cfg-invalid");
        Cluster.CreateTopic(topic, 1, 1);
        using var admin = NewAdmin();

        var unknown = async () => await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "no.such.config", Value = "1", IncrementalOperation = AlterConfigOpType.Set }],
        });
        (await unknown.Should().ThrowAsync<IncrementalAlterConfigsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidConfig);

        var notANumber = async () => await admin.AlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "retention.ms", Value = "forever" }],
        });
        (await notANumber.Should().ThrowAsync<AlterConfigsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidConfig);

        var appendToNumber = async () => await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "retention.ms", Value = "5", IncrementalOperation = AlterConfigOpType.Append }],
        });
        (await appendToNumber.Should().ThrowAsync<IncrementalAlterConfigsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidConfig);

        (await DescribeAsync(admin, Topic(topic))).Values.Should().OnlyContain(e => e.Source == ConfigSource.DefaultConfig);
    }

    [Fact]
    public async Task Broker_configs_are_describable_and_incrementally_alterable()
    {
        int brokerId = Cluster.Brokers[0].NodeId;
        var broker = new ConfigResource { Type = ResourceType.Broker, Name = brokerId.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        using var admin = NewAdmin();

        var entries = await DescribeAsync(admin, broker);
        entries["broker.id"].Value.Should().Be(broker.Name);
        entries["broker.id"].IsReadOnly.Should().BeTrue();
        entries["message.max.bytes"].Value.Should().Be("1048588");
        entries["ssl.keystore.password"].IsSensitive.Should().BeTrue();
        entries["ssl.keystore.password"].Value.Should().BeNull();

        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [broker] = [new ConfigEntry { Name = "log.retention.ms", Value = "3600000", IncrementalOperation = AlterConfigOpType.Set }],
        });
        entries = await DescribeAsync(admin, broker);
        entries["log.retention.ms"].Value.Should().Be("3600000");
        entries["log.retention.ms"].Source.Should().Be(ConfigSource.DynamicBrokerConfig);

        var readOnly = async () => await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [broker] = [new ConfigEntry { Name = "broker.id", Value = "99", IncrementalOperation = AlterConfigOpType.Set }],
        });
        (await readOnly.Should().ThrowAsync<IncrementalAlterConfigsException>()).Which.Results.Single().Error.Code.Should().Be(Confluent.Kafka.ErrorCode.InvalidConfig);
    }

    [Fact]
    public async Task Max_message_bytes_set_by_IncrementalAlterConfigs_applies_to_produce()
    {
        string topic = EmbeddedClusterFixture.UniqueName("cfg-maxbytes");
        Cluster.CreateTopic(topic, 1, 1);
        using var admin = NewAdmin();
        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [Topic(topic)] = [new ConfigEntry { Name = "max.message.bytes", Value = "1000", IncrementalOperation = AlterConfigOpType.Set }],
        });

        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = Cluster.BootstrapServers, EnableIdempotence = false }).Build();
        var small = await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = new byte[100] }, TestContext.Current.CancellationToken);
        small.Status.Should().Be(PersistenceStatus.Persisted);
        var large = async () => await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = new byte[5000] }, TestContext.Current.CancellationToken);
        (await large.Should().ThrowAsync<ProduceException<Null, byte[]>>()).Which.Error.Code.Should().Be(Confluent.Kafka.ErrorCode.MsgSizeTooLarge);
    }
}
