using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Network;

/// <summary>
/// The API versions one broker supports, as its ApiVersions response listed them, and the
/// version to use for each request: the highest both sides support.
/// </summary>
public sealed class ApiVersionTable
{
    private readonly Dictionary<ApiKey, (short Min, short Max)> _broker;
    private readonly bool _allowUnstable;

    internal ApiVersionTable(ApiVersionsResponse response, bool allowUnstable)
    {
        _allowUnstable = allowUnstable;
        _broker = new Dictionary<ApiKey, (short, short)>(response.ApiKeys.Count);
        foreach (var api in response.ApiKeys)
        {
            _broker[(ApiKey)api.ApiKey] = (api.MinVersion, api.MaxVersion);
        }
    }

    /// <summary>The broker's supported range for <paramref name="key"/>, or null when it does not support the API.</summary>
    public (short Min, short Max)? BrokerRange(ApiKey key) => _broker.TryGetValue(key, out var range) ? range : null;

    /// <summary>Every API the broker listed.</summary>
    public IReadOnlyDictionary<ApiKey, (short Min, short Max)> BrokerApis => _broker;

    /// <summary>
    /// The version to send <paramref name="request"/> at: the highest version both this codec
    /// (stable versions only unless opted in) and the broker support.
    /// </summary>
    /// <exception cref="UnsupportedVersionException">No version is supported by both.</exception>
    public short Select(IKafkaRequest request) =>
        TrySelect(request, out short version)
            ? version
            : throw new UnsupportedVersionException(
                BrokerRange(request.ApiKey) is { } range
                    ? $"The broker supports {request.ApiKey} v{range.Min}-{range.Max}; this client supports v{request.LowestVersion}-{(_allowUnstable ? request.HighestVersion : request.HighestStableVersion)}."
                    : $"The broker does not support the {request.ApiKey} API.");

    /// <summary>Like <see cref="Select"/>, returning false instead of throwing.</summary>
    public bool TrySelect(IKafkaRequest request, out short version) =>
        TrySelect(new ApiDescriptor(request.ApiKey, "", request.LowestVersion, request.HighestVersion, request.HighestStableVersion, -1), out version);

    /// <summary>The version both sides support for an API described by <paramref name="api"/> (see <see cref="KafkaApis.All"/>); false when none.</summary>
    public bool TrySelect(ApiDescriptor api, out short version)
    {
        version = -1;
        if (!_broker.TryGetValue(api.Key, out var range))
        {
            return false;
        }
        short ours = _allowUnstable ? api.HighestVersion : api.HighestStableVersion;
        short high = Math.Min(ours, range.Max);
        short low = Math.Max(api.LowestVersion, range.Min);
        if (high < low)
        {
            return false;
        }
        version = high;
        return true;
    }
}
