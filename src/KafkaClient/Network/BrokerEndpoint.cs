using System.Globalization;

namespace KafkaClient.Network;

/// <summary>A broker's address: host and port, plus its node id once metadata has named it.</summary>
/// <param name="Host">Host name or IP address.</param>
/// <param name="Port">TCP port.</param>
/// <param name="NodeId">The broker's node id, or -1 for a bootstrap address not yet identified.</param>
public readonly record struct BrokerEndpoint(string Host, int Port, int NodeId = -1)
{
    /// <summary>Parses a comma-separated <c>host:port</c> list (IPv6 hosts in brackets).</summary>
    public static IReadOnlyList<BrokerEndpoint> ParseList(string servers)
    {
        var result = new List<BrokerEndpoint>();
        foreach (var part in servers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            result.Add(Parse(part));
        }
        if (result.Count == 0)
        {
            throw new ArgumentException("No broker address given.", nameof(servers));
        }
        return result;
    }

    /// <summary>Parses one <c>host:port</c>.</summary>
    public static BrokerEndpoint Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
            || port is < 1 or > 65535)
        {
            throw new ArgumentException($"'{text}' is not a host:port broker address.", nameof(text));
        }
        string host = text[..colon].Trim('[', ']');
        return new BrokerEndpoint(host, port);
    }

    /// <inheritdoc/>
    public override string ToString() => NodeId >= 0 ? $"{Host}:{Port} (node {NodeId})" : $"{Host}:{Port}";
}
