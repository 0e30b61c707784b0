using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Testing.Diagnostics;
using KafkaClient.Testing.Groups;
using KafkaClient.Testing.Handlers;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;
using KafkaClient.Testing.Transactions;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Testing;

/// <summary>
/// An in-process Kafka cluster: several brokers, each with its own loopback TCP listener, speaking
/// the real wire protocol, with topics held in memory. For tests and local development; any Kafka
/// client can use <see cref="BootstrapServers"/>.
/// </summary>
/// <example>
/// <code>
/// await using var cluster = await EmbeddedKafkaCluster.StartAsync(EmbeddedKafkaClusterOptions.Default with { BrokerCount = 3 });
/// cluster.CreateTopic("orders", partitions: 6);
/// string bootstrap = cluster.BootstrapServers;    // "127.0.0.1:41235,127.0.0.1:41237,127.0.0.1:41239"
/// await cluster.StopBrokerAsync(2);                // port refuses; its partitions move to other replicas
/// </code>
/// </example>
public sealed partial class EmbeddedKafkaCluster : IAsyncDisposable
{
    private readonly ClusterState _state;
    private readonly ApiHandlerRegistry _handlers = new();
    private readonly EmbeddedBroker[] _brokers;
    private readonly ILogger _logger;
    private readonly TransactionCoordinator _transactions;
    private readonly GroupCoordinator _groups;
    private readonly ConfigStore _configs;
    private readonly BrokerCertificates? _certificates;
    private readonly RetentionSweeper _retention;
    private int _disposed;

    private EmbeddedKafkaCluster(EmbeddedKafkaClusterOptions options)
    {
        Options = options;
        _logger = options.LoggerFactory.CreateLogger("KafkaClient.Testing.EmbeddedKafkaCluster");
        int[] ids = [.. Enumerable.Range(options.FirstBrokerId, options.BrokerCount)];
        _state = new ClusterState(options, options.ClusterId ?? NewClusterId(), ids) { RequestHandled = OnRequestHandled };
        _transactions = new TransactionCoordinator(_state);
        _configs = new ConfigStore(options);
        bool tls = options.SecurityProtocol is EmbeddedSecurityProtocol.Ssl or EmbeddedSecurityProtocol.SaslSsl;
        bool sasl = options.SecurityProtocol is EmbeddedSecurityProtocol.SaslPlaintext or EmbeddedSecurityProtocol.SaslSsl;
        _certificates = tls ? BrokerCertificates.Create(options.Host) : null;
        var security = new ListenerSecurity(_certificates?.ServerOptions, sasl ? new SaslCredentialStore(options.SaslUsers) : null);
        _brokers = [.. ids.Select((id, i) => new EmbeddedBroker(
            new BrokerServer(id, options.Host, options.Port == 0 ? 0 : options.Port + i, _state, _handlers, security, _logger)))];
        _groups = new GroupCoordinator(options.TimeProvider, new GroupCoordinatorOptions
        {
            InitialRebalanceDelay = options.GroupInitialRebalanceDelay,
            MinSessionTimeoutMs = (int)options.GroupMinSessionTimeout.TotalMilliseconds,
            MaxSessionTimeoutMs = (int)options.GroupMaxSessionTimeout.TotalMilliseconds,
            PartitionExists = (topic, partition) => _state.GetTopic(topic)?.Partition(partition) is not null,
        });
        // Offsets committed inside a transaction reach the group when the transaction commits.
        _transactions.Groups = _groups;
        RegisterDefaultHandlers();
        _retention = new RetentionSweeper(_state);
    }

    /// <summary>The options the cluster was started with.</summary>
    public EmbeddedKafkaClusterOptions Options { get; }

    /// <summary>Every broker's <c>host:port</c>, comma-separated, in broker id order (stopped brokers included).</summary>
    public string BootstrapServers => string.Join(',', _brokers.Select(b => b.Address));

    /// <summary>The cluster id reported to clients.</summary>
    public string ClusterId => _state.ClusterId;

    /// <summary>The brokers, in id order.</summary>
    public IReadOnlyList<EmbeddedBroker> Brokers => _brokers;

    /// <summary>
    /// The certificate authority that issued the brokers' TLS certificate, for clients to trust
    /// (our client: <c>TlsOptions.CaCertificates</c>); null unless
    /// <see cref="EmbeddedKafkaClusterOptions.SecurityProtocol"/> uses TLS. Generated per cluster;
    /// public part only.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? CaCertificate => _certificates?.Authority;

    /// <summary>
    /// <see cref="CaCertificate"/> in PEM, for clients that read a file (librdkafka:
    /// <c>ssl.ca.location</c>, or <c>ssl.ca.pem</c> inline; Java: <c>ssl.truststore.type=PEM</c>); null without TLS.
    /// </summary>
    public string? CaCertificatePem => _certificates?.AuthorityPem;

    internal ClusterState State => _state;

    /// <summary>The transaction coordinator (transactional ids, markers, pending transactional offsets).</summary>
    internal TransactionCoordinator Transactions => _transactions;

    /// <summary>The request dispatch: one handler per API key. Coordinators plug in by registering theirs.</summary>
    internal ApiHandlerRegistry Handlers => _handlers;

    /// <summary>Starts a cluster: binds every broker's listener, then returns.</summary>
    /// <param name="options">Settings; <see cref="EmbeddedKafkaClusterOptions.Default"/> when null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="System.Net.Sockets.SocketException">A port could not be bound.</exception>
    public static async Task<EmbeddedKafkaCluster> StartAsync(EmbeddedKafkaClusterOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= EmbeddedKafkaClusterOptions.Default;
        options.Validate();
        var cluster = new EmbeddedKafkaCluster(options);
        try
        {
            foreach (var broker in cluster._brokers)
            {
                cancellationToken.ThrowIfCancellationRequested();
                broker.Server.Start();
            }
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return cluster;
    }

    /// <summary>The broker with id <paramref name="nodeId"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such broker.</exception>
    public EmbeddedBroker Broker(int nodeId) =>
        _brokers.FirstOrDefault(b => b.NodeId == nodeId) ?? throw new ArgumentOutOfRangeException(nameof(nodeId), nodeId, "No such broker.");

    /// <summary>
    /// Creates a topic, as a CreateTopics request would. -1 takes
    /// <see cref="EmbeddedKafkaClusterOptions.DefaultPartitions"/> and
    /// <see cref="EmbeddedKafkaClusterOptions.DefaultReplicationFactor"/>.
    /// </summary>
    /// <param name="name">The topic name.</param>
    /// <param name="partitions">Partition count, or -1.</param>
    /// <param name="replicationFactor">Replication factor, or -1.</param>
    /// <param name="configs">Topic configs (e.g. <c>max.message.bytes</c>), or null.</param>
    /// <exception cref="KafkaException">The broker would refuse it (exists, invalid name, counts); <see cref="KafkaException.ErrorCode"/> says why.</exception>
    public void CreateTopic(string name, int partitions = -1, short replicationFactor = -1, IReadOnlyDictionary<string, string?>? configs = null)
    {
        var error = _state.CreateTopic(name, partitions, replicationFactor, null, configs, validateOnly: false, out var created);
        if (error is { } e)
        {
            throw new KafkaException(e.Error, e.Message);
        }
        OnTopicCreated(created!);
    }

    /// <summary>Deletes a topic; false when it does not exist.</summary>
    /// <param name="name">The topic name.</param>
    public bool DeleteTopic(string name)
    {
        if (_state.GetTopic(name) is not { } topic || !_state.DeleteTopic(topic))
        {
            return false;
        }
        OnTopicDeleted(topic.Name);
        return true;
    }

    /// <summary>The names of all topics, sorted.</summary>
    public IReadOnlyList<string> TopicNames() => [.. _state.Topics().Select(t => t.Name)];

    /// <summary>Leadership and offsets of one partition, or null when it does not exist.</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partition">The partition index.</param>
    public EmbeddedPartitionInfo? DescribePartition(string topic, int partition)
    {
        if (_state.GetTopic(topic)?.Partition(partition) is not { } p)
        {
            return null;
        }
        var l = p.Leadership;
        return new EmbeddedPartitionInfo(topic, partition, l.LeaderId, l.LeaderEpoch, [.. l.Replicas],
            p.Log.LogStartOffset, p.Log.HighWatermark, p.Log.LastStableOffset);
    }

    /// <summary>
    /// Stops every broker and waits (at most <see cref="EmbeddedKafkaClusterOptions.ShutdownTimeout"/>)
    /// for their connections to end; pending JoinGroup/SyncGroup long-polls are answered
    /// COORDINATOR_NOT_AVAILABLE first.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _retention.Dispose();
        _transactions.Dispose();
        _groups.Dispose();
        await Task.WhenAll(_brokers.Select(b => b.Server.StopAsync(Options.ShutdownTimeout))).ConfigureAwait(false);
        _certificates?.Dispose();
    }

    private void RegisterDefaultHandlers()
    {
        _handlers.Register(new ApiVersionsHandler(_handlers));
        _handlers.Register(new SaslHandshakeHandler());
        _handlers.Register(new SaslAuthenticateHandler());
        _handlers.Register(new MetadataHandler(OnTopicCreated));
        _handlers.Register(new ProduceHandler());
        _handlers.Register(new FetchHandler());
        _handlers.Register(new ListOffsetsHandler());
        _handlers.Register(new OffsetForLeaderEpochHandler());
        _handlers.Register(new CreateTopicsHandler(OnTopicCreated));
        _handlers.Register(new DeleteTopicsHandler(OnTopicDeleted));
        _handlers.Register(new CreatePartitionsHandler());
        _handlers.Register(new DescribeClusterHandler());
        _handlers.Register(new DescribeConfigsHandler(_configs));
        _handlers.Register(new AlterConfigsHandler(_configs));
        _handlers.Register(new IncrementalAlterConfigsHandler(_configs));
        _handlers.Register(new ElectLeadersHandler());
        _handlers.Register(new DescribeLogDirsHandler());
        _handlers.Register(new InitProducerIdHandler(_transactions));
        _handlers.Register(new AddPartitionsToTxnHandler(_transactions));
        _handlers.Register(new AddOffsetsToTxnHandler(_transactions));
        _handlers.Register(new TxnOffsetCommitHandler(_transactions));
        _handlers.Register(new EndTxnHandler(_transactions));
        _handlers.Register(new DescribeTransactionsHandler(_transactions));
        _handlers.Register(new ListTransactionsHandler(_transactions));
        _handlers.Register(new FindCoordinatorHandler());
        _handlers.Register(new DeleteRecordsHandler());
        _handlers.Register(new JoinGroupHandler(_groups));
        _handlers.Register(new SyncGroupHandler(_groups));
        _handlers.Register(new HeartbeatHandler(_groups));
        _handlers.Register(new LeaveGroupHandler(_groups));
        _handlers.Register(new OffsetCommitHandler(_groups));
        _handlers.Register(new OffsetFetchHandler(_groups));
        _handlers.Register(new OffsetDeleteHandler(_groups));
        _handlers.Register(new DescribeGroupsHandler(_groups));
        _handlers.Register(new ListGroupsHandler(_groups));
        _handlers.Register(new DeleteGroupsHandler(_groups));
        _handlers.Register(new DescribeProducersHandler());
        _handlers.Register(new CreateAclsHandler());
        _handlers.Register(new DescribeAclsHandler());
        _handlers.Register(new DeleteAclsHandler());
    }

    private void OnTopicDeleted(string topic) => _groups.DeleteTopicOffsets(topic);

    private void OnTopicCreated(TopicState topic) =>
        Log.TopicCreated(_logger, topic.Name, topic.Partitions.Length, topic.ReplicationFactor);

    /// <summary>A Kafka-style cluster id: 16 random bytes in URL-safe base64 without padding.</summary>
    private static string NewClusterId() =>
        Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
