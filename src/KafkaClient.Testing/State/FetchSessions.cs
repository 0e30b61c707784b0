namespace KafkaClient.Testing.State;

/// <summary>One partition a fetch reads: as requested, or as remembered by a fetch session.</summary>
internal sealed class FetchTarget
{
    public required string Topic { get; init; }
    public required Guid TopicId { get; init; }
    public required int Partition { get; init; }
    public long FetchOffset { get; set; }
    public int MaxBytes { get; set; }
    public int CurrentLeaderEpoch { get; set; } = -1;

    /// <summary>What the session last told the client (an incremental response leaves a partition out when nothing changed).</summary>
    public long LastHighWatermark { get; set; } = -1;
    public long LastStableOffset { get; set; } = -1;
    public long LastLogStartOffset { get; set; } = -1;

    /// <summary>The key within a session: the topic id from Fetch v13, the name before.</summary>
    public static (string, Guid, int) Key(string topic, Guid topicId, int partition, bool byId) =>
        byId ? ("", topicId, partition) : (topic, Guid.Empty, partition);
}

/// <summary>A fetch session (KIP-227): the partitions a client fetches, so incremental requests name only changes.</summary>
internal sealed class FetchSession(int id, int brokerId)
{
    public int Id { get; } = id;

    public int BrokerId { get; } = brokerId;

    /// <summary>The epoch the next incremental request must carry.</summary>
    public int NextEpoch { get; set; } = 1;

    /// <summary>Partitions in the order they were added (responses follow it).</summary>
    public List<FetchTarget> Partitions { get; } = [];

    public Dictionary<(string, Guid, int), FetchTarget> ByKey { get; } = [];

    public bool ById { get; init; }

    public object Lock { get; } = new();
}

/// <summary>Every broker's fetch sessions (Kafka: <c>max.incremental.fetch.session.cache.slots</c> = 1000 per broker).</summary>
internal sealed class FetchSessionCache
{
    internal const int MaxSessionsPerBroker = 1000;

    private readonly object _lock = new();
    private readonly Dictionary<(int Broker, int Id), FetchSession> _sessions = [];
    private int _nextId;

    /// <summary>A new session, or null when the broker's cache is full (the fetch is then served sessionless).</summary>
    public FetchSession? Create(int brokerId, bool byId)
    {
        lock (_lock)
        {
            if (_sessions.Keys.Count(k => k.Broker == brokerId) >= MaxSessionsPerBroker)
            {
                return null;
            }
            int id;
            do
            {
                id = ++_nextId;
                if (id <= 0)
                {
                    _nextId = 0;
                    id = ++_nextId;
                }
            }
            while (_sessions.ContainsKey((brokerId, id)));
            var session = new FetchSession(id, brokerId) { ById = byId };
            _sessions[(brokerId, id)] = session;
            return session;
        }
    }

    public FetchSession? Get(int brokerId, int id)
    {
        lock (_lock)
        {
            return _sessions.GetValueOrDefault((brokerId, id));
        }
    }

    public void Remove(int brokerId, int id)
    {
        lock (_lock)
        {
            _sessions.Remove((brokerId, id));
        }
    }

    /// <summary>A stopped broker forgets its sessions.</summary>
    public void Clear(int brokerId)
    {
        lock (_lock)
        {
            foreach (var key in _sessions.Keys.Where(k => k.Broker == brokerId).ToList())
            {
                _sessions.Remove(key);
            }
        }
    }
}
