using KafkaClient.Errors;
using KafkaClient.Protocol;

namespace KafkaClient.Testing.State;

/// <summary>What to do to one request instead of handling it; <paramref name="Delay"/> holds the answer back first.</summary>
internal readonly record struct Fault(ErrorCode Error, bool CloseConnection, TimeSpan Delay = default);

/// <summary>
/// Queued faults per API key (optionally per broker): each matching request consumes one, in the
/// order they were queued. Thread-safe.
/// </summary>
internal sealed class FaultInjector
{
    private readonly object _lock = new();
    private readonly List<Rule> _rules = [];
    private volatile int _count;

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
        }
    }

    public bool TryTake(ApiKey apiKey, int brokerId, out Fault fault)
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
                if (rule.ApiKey == apiKey && (rule.BrokerId is null || rule.BrokerId == brokerId))
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
