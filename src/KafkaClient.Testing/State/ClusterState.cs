using KafkaClient.Errors;
using KafkaClient.Testing.Security;

namespace KafkaClient.Testing.State;

/// <summary>Who leads a partition and where its replicas are; replaced as a whole, never mutated.</summary>
internal sealed record Leadership(int LeaderId, int LeaderEpoch, int[] Replicas);

/// <summary>One partition: its leadership and its log.</summary>
internal sealed class PartitionState
{
    private Leadership _leadership;

    public PartitionState(TopicState topic, int index, int[] replicas)
    {
        Topic = topic;
        Index = index;
        _leadership = new Leadership(replicas[0], 0, replicas);
        Log = new PartitionLog(0);
    }

    public TopicState Topic { get; }

    public int Index { get; }

    public PartitionLog Log { get; }

    public Leadership Leadership
    {
        get => Volatile.Read(ref _leadership);
        set => Volatile.Write(ref _leadership, value);
    }
}

/// <summary>One topic: name, id, partitions (the array is replaced when partitions are added) and configs.</summary>
internal sealed class TopicState
{
    private PartitionState[] _partitions = [];
    private IReadOnlyDictionary<string, string?> _configs;

    public TopicState(string name, Guid id, short replicationFactor, IReadOnlyDictionary<string, string?> configs)
    {
        Name = name;
        Id = id;
        ReplicationFactor = replicationFactor;
        _configs = configs;
    }

    public string Name { get; }

    public Guid Id { get; }

    public short ReplicationFactor { get; }

    /// <summary>The dynamic (topic-level) configs; replaced as a whole by AlterConfigs and IncrementalAlterConfigs.</summary>
    public IReadOnlyDictionary<string, string?> Configs
    {
        get => Volatile.Read(ref _configs);
        set => Volatile.Write(ref _configs, value);
    }

    public bool IsDeleted { get; set; }

    public PartitionState[] Partitions
    {
        get => Volatile.Read(ref _partitions);
        set => Volatile.Write(ref _partitions, value);
    }

    public PartitionState? Partition(int index)
    {
        var partitions = Partitions;
        return (uint)index < (uint)partitions.Length ? partitions[index] : null;
    }

    /// <summary>The topic's <c>retention.ms</c>, else the broker default (-1: keep forever).</summary>
    public long RetentionMs(long brokerDefault) => LongConfig("retention.ms", brokerDefault);

    /// <summary>The topic's <c>retention.bytes</c>, else the broker default (-1: no limit).</summary>
    public long RetentionBytes(long brokerDefault) => LongConfig("retention.bytes", brokerDefault);

    /// <summary>Whether <c>cleanup.policy</c> includes <c>delete</c> (the default), so retention applies.</summary>
    public bool DeletesOldRecords =>
        !Configs.TryGetValue("cleanup.policy", out var policy) || policy is null
        || policy.Split(',', StringSplitOptions.TrimEntries).Contains("delete", StringComparer.Ordinal);

    private long LongConfig(string name, long fallback) =>
        Configs.TryGetValue(name, out var value) && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long parsed)
            ? parsed
            : fallback;

    public int MaxMessageBytes(int brokerDefault) =>
        Configs.TryGetValue("max.message.bytes", out var value) && int.TryParse(value, out int max) ? max : brokerDefault;
}

/// <summary>A topic creation that failed validation.</summary>
internal readonly record struct TopicError(ErrorCode Error, string Message);

/// <summary>
/// Everything the brokers share: topics, leadership, which brokers run, producer ids and faults.
/// Topic and leadership changes take one lock; partition logs have their own.
/// </summary>
internal sealed class ClusterState
{
    /// <summary>Kafka's topic name limit.</summary>
    internal const int MaxTopicNameLength = 249;

    /// <summary>Partitions of Kafka's <c>__consumer_offsets</c> and <c>__transaction_state</c>, which pick coordinators.</summary>
    internal const int CoordinatorPartitions = 50;

    private readonly object _sync = new();
    private readonly Dictionary<string, TopicState> _topicsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, TopicState> _topicsById = [];
    private readonly EmbeddedKafkaClusterOptions _options;
    private long _nextProducerId = 1000;
    private int _nextLeaderStart;

    public ClusterState(EmbeddedKafkaClusterOptions options, string clusterId, IReadOnlyList<int> brokerIds)
    {
        _options = options;
        ClusterId = clusterId;
        BrokerIds = brokerIds;
        _running = [.. brokerIds];
        Faults = new FaultInjector();
        Authorizer = new AclAuthorizer(options.EnableAuthorization, options.SuperUsers, options.AllowEveryoneIfNoAclFound);
    }

    /// <summary>The ACLs and the decisions made from them.</summary>
    public AclAuthorizer Authorizer { get; }

    public EmbeddedKafkaClusterOptions Options => _options;

    public string ClusterId { get; }

    /// <summary>Every broker id, running or not, ascending.</summary>
    public IReadOnlyList<int> BrokerIds { get; }

    public FaultInjector Faults { get; }

    /// <summary>Called after each request is handled (see <see cref="EmbeddedKafkaCluster.RequestHandled"/>).</summary>
    public Action<EmbeddedRequestEventArgs>? RequestHandled { get; set; }

    public FetchSessionCache FetchSessions { get; } = new();

    public long NowMs => _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private HashSet<int> _running;

    public bool IsRunning(int brokerId)
    {
        lock (_sync)
        {
            return _running.Contains(brokerId);
        }
    }

    /// <summary>Running broker ids, ascending.</summary>
    public int[] RunningBrokers()
    {
        lock (_sync)
        {
            return [.. _running.Order()];
        }
    }

    /// <summary>The controller: the lowest running broker id, or -1.</summary>
    public int ControllerId
    {
        get
        {
            lock (_sync)
            {
                return _running.Count == 0 ? -1 : _running.Min();
            }
        }
    }

    public long AllocateProducerId() => Interlocked.Increment(ref _nextProducerId);

    private readonly Dictionary<int, (string Host, int Port)> _endpoints = [];

    /// <summary>Records where broker <paramref name="brokerId"/> listens (known once it has bound its port).</summary>
    public void SetEndpoint(int brokerId, string host, int port)
    {
        lock (_sync)
        {
            _endpoints[brokerId] = (host, port);
        }
    }

    /// <summary>Where broker <paramref name="brokerId"/> listens.</summary>
    public (string Host, int Port) Endpoint(int brokerId)
    {
        lock (_sync)
        {
            return _endpoints.TryGetValue(brokerId, out var e) ? e : ("", -1);
        }
    }

    /// <summary>
    /// The broker coordinating <paramref name="key"/> (a group id or transactional id): the key's
    /// partition of Kafka's internal coordinator topic (Java <c>String.hashCode</c>, as Kafka), mapped
    /// onto the running brokers. -1 when no broker runs.
    /// </summary>
    public int CoordinatorFor(string key)
    {
        int hash = 0;
        foreach (char c in key)
        {
            hash = unchecked((31 * hash) + c);
        }
        int partition = (hash & int.MaxValue) % CoordinatorPartitions;
        int[] running = RunningBrokers();
        return running.Length == 0 ? -1 : running[partition % running.Length];
    }

    public TopicState? GetTopic(string name)
    {
        lock (_sync)
        {
            return _topicsByName.GetValueOrDefault(name);
        }
    }

    public TopicState? GetTopic(Guid id)
    {
        lock (_sync)
        {
            return _topicsById.GetValueOrDefault(id);
        }
    }

    public TopicState[] Topics()
    {
        lock (_sync)
        {
            return [.. _topicsByName.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
        }
    }

    /// <summary>Kafka's topic name rule: 1..249 of [a-zA-Z0-9._-], not "." or "..".</summary>
    public static string? ValidateTopicName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "Topic name is empty.";
        }
        if (name is "." or "..")
        {
            return $"Topic name cannot be \"{name}\".";
        }
        if (name.Length > MaxTopicNameLength)
        {
            return $"Topic name is longer than {MaxTopicNameLength} characters.";
        }
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"Topic name \"{name}\" is illegal: it contains a character other than ASCII alphanumerics, '.', '_' and '-'.";
            }
        }
        return null;
    }

    /// <summary>
    /// Creates a topic (or only validates when <paramref name="validateOnly"/>). Partitions and
    /// replication factor of -1 take the defaults; <paramref name="assignments"/> (replica lists
    /// per partition) overrides both.
    /// </summary>
    public TopicError? CreateTopic(string name, int partitions, short replicationFactor, IReadOnlyList<int[]>? assignments,
        IReadOnlyDictionary<string, string?>? configs, bool validateOnly, out TopicState? created)
    {
        created = null;
        if (ValidateTopicName(name) is { } invalid)
        {
            return new TopicError(ErrorCode.InvalidTopicException, invalid);
        }
        lock (_sync)
        {
            if (_topicsByName.ContainsKey(name))
            {
                return new TopicError(ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.");
            }
            int[][] replicaSets;
            if (assignments is { Count: > 0 })
            {
                if (partitions != -1 || replicationFactor != -1)
                {
                    return new TopicError(ErrorCode.InvalidRequest, "Both replica assignments and partitions or replication factor were given.");
                }
                if (ValidateAssignments(assignments, 0) is { } bad)
                {
                    return bad;
                }
                replicaSets = [.. assignments];
                replicationFactor = (short)replicaSets[0].Length;
            }
            else
            {
                if (partitions == -1)
                {
                    partitions = _options.DefaultPartitions;
                }
                if (replicationFactor == -1)
                {
                    replicationFactor = _options.DefaultReplicationFactor;
                }
                if (partitions < 1)
                {
                    return new TopicError(ErrorCode.InvalidPartitions, "Number of partitions must be larger than 0.");
                }
                if (replicationFactor < 1)
                {
                    return new TopicError(ErrorCode.InvalidReplicationFactor, "Replication factor must be larger than 0.");
                }
                if (replicationFactor > BrokerIds.Count)
                {
                    return new TopicError(ErrorCode.InvalidReplicationFactor,
                        $"Unable to replicate the partition {replicationFactor} time(s): The target replication factor of {replicationFactor} cannot be reached because only {BrokerIds.Count} broker(s) are registered.");
                }
                replicaSets = SpreadReplicas(partitions, replicationFactor, _nextLeaderStart);
            }
            if (validateOnly)
            {
                return null;
            }
            _nextLeaderStart++;
            var topic = new TopicState(name, NewTopicId(), replicationFactor, configs ?? new Dictionary<string, string?>());
            topic.Partitions = [.. replicaSets.Select((replicas, i) => NewPartition(topic, i, replicas))];
            _topicsByName[name] = topic;
            _topicsById[topic.Id] = topic;
            created = topic;
            return null;
        }
    }

    /// <summary>Raises the partition count of <paramref name="topicName"/> to <paramref name="count"/>.</summary>
    public TopicError? CreatePartitions(string topicName, int count, IReadOnlyList<int[]>? assignments, bool validateOnly)
    {
        lock (_sync)
        {
            if (!_topicsByName.TryGetValue(topicName, out var topic))
            {
                return new TopicError(ErrorCode.UnknownTopicOrPartition, $"The topic '{topicName}' does not exist.");
            }
            int current = topic.Partitions.Length;
            if (count < current)
            {
                return new TopicError(ErrorCode.InvalidPartitions, $"Topic currently has {current} partitions, which is higher than the requested {count}.");
            }
            if (count == current)
            {
                return new TopicError(ErrorCode.InvalidPartitions, $"Topic already has {current} partitions.");
            }
            int added = count - current;
            int[][] replicaSets;
            if (assignments is not null)
            {
                if (assignments.Count != added)
                {
                    return new TopicError(ErrorCode.InvalidReplicaAssignment,
                        $"Increasing the number of partitions by {added} but {assignments.Count} assignments provided.");
                }
                if (ValidateAssignments(assignments, topic.ReplicationFactor) is { } bad)
                {
                    return bad;
                }
                replicaSets = [.. assignments];
            }
            else
            {
                replicaSets = SpreadReplicas(added, topic.ReplicationFactor, _nextLeaderStart + current);
            }
            if (validateOnly)
            {
                return null;
            }
            var partitions = topic.Partitions.ToList();
            for (int i = 0; i < added; i++)
            {
                partitions.Add(NewPartition(topic, current + i, replicaSets[i]));
            }
            topic.Partitions = [.. partitions];
            return null;
        }
    }

    public bool DeleteTopic(TopicState topic)
    {
        lock (_sync)
        {
            if (!_topicsByName.Remove(topic.Name))
            {
                return false;
            }
            _topicsById.Remove(topic.Id);
            topic.IsDeleted = true;
        }
        foreach (var p in topic.Partitions)
        {
            p.Log.Signal();
        }
        return true;
    }

    /// <summary>Makes <paramref name="brokerId"/> leader of the partition (adding it to the replicas if needed) with a new leader epoch; -1 leaves it leaderless.</summary>
    public void MoveLeader(PartitionState partition, int brokerId)
    {
        if (brokerId != -1 && !BrokerIds.Contains(brokerId))
        {
            throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId, "No such broker.");
        }
        lock (_sync)
        {
            var old = partition.Leadership;
            int[] replicas = brokerId == -1 || old.Replicas.Contains(brokerId)
                ? old.Replicas
                : [brokerId, .. old.Replicas];
            partition.Leadership = new Leadership(brokerId, old.LeaderEpoch + 1, replicas);
            partition.Log.BeginEpoch(old.LeaderEpoch + 1);
        }
    }

    /// <summary>
    /// Unclean leader election onto <paramref name="brokerId"/> (added to the replicas if needed) whose log ends at
    /// <paramref name="offset"/>: the log is cut there and the new leader epoch starts at the cut. Returns the new log end.
    /// </summary>
    public long TruncateAndMoveLeader(PartitionState partition, long offset, int brokerId)
    {
        if (!BrokerIds.Contains(brokerId))
        {
            throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId, "No such broker.");
        }
        lock (_sync)
        {
            var old = partition.Leadership;
            int[] replicas = old.Replicas.Contains(brokerId) ? old.Replicas : [brokerId, .. old.Replicas];
            long end = partition.Log.TruncateAndBeginEpoch(offset, old.LeaderEpoch + 1);
            partition.Leadership = new Leadership(brokerId, old.LeaderEpoch + 1, replicas);
            return end;
        }
    }

    /// <summary>
    /// ElectLeaders for one partition: preferred (the first replica, when it runs) or unclean (any
    /// running replica of a leaderless partition). ELECTION_NOT_NEEDED when the partition already
    /// has that leader (or, unclean, any leader).
    /// </summary>
    public ErrorCode ElectLeader(PartitionState partition, bool preferred)
    {
        lock (_sync)
        {
            var l = partition.Leadership;
            if (preferred)
            {
                int wanted = l.Replicas[0];
                if (l.LeaderId == wanted)
                {
                    return ErrorCode.ElectionNotNeeded;
                }
                if (!_running.Contains(wanted))
                {
                    return ErrorCode.PreferredLeaderNotAvailable;
                }
                MoveLeader(partition, wanted);
                return ErrorCode.None;
            }
            if (l.LeaderId != -1)
            {
                return ErrorCode.ElectionNotNeeded;
            }
            int next = l.Replicas.FirstOrDefault(_running.Contains, -1);
            if (next == -1)
            {
                return ErrorCode.EligibleLeadersNotAvailable;
            }
            MoveLeader(partition, next);
            return ErrorCode.None;
        }
    }

    /// <summary>
    /// Marks a broker stopped or started. Stopping moves leadership of its partitions to another
    /// running replica (or none); starting gives leaderless partitions it replicates back to it,
    /// as Kafka's controller does. Every move bumps the leader epoch.
    /// </summary>
    public void SetRunning(int brokerId, bool running)
    {
        lock (_sync)
        {
            if (running ? !_running.Add(brokerId) : !_running.Remove(brokerId))
            {
                return;
            }
            if (!running)
            {
                FetchSessions.Clear(brokerId);
            }
            foreach (var topic in _topicsByName.Values)
            {
                foreach (var p in topic.Partitions)
                {
                    var l = p.Leadership;
                    if (!running && l.LeaderId == brokerId)
                    {
                        int next = l.Replicas.FirstOrDefault(r => r != brokerId && _running.Contains(r), -1);
                        MoveLeader(p, next);
                    }
                    else if (running && l.LeaderId == -1 && l.Replicas.Contains(brokerId))
                    {
                        MoveLeader(p, brokerId);
                    }
                }
            }
        }
    }

    private TopicError? ValidateAssignments(IReadOnlyList<int[]> assignments, int requiredReplicationFactor)
    {
        int rf = requiredReplicationFactor > 0 ? requiredReplicationFactor : assignments[0].Length;
        foreach (int[] replicas in assignments)
        {
            if (replicas.Length == 0 || replicas.Length != rf)
            {
                return new TopicError(ErrorCode.InvalidReplicaAssignment, "All partitions must have the same, non-zero number of replicas.");
            }
            if (replicas.Distinct().Count() != replicas.Length)
            {
                return new TopicError(ErrorCode.InvalidReplicaAssignment, "A replica assignment lists a broker twice.");
            }
            if (replicas.Any(r => !BrokerIds.Contains(r)))
            {
                return new TopicError(ErrorCode.InvalidReplicaAssignment, "A replica assignment names an unknown broker.");
            }
        }
        return null;
    }

    /// <summary>Leaders round-robin over the brokers from <paramref name="start"/>; followers are the next brokers.</summary>
    private int[][] SpreadReplicas(int partitions, int replicationFactor, int start)
    {
        int n = BrokerIds.Count;
        var result = new int[partitions][];
        for (int p = 0; p < partitions; p++)
        {
            result[p] = new int[replicationFactor];
            for (int r = 0; r < replicationFactor; r++)
            {
                result[p][r] = BrokerIds[(start + p + r) % n];
            }
        }
        return result;
    }

    /// <summary>A new partition is led by its first running replica, at epoch 0.</summary>
    private PartitionState NewPartition(TopicState topic, int index, int[] replicas)
    {
        int[] ordered = [.. replicas.Where(_running.Contains), .. replicas.Where(r => !_running.Contains(r))];
        var partition = new PartitionState(topic, index, replicas);
        if (!_running.Contains(ordered[0]))
        {
            partition.Leadership = partition.Leadership with { LeaderId = -1 };
        }
        else if (ordered[0] != replicas[0])
        {
            partition.Leadership = partition.Leadership with { LeaderId = ordered[0] };
        }
        return partition;
    }

    private Guid NewTopicId()
    {
        while (true)
        {
            var id = Guid.NewGuid();
            if (!_topicsById.ContainsKey(id))
            {
                return id;
            }
        }
    }
}
