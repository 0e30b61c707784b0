using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace KafkaClient.TestBrokers;

/// <summary>
/// librdkafka's in-process mock Kafka cluster (third-party broker code from the
/// <c>librdkafka.redist</c> package), started through its C API. Real TCP listeners on
/// 127.0.0.1, broker ids 1..N, plaintext only, with fault injection.
/// </summary>
/// <remarks>
/// <para>The mock implements produce, fetch, metadata, offsets, consumer groups and the idempotent
/// and transactional producer APIs, but no admin API (CreateTopics and the like close the
/// connection): create topics with <see cref="CreateTopic"/>. Control methods are thread-safe.</para>
/// <para>Non-zero <c>rd_kafka_resp_err_t</c> results throw <see cref="InvalidOperationException"/>;
/// any control call after disposal throws <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
public sealed class LibrdkafkaMockCluster : IAsyncDisposable, IDisposable
{
    /// <summary>librdkafka's <c>RD_KAFKA_RESP_ERR__TRANSPORT</c>: pushed as a request error, the mock closes the connection instead of answering.</summary>
    public const short DisconnectError = -195;

    /// <summary>How long <see cref="Dispose"/> waits for the native teardown before abandoning it.</summary>
    public static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(10);

    private const int ErrorBufferSize = 512;

    private readonly Lock _gate = new();
    private IntPtr _rk;
    private IntPtr _mcluster;
    private Task? _destroyed;

    private LibrdkafkaMockCluster(IntPtr rk, IntPtr mcluster, int brokerCount)
    {
        _rk = rk;
        _mcluster = mcluster;
        BrokerCount = brokerCount;
        BrokerIds = Enumerable.Range(1, brokerCount).ToArray();
        BootstrapServers = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_mock_cluster_bootstraps(mcluster)) ?? string.Empty;
    }

    /// <summary>The cluster's bootstrap list, <c>127.0.0.1:port,...</c>, one entry per broker.</summary>
    public string BootstrapServers { get; }

    /// <summary>The number of brokers.</summary>
    public int BrokerCount { get; }

    /// <summary>The broker ids, 1..<see cref="BrokerCount"/>.</summary>
    public IReadOnlyList<int> BrokerIds { get; }

    /// <summary>How long <see cref="Start"/> took, including the default set-up and pre-created topics.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Whether the cluster has been disposed.</summary>
    public bool IsDisposed
    {
        get
        {
            lock (_gate)
            {
                return _destroyed is not null;
            }
        }
    }

    /// <summary>
    /// Starts a mock cluster with <paramref name="brokerCount"/> brokers (ids 1..N). By default the
    /// API versions the mock handles wrongly are clamped, the controller is broker 1 and the group
    /// initial rebalance delay is 0 (see <see cref="LibrdkafkaMockClusterOptions"/>).
    /// </summary>
    /// <param name="brokerCount">How many brokers, at least 1.</param>
    /// <param name="options">Set-up options; <see langword="null"/> for the defaults.</param>
    /// <returns>The running cluster; dispose it to stop it.</returns>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded.</exception>
    /// <exception cref="InvalidOperationException">librdkafka refused the configuration or a set-up step.</exception>
    public static LibrdkafkaMockCluster Start(int brokerCount = 3, LibrdkafkaMockClusterOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        options ??= new LibrdkafkaMockClusterOptions();
        LibrdkafkaNativeLibrary.EnsureLoaded();

        var stopwatch = Stopwatch.StartNew();
        var errstr = new byte[ErrorBufferSize];
        var conf = NativeMethods.rd_kafka_conf_new();
        IntPtr rk;
        try
        {
            SetConf(conf, "log_level", "3", errstr);
            SetConf(conf, "client.id", "kafkaclient-mock-cluster", errstr);
            foreach (var (name, value) in options.Configuration)
            {
                SetConf(conf, name, value, errstr);
            }

            rk = NativeMethods.rd_kafka_new(NativeMethods.ProducerType, conf, errstr, ErrorBufferSize);
            if (rk == IntPtr.Zero)
            {
                throw new InvalidOperationException("rd_kafka_new failed: " + ReadError(errstr));
            }
        }
        catch
        {
            // rd_kafka_new takes ownership of conf only when it succeeds.
            NativeMethods.rd_kafka_conf_destroy(conf);
            throw;
        }

        var mcluster = NativeMethods.rd_kafka_mock_cluster_new(rk, brokerCount);
        if (mcluster == IntPtr.Zero)
        {
            NativeMethods.rd_kafka_destroy(rk);
            throw new InvalidOperationException($"rd_kafka_mock_cluster_new({brokerCount}) failed (see librdkafka's log on stderr).");
        }

        var cluster = new LibrdkafkaMockCluster(rk, mcluster, brokerCount);
        try
        {
            if (options.ClampBrokenApiVersions)
            {
                cluster.SetApiVersion(11, 0, 5); // JoinGroup v6 advertised but broken
                cluster.SetApiVersion(14, 0, 3); // SyncGroup v4
                cluster.SetApiVersion(13, 0, 2); // LeaveGroup v3-4
                cluster.SetApiVersion(12, 0, 4); // Heartbeat: capped below v5 along with the other classic group APIs
            }

            if (options.ControllerId is { } controllerId)
            {
                cluster.SetControllerId(controllerId);
            }

            if (options.GroupInitialRebalanceDelayMs is { } delayMs)
            {
                cluster.SetGroupInitialRebalanceDelay(delayMs);
            }

            foreach (var topic in options.Topics)
            {
                cluster.CreateTopic(topic.Name, topic.Partitions, topic.ReplicationFactor);
            }
        }
        catch
        {
            cluster.Dispose();
            throw;
        }

        cluster.StartupTime = stopwatch.Elapsed;
        return cluster;
    }

    /// <summary>
    /// The leader that <see cref="CreateTopic"/> gives partition <paramref name="partition"/>:
    /// broker <c>(partition % BrokerCount) + 1</c>.
    /// </summary>
    /// <param name="partition">The partition index.</param>
    /// <returns>The broker id.</returns>
    public int DefaultLeader(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        return (partition % BrokerCount) + 1;
    }

    /// <summary>
    /// Creates a topic (the mock has no CreateTopics API). With <paramref name="assignLeaders"/> the
    /// leader of partition p is set to <see cref="DefaultLeader"/>(p) instead of the mock's random
    /// choice. For replication factor 1 or <see cref="BrokerCount"/> that broker is also a replica;
    /// for anything in between the mock may list replicas that do not include it.
    /// </summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partitions">The number of partitions, at least 1.</param>
    /// <param name="replicationFactor">The replication factor, at least 1 (the mock caps it at the broker count).</param>
    /// <param name="assignLeaders">Whether to set deterministic leaders.</param>
    public void CreateTopic(string topic, int partitions = 1, int replicationFactor = 1, bool assignLeaders = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        lock (_gate)
        {
            var mc = Handle();
            Check("rd_kafka_mock_topic_create", NativeMethods.rd_kafka_mock_topic_create(mc, topic, partitions, replicationFactor));
            if (assignLeaders)
            {
                for (var p = 0; p < partitions; p++)
                {
                    Check("rd_kafka_mock_partition_set_leader",
                        NativeMethods.rd_kafka_mock_partition_set_leader(mc, topic, p, DefaultLeader(p)));
                }
            }
        }
    }

    /// <summary>Deletes a topic from the mock.</summary>
    /// <param name="topic">The topic name.</param>
    public void DeleteTopic(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (_gate)
        {
            Check("rd_kafka_mock_topic_delete", NativeMethods.rd_kafka_mock_topic_delete(Handle(), topic));
        }
    }

    /// <summary>Makes Metadata (and AddPartitionsToTxn) report <paramref name="errorCode"/> for <paramref name="topic"/>; 0 clears it.</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="errorCode">A Kafka error code.</param>
    public void SetTopicError(string topic, short errorCode)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_topic_set_error(Handle(), topic, errorCode);
        }
    }

    /// <summary>
    /// Sets a partition's leader and bumps its leader epoch; -1 makes it leaderless. Creates the
    /// topic if it does not exist.
    /// </summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partition">The partition index.</param>
    /// <param name="brokerId">An existing broker id, or -1.</param>
    public void SetPartitionLeader(string topic, int partition, int brokerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (_gate)
        {
            Check("rd_kafka_mock_partition_set_leader",
                NativeMethods.rd_kafka_mock_partition_set_leader(Handle(), topic, partition, brokerId));
        }
    }

    /// <summary>Sets a partition's preferred read replica (KIP-392), which Fetch reports to consumers that send a rack.</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="partition">The partition index.</param>
    /// <param name="brokerId">A broker id (need not exist).</param>
    public void SetPartitionFollower(string topic, int partition, int brokerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (_gate)
        {
            Check("rd_kafka_mock_partition_set_follower",
                NativeMethods.rd_kafka_mock_partition_set_follower(Handle(), topic, partition, brokerId));
        }
    }

    /// <summary>
    /// Closes the broker's connections and refuses new ones; it also leaves Metadata's broker list.
    /// Leadership does NOT move: move it with <see cref="SetPartitionLeader"/>.
    /// </summary>
    /// <param name="brokerId">The broker id, or -1 for all brokers.</param>
    public void SetBrokerDown(int brokerId)
    {
        lock (_gate)
        {
            Check("rd_kafka_mock_broker_set_down", NativeMethods.rd_kafka_mock_broker_set_down(Handle(), brokerId));
        }
    }

    /// <summary>Lets a broker accept connections again (leadership does not move).</summary>
    /// <param name="brokerId">The broker id, or -1 for all brokers.</param>
    public void SetBrokerUp(int brokerId)
    {
        lock (_gate)
        {
            Check("rd_kafka_mock_broker_set_up", NativeMethods.rd_kafka_mock_broker_set_up(Handle(), brokerId));
        }
    }

    /// <summary>Delays every response of a broker by <paramref name="rttMs"/> milliseconds.</summary>
    /// <param name="brokerId">The broker id, or -1 for all brokers.</param>
    /// <param name="rttMs">The added round-trip time in milliseconds; 0 removes it.</param>
    public void SetBrokerRtt(int brokerId, int rttMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rttMs);
        lock (_gate)
        {
            Check("rd_kafka_mock_broker_set_rtt", NativeMethods.rd_kafka_mock_broker_set_rtt(Handle(), brokerId, rttMs));
        }
    }

    /// <summary>Sets the rack a broker reports in Metadata.</summary>
    /// <param name="brokerId">The broker id, or -1 for all brokers.</param>
    /// <param name="rack">The rack id.</param>
    public void SetBrokerRack(int brokerId, string rack)
    {
        ArgumentNullException.ThrowIfNull(rack);
        lock (_gate)
        {
            Check("rd_kafka_mock_broker_set_rack", NativeMethods.rd_kafka_mock_broker_set_rack(Handle(), brokerId, rack));
        }
    }

    /// <summary>Pins the coordinator FindCoordinator returns for a group or transactional id.</summary>
    /// <param name="keyType"><c>"group"</c> or <c>"transaction"</c>.</param>
    /// <param name="key">The group id or transactional id.</param>
    /// <param name="brokerId">The coordinator's broker id (need not exist).</param>
    public void SetCoordinator(string keyType, string key, int brokerId)
    {
        if (keyType is not ("group" or "transaction"))
        {
            throw new ArgumentException("keyType must be \"group\" or \"transaction\".", nameof(keyType));
        }

        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            Check("rd_kafka_mock_coordinator_set", NativeMethods.rd_kafka_mock_coordinator_set(Handle(), keyType, key, brokerId));
        }
    }

    /// <summary>
    /// Sets the version range ApiVersions advertises (and the mock accepts) for one API. -1, -1
    /// disables the API. The maximum must not exceed what the mock implements.
    /// </summary>
    /// <param name="apiKey">The Kafka API key.</param>
    /// <param name="minVersion">The lowest version, or -1.</param>
    /// <param name="maxVersion">The highest version, or -1.</param>
    public void SetApiVersion(short apiKey, short minVersion, short maxVersion)
    {
        lock (_gate)
        {
            Check("rd_kafka_mock_set_apiversion",
                NativeMethods.rd_kafka_mock_set_apiversion(Handle(), apiKey, minVersion, maxVersion));
        }
    }

    /// <summary>Sets the controller id that Metadata reports (not validated by the mock).</summary>
    /// <param name="brokerId">The broker id.</param>
    public void SetControllerId(int brokerId)
    {
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_set_controller_id(Handle(), brokerId);
        }
    }

    /// <summary>Sets the group coordinator's <c>group.initial.rebalance.delay.ms</c>.</summary>
    /// <param name="delayMs">The delay in milliseconds.</param>
    public void SetGroupInitialRebalanceDelay(int delayMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delayMs);
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_group_initial_rebalance_delay_ms(Handle(), delayMs);
        }
    }

    /// <summary>
    /// Makes the next <c>errors.Length</c> requests with <paramref name="apiKey"/>, to any broker,
    /// fail with these error codes in order (0 lets one through). <see cref="DisconnectError"/>
    /// closes the connection instead of answering.
    /// </summary>
    /// <param name="apiKey">The Kafka API key, e.g. 0 for Produce.</param>
    /// <param name="errors">Kafka error codes (or librdkafka's negative internal codes).</param>
    public void PushRequestErrors(short apiKey, params short[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Length == 0)
        {
            return;
        }

        var codes = Array.ConvertAll(errors, static e => (int)e);
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_push_request_errors_array(Handle(), apiKey, (nuint)codes.Length, codes);
        }
    }

    /// <summary>Drops the errors still queued by <see cref="PushRequestErrors"/> for <paramref name="apiKey"/>.</summary>
    /// <param name="apiKey">The Kafka API key.</param>
    public void ClearRequestErrors(short apiKey)
    {
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_clear_request_errors(Handle(), apiKey);
        }
    }

    /// <summary>Starts recording every request the cluster receives (see <see cref="GetRequests"/>).</summary>
    public void StartRequestTracking()
    {
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_start_request_tracking(Handle());
        }
    }

    /// <summary>Stops recording requests; already recorded ones are kept.</summary>
    public void StopRequestTracking()
    {
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_stop_request_tracking(Handle());
        }
    }

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests()
    {
        lock (_gate)
        {
            NativeMethods.rd_kafka_mock_clear_requests(Handle());
        }
    }

    /// <summary>The requests recorded since tracking started (or the last <see cref="ClearRequests"/>), oldest first.</summary>
    /// <returns>A snapshot of the recorded requests.</returns>
    public IReadOnlyList<MockRequest> GetRequests()
    {
        lock (_gate)
        {
            var array = NativeMethods.rd_kafka_mock_get_requests(Handle(), out var count);
            if (array == IntPtr.Zero)
            {
                return [];
            }

            try
            {
                var result = new MockRequest[(int)count];
                for (var i = 0; i < result.Length; i++)
                {
                    var request = Marshal.ReadIntPtr(array, i * IntPtr.Size);
                    result[i] = new MockRequest(
                        NativeMethods.rd_kafka_mock_request_id(request),
                        NativeMethods.rd_kafka_mock_request_api_key(request),
                        NativeMethods.rd_kafka_mock_request_timestamp(request));
                }

                return result;
            }
            finally
            {
                NativeMethods.rd_kafka_mock_request_destroy_array(array, count);
            }
        }
    }

    /// <summary>
    /// Destroys the mock cluster and then its owning handle. Idempotent. Waits at most
    /// <see cref="DisposeTimeout"/> for the native teardown; past that it is left to finish on its
    /// own background thread so a test run never hangs here.
    /// </summary>
    public void Dispose()
    {
        BeginDestroy().Wait(DisposeTimeout);
    }

    /// <summary>Same as <see cref="Dispose"/>, without blocking the calling thread.</summary>
    /// <returns>A task that completes when the cluster is gone or the timeout has passed.</returns>
    public async ValueTask DisposeAsync()
    {
        var destroyed = BeginDestroy();
        try
        {
            await destroyed.WaitAsync(DisposeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Abandoned: the teardown thread finishes (or not) in the background.
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"librdkafka mock cluster ({BrokerCount} brokers: {BootstrapServers})";

    private Task BeginDestroy()
    {
        lock (_gate)
        {
            if (_destroyed is not null)
            {
                return _destroyed;
            }

            var mcluster = _mcluster;
            var rk = _rk;
            _mcluster = IntPtr.Zero;
            _rk = IntPtr.Zero;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _destroyed = done.Task;
            var thread = new Thread(() =>
            {
                try
                {
                    if (mcluster != IntPtr.Zero)
                    {
                        NativeMethods.rd_kafka_mock_cluster_destroy(mcluster);
                    }

                    if (rk != IntPtr.Zero)
                    {
                        NativeMethods.rd_kafka_destroy(rk);
                    }
                }
                finally
                {
                    done.TrySetResult();
                }
            })
            {
                IsBackground = true,
                Name = "librdkafka mock cluster teardown",
            };
            thread.Start();
            return _destroyed;
        }
    }

    private IntPtr Handle()
    {
        ObjectDisposedException.ThrowIf(_destroyed is not null, this);
        return _mcluster;
    }

    private static void Check(string function, int error)
    {
        if (error != 0)
        {
            var text = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_err2str(error));
            throw new InvalidOperationException($"{function} failed with error {error}: {text}");
        }
    }

    private static void SetConf(IntPtr conf, string name, string value, byte[] errstr)
    {
        if (NativeMethods.rd_kafka_conf_set(conf, name, value, errstr, ErrorBufferSize) != NativeMethods.ConfOk)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set({name}={value}) failed: {ReadError(errstr)}");
        }
    }

    private static string ReadError(byte[] errstr)
    {
        var end = Array.IndexOf(errstr, (byte)0);
        return Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
    }
}
