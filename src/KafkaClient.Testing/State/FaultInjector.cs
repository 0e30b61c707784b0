using KafkaClient.Errors;
using KafkaClient.Protocol;

namespace KafkaClient.Testing.State;

/// <summary>What an injected fault does to a request.</summary>
internal enum FaultKind
{
    /// <summary>Answered with an error by the handler's error response, not applied.</summary>
    Error,

    /// <summary>The connection is closed instead of handling the request (not applied).</summary>
    Disconnect,

    /// <summary>Handled, then the response waits <see cref="Fault.Delay"/> before it is written.</summary>
    Latency,

    /// <summary>Handled; the response carries <see cref="Fault.Delay"/> as its throttle time and the connection then reads nothing for that long (KIP-219).</summary>
    Throttle,

    /// <summary>Handled (applied), then only part of the response frame is written and the connection is closed.</summary>
    DropMidResponse,
}

/// <summary>What to do to one request.</summary>
internal readonly record struct Fault(FaultKind Kind, ErrorCode Error = ErrorCode.None, TimeSpan Delay = default);

/// <summary>
/// Queued faults per API key (optionally per broker): each matching request consumes one of each
/// kind asked for, in the order they were queued, so an error and a latency on the same API
/// both apply. Thread-safe.
/// </summary>
internal sealed class FaultInjector
{
    private readonly object _lock = new();
    private readonly List<Rule> _rules = [];
    private readonly HashSet<string> _cutOffClients = new(StringComparer.Ordinal);
    private volatile int _count;
    private volatile int _cutOffCount;

    /// <summary>Whether requests from <paramref name="clientId"/> are dropped (see <see cref="EmbeddedKafkaCluster.CutOffClient"/>).</summary>
    public bool IsCutOff(string? clientId)
    {
        if (_cutOffCount == 0 || clientId is null)
        {
            return false;
        }
        lock (_lock)
        {
            return _cutOffClients.Contains(clientId);
        }
    }

    public void SetCutOff(string clientId, bool cutOff)
    {
        lock (_lock)
        {
            if (cutOff)
            {
                _cutOffClients.Add(clientId);
            }
            else
            {
                _cutOffClients.Remove(clientId);
            }
            _cutOffCount = _cutOffClients.Count;
        }
    }

    public void Add(ApiKey apiKey, int? brokerId, Fault fault, int times)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        lock (_lock)
        {
            _rules.Add(new Rule(apiKey, brokerId, fault) { Remaining = times });
            _count = _rules.Count;
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _rules.Clear();
            _count = 0;
            _cutOffClients.Clear();
            _cutOffCount = 0;
        }
    }

    /// <summary>Consumes the first queued fault of <paramref name="kinds"/> for this request.</summary>
    public bool TryTake(ApiKey apiKey, int brokerId, out Fault fault, params ReadOnlySpan<FaultKind> kinds)
    {
        fault = default;
        if (_count == 0)
        {
            return false;
        }
        lock (_lock)
        {
            for (int i = 0; i < _rules.Count; i++)
            {
                var rule = _rules[i];
                if (rule.ApiKey == apiKey && (rule.BrokerId is null || rule.BrokerId == brokerId) && kinds.Contains(rule.Fault.Kind))
                {
                    fault = rule.Fault;
                    if (--rule.Remaining == 0)
                    {
                        _rules.RemoveAt(i);
                        _count = _rules.Count;
                    }
                    return true;
                }
            }
            return false;
        }
    }

    private sealed class Rule(ApiKey apiKey, int? brokerId, Fault fault)
    {
        public ApiKey ApiKey { get; } = apiKey;
        public int? BrokerId { get; } = brokerId;
        public Fault Fault { get; } = fault;
        public int Remaining { get; set; }
    }
}
