using System.Globalization;

namespace KafkaClient.Perf;

/// <summary>A command line error: printed to stderr with the usage, exit code 64.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// <c>--name value</c> options after a command word. Every option takes a value; the raw
/// name/value pairs are kept in order so <c>compare</c> can forward them to its children.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    private CommandLine(List<KeyValuePair<string, string>> pairs)
    {
        Pairs = pairs;
        foreach (var (name, value) in pairs)
        {
            _values[name] = value;
        }
    }

    /// <summary>The options in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Pairs { get; }

    public static CommandLine Parse(IEnumerable<string> args)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length < 3)
            {
                throw new UsageException($"Unexpected argument '{arg}' (options are --name value).");
            }
            string name, value;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[2..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg[2..];
                if (!e.MoveNext())
                {
                    throw new UsageException($"Option --{name} needs a value.");
                }
                value = e.Current;
            }
            pairs.Add(new(name, value));
        }
        return new CommandLine(pairs);
    }

    public bool Has(string name)
    {
        _read.Add(name);
        return _values.ContainsKey(name);
    }

    public string? String(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public string String(string name, string fallback) => String(name) ?? fallback;

    public string Choice(string name, string fallback, params string[] allowed)
    {
        var v = String(name, fallback).ToLowerInvariant();
        return Array.IndexOf(allowed, v) >= 0
            ? v
            : throw new UsageException($"--{name} must be one of {string.Join('|', allowed)}, not '{v}'.");
    }

    public long Int64(string name, long fallback, long min = long.MinValue)
    {
        var s = String(name);
        if (s is null)
        {
            return fallback;
        }
        s = s.Replace("_", "", StringComparison.Ordinal);
        long multiplier = 1;
        if (s.EndsWith('k') || s.EndsWith('K'))
        {
            multiplier = 1_000;
            s = s[..^1];
        }
        else if (s.EndsWith('m') || s.EndsWith('M'))
        {
            multiplier = 1_000_000;
            s = s[..^1];
        }
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
        {
            throw new UsageException($"--{name} must be an integer, not '{String(name)}'.");
        }
        v *= multiplier;
        return v >= min ? v : throw new UsageException($"--{name} must be at least {min}.");
    }

    public int Int32(string name, int fallback, int min = int.MinValue) =>
        checked((int)Int64(name, fallback, min));

    public double Double(string name, double fallback, double min = double.MinValue)
    {
        var s = String(name);
        if (s is null)
        {
            return fallback;
        }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            throw new UsageException($"--{name} must be a number, not '{s}'.");
        }
        return v >= min ? v : throw new UsageException($"--{name} must be at least {min}.");
    }

    public bool Bool(string name, bool fallback)
    {
        var s = String(name);
        return s?.ToLowerInvariant() switch
        {
            null => fallback,
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw new UsageException($"--{name} must be true or false, not '{s}'."),
        };
    }

    /// <summary>Fails on options nobody asked for (typos would otherwise silently change a benchmark).</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException("Unknown option(s): " + string.Join(", ", unknown.Select(u => "--" + u)));
        }
    }
}
