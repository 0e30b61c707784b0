using System.Globalization;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// DescribeConfigs for topics (every known topic config plus any set at creation: set ones are
/// DYNAMIC_TOPIC_CONFIG, the rest DEFAULT_CONFIG with the broker config they fall back to as a
/// synonym) and brokers (resource name = broker id); key filter, synonyms and documentation on request.
/// </summary>
internal sealed class DescribeConfigsHandler(ConfigStore store) : ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse>(ApiKey.DescribeConfigs)
{
    protected override ValueTask<DescribeConfigsResponse?> HandleAsync(RequestContext context, DescribeConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeConfigsResponse();
        bool synonyms = request.IncludeSynonyms;
        bool documentation = context.ApiVersion >= 3 && request.IncludeDocumentation;
        foreach (var resource in request.Resources)
        {
            var result = new DescribeConfigsResponse.DescribeConfigsResult { ResourceType = resource.ResourceType, ResourceName = resource.ResourceName, ErrorMessage = null };
            response.Results.Add(result);
            var wanted = resource.ConfigurationKeys is { Count: > 0 } keys ? keys.ToHashSet(StringComparer.Ordinal) : null;
            if (ConfigChanges.Authorize(context, resource.ResourceType, resource.ResourceName, AclOperation.DescribeConfigs) is { } denied)
            {
                result.ErrorCode = denied.Code();
                result.ErrorMessage = "Authorization failed.";
                continue;
            }
            List<DescribeConfigsResponse.DescribeConfigsResourceResult> entries;
            switch (resource.ResourceType)
            {
                case ConfigResourceType.Topic:
                    if (context.Cluster.GetTopic(resource.ResourceName) is not { } topic)
                    {
                        result.ErrorCode = ErrorCode.UnknownTopicOrPartition.Code();
                        result.ErrorMessage = $"Topic '{resource.ResourceName}' does not exist.";
                        continue;
                    }
                    entries = DescribeTopic(topic.Configs, synonyms, documentation);
                    break;
                case ConfigResourceType.Broker:
                    if (ConfigChanges.ParseBroker(context, resource.ResourceName) is not { } brokerId)
                    {
                        result.ErrorCode = ErrorCode.InvalidRequest.Code();
                        result.ErrorMessage = $"No broker with id '{resource.ResourceName}'.";
                        continue;
                    }
                    entries = DescribeBroker(brokerId, synonyms, documentation);
                    break;
                default:
                    result.ErrorCode = ErrorCode.InvalidRequest.Code();
                    result.ErrorMessage = $"Unsupported resource type {resource.ResourceType}.";
                    continue;
            }
            result.Configs = [.. entries.Where(e => wanted is null || wanted.Contains(e.Name))];
        }
        return ValueTask.FromResult<DescribeConfigsResponse?>(response);
    }

    protected override DescribeConfigsResponse ErrorResponse(RequestContext context, DescribeConfigsRequest request, ErrorCode error)
    {
        var response = new DescribeConfigsResponse();
        foreach (var resource in request.Resources)
        {
            response.Results.Add(new DescribeConfigsResponse.DescribeConfigsResult
            {
                ResourceType = resource.ResourceType,
                ResourceName = resource.ResourceName,
                ErrorCode = error.Code(),
                ErrorMessage = error.ToString(),
            });
        }
        return response;
    }

    private List<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeTopic(IReadOnlyDictionary<string, string?> set, bool synonyms, bool documentation)
    {
        var entries = new List<DescribeConfigsResponse.DescribeConfigsResourceResult>();
        foreach (string name in store.TopicConfigs.Keys.Union(set.Keys).Order(StringComparer.Ordinal))
        {
            store.TopicConfigs.TryGetValue(name, out var definition);
            bool isSet = set.TryGetValue(name, out string? value);
            var entry = Entry(name, isSet ? value : definition?.Default, isSet ? ConfigSource.DynamicTopicConfig : ConfigSource.DefaultConfig, definition, documentation);
            if (synonyms)
            {
                if (isSet)
                {
                    entry.Synonyms.Add(Synonym(name, value, ConfigSource.DynamicTopicConfig, definition));
                }
                if (definition?.BrokerSynonym is { } brokerName)
                {
                    entry.Synonyms.Add(Synonym(brokerName, definition.Default, ConfigSource.DefaultConfig, definition));
                }
            }
            entries.Add(entry);
        }
        return entries;
    }

    private List<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeBroker(int brokerId, bool synonyms, bool documentation)
    {
        var set = store.BrokerDynamic(brokerId);
        var entries = new List<DescribeConfigsResponse.DescribeConfigsResourceResult>();
        foreach (var definition in store.BrokerConfigs.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            bool isSet = set.TryGetValue(definition.Name, out string? value);
            var (defaultValue, defaultSource) = definition.Name == "broker.id"
                ? (brokerId.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig)
                : (definition.Default, ConfigSource.DefaultConfig);
            var entry = Entry(definition.Name, isSet ? value : defaultValue, isSet ? ConfigSource.DynamicBrokerConfig : defaultSource, definition, documentation);
            if (synonyms)
            {
                if (isSet)
                {
                    entry.Synonyms.Add(Synonym(definition.Name, value, ConfigSource.DynamicBrokerConfig, definition));
                }
                entry.Synonyms.Add(Synonym(definition.Name, defaultValue, defaultSource, definition));
            }
            entries.Add(entry);
        }
        return entries;
    }

    private static DescribeConfigsResponse.DescribeConfigsResourceResult Entry(string name, string? value, ConfigSource source, ConfigDefinition? definition, bool documentation) => new()
    {
        Name = name,
        Value = definition?.Sensitive == true ? null : value,
        ReadOnly = definition?.ReadOnly ?? false,
        ConfigSource = (sbyte)source,
        IsSensitive = definition?.Sensitive ?? false,
        ConfigType = (sbyte)(definition?.Type ?? ConfigType.Unknown),
        Documentation = documentation ? definition?.Documentation : null,
    };

    private static DescribeConfigsResponse.DescribeConfigsSynonym Synonym(string name, string? value, ConfigSource source, ConfigDefinition? definition) =>
        new() { Name = name, Value = definition?.Sensitive == true ? null : value, Source = (sbyte)source };
}

/// <summary>AlterConfigs: replaces a topic's or broker's whole dynamic config set (validate-only supported).</summary>
internal sealed class AlterConfigsHandler(ConfigStore store) : ApiHandler<AlterConfigsRequest, AlterConfigsResponse>(ApiKey.AlterConfigs)
{
    protected override ValueTask<AlterConfigsResponse?> HandleAsync(RequestContext context, AlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new AlterConfigsResponse();
        var duplicates = ConfigChanges.Duplicates(request.Resources.Select(r => (r.ResourceType, r.ResourceName)));
        foreach (var resource in request.Resources)
        {
            var (error, message) = duplicates.Contains((resource.ResourceType, resource.ResourceName))
                ? (ErrorCode.InvalidRequest, "The resource appears more than once in the request.")
                : ConfigChanges.Apply(context, store, resource.ResourceType, resource.ResourceName,
                    [.. resource.Configs.Select(c => new ConfigChange(c.Name, ConfigChanges.Set, c.Value))], replace: true, request.ValidateOnly);
            response.Responses.Add(new AlterConfigsResponse.AlterConfigsResourceResponse
            {
                ResourceType = resource.ResourceType,
                ResourceName = resource.ResourceName,
                ErrorCode = error.Code(),
                ErrorMessage = message,
            });
        }
        return ValueTask.FromResult<AlterConfigsResponse?>(response);
    }

    protected override AlterConfigsResponse ErrorResponse(RequestContext context, AlterConfigsRequest request, ErrorCode error)
    {
        var response = new AlterConfigsResponse();
        foreach (var resource in request.Resources)
        {
            response.Responses.Add(new AlterConfigsResponse.AlterConfigsResourceResponse
            {
                ResourceType = resource.ResourceType,
                ResourceName = resource.ResourceName,
                ErrorCode = error.Code(),
                ErrorMessage = error.ToString(),
            });
        }
        return response;
    }
}

/// <summary>IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT (list configs only) on topics and brokers; validate-only supported.</summary>
internal sealed class IncrementalAlterConfigsHandler(ConfigStore store) : ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs)
{
    protected override ValueTask<IncrementalAlterConfigsResponse?> HandleAsync(RequestContext context, IncrementalAlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new IncrementalAlterConfigsResponse();
        var duplicates = ConfigChanges.Duplicates(request.Resources.Select(r => (r.ResourceType, r.ResourceName)));
        foreach (var resource in request.Resources)
        {
            var (error, message) = duplicates.Contains((resource.ResourceType, resource.ResourceName))
                ? (ErrorCode.InvalidRequest, "The resource appears more than once in the request.")
                : ConfigChanges.Apply(context, store, resource.ResourceType, resource.ResourceName,
                    [.. resource.Configs.Select(c => new ConfigChange(c.Name, c.ConfigOperation, c.Value))], replace: false, request.ValidateOnly);
            response.Responses.Add(new IncrementalAlterConfigsResponse.AlterConfigsResourceResponse
            {
                ResourceType = resource.ResourceType,
                ResourceName = resource.ResourceName,
                ErrorCode = error.Code(),
                ErrorMessage = message,
            });
        }
        return ValueTask.FromResult<IncrementalAlterConfigsResponse?>(response);
    }

    protected override IncrementalAlterConfigsResponse ErrorResponse(RequestContext context, IncrementalAlterConfigsRequest request, ErrorCode error)
    {
        var response = new IncrementalAlterConfigsResponse();
        foreach (var resource in request.Resources)
        {
            response.Responses.Add(new IncrementalAlterConfigsResponse.AlterConfigsResourceResponse
            {
                ResourceType = resource.ResourceType,
                ResourceName = resource.ResourceName,
                ErrorCode = error.Code(),
                ErrorMessage = error.ToString(),
            });
        }
        return response;
    }
}

/// <summary>One requested change: a config name, an IncrementalAlterConfigs operation and a value.</summary>
internal readonly record struct ConfigChange(string Name, sbyte Operation, string? Value);

/// <summary>Validation and application of config changes, shared by AlterConfigs and IncrementalAlterConfigs.</summary>
internal static class ConfigChanges
{
    public const sbyte Set = 0;
    public const sbyte Delete = 1;
    public const sbyte Append = 2;
    public const sbyte Subtract = 3;

    /// <summary>The broker id a broker resource names, or null when it names no broker of the cluster.</summary>
    public static int? ParseBroker(RequestContext context, string name) =>
        int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) && context.Cluster.BrokerIds.Contains(id) ? id : null;

    /// <summary>TOPIC_ or CLUSTER_AUTHORIZATION_FAILED when the principal may not perform <paramref name="operation"/> on the config resource; null when it may.</summary>
    public static ErrorCode? Authorize(RequestContext context, sbyte type, string name, AclOperation operation) => type switch
    {
        ConfigResourceType.Topic when !context.Authorized(operation, AclResourceType.Topic, name) => ErrorCode.TopicAuthorizationFailed,
        ConfigResourceType.Broker when !context.AuthorizedOnCluster(operation) => ErrorCode.ClusterAuthorizationFailed,
        _ => null,
    };

    public static HashSet<(sbyte, string)> Duplicates(IEnumerable<(sbyte Type, string Name)> resources) =>
        [.. resources.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => g.Key)];

    /// <summary>
    /// Validates <paramref name="changes"/> against the resource's known configs and, unless
    /// <paramref name="validateOnly"/>, applies them: on top of the current dynamic set, or (when
    /// <paramref name="replace"/>) instead of it.
    /// </summary>
    public static (ErrorCode Error, string? Message) Apply(RequestContext context, ConfigStore store, sbyte type, string name,
        IReadOnlyList<ConfigChange> changes, bool replace, bool validateOnly)
    {
        if (Authorize(context, type, name, AclOperation.AlterConfigs) is { } denied)
        {
            return (denied, "Authorization failed.");
        }
        TopicState? topic = null;
        int brokerId = -1;
        IReadOnlyDictionary<string, ConfigDefinition> known;
        switch (type)
        {
            case ConfigResourceType.Topic:
                topic = context.Cluster.GetTopic(name);
                if (topic is null)
                {
                    return (ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist.");
                }
                known = store.TopicConfigs;
                break;
            case ConfigResourceType.Broker:
                if (ParseBroker(context, name) is not { } id)
                {
                    return (ErrorCode.InvalidRequest, $"No broker with id '{name}'.");
                }
                brokerId = id;
                known = store.BrokerConfigs;
                break;
            default:
                return (ErrorCode.InvalidRequest, $"Unsupported resource type {type}.");
        }
        if (changes.GroupBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            return (ErrorCode.InvalidRequest, $"Config '{repeated.Key}' appears more than once for the resource.");
        }
        lock (store.Sync)
        {
            var current = topic is not null ? topic.Configs : store.BrokerDynamic(brokerId);
            var next = replace ? new Dictionary<string, string?>(StringComparer.Ordinal) : new Dictionary<string, string?>(current, StringComparer.Ordinal);
            foreach (var change in changes)
            {
                if (!known.TryGetValue(change.Name, out var definition))
                {
                    if (change.Operation == Delete && next.Remove(change.Name))
                    {
                        continue;
                    }
                    return (ErrorCode.InvalidConfig, $"Unknown {(topic is not null ? "topic" : "broker")} config name: {change.Name}");
                }
                if (definition.ReadOnly)
                {
                    return (ErrorCode.InvalidConfig, $"Cannot update these configs dynamically: {change.Name}");
                }
                switch (change.Operation)
                {
                    case Set:
                        if (definition.Validate(change.Value) is { } invalid)
                        {
                            return (ErrorCode.InvalidConfig, invalid);
                        }
                        if (replace && change.Value is null)
                        {
                            continue;
                        }
                        next[change.Name] = change.Value;
                        break;
                    case Delete:
                        next.Remove(change.Name);
                        break;
                    case Append or Subtract:
                        if (definition.Type != ConfigType.List)
                        {
                            return (ErrorCode.InvalidConfig, $"Config value {(change.Operation == Append ? "append" : "subtract")} is not allowed for config key: {change.Name}");
                        }
                        if (definition.Validate(change.Value) is { } invalidItem)
                        {
                            return (ErrorCode.InvalidConfig, invalidItem);
                        }
                        var items = ConfigDefinition.SplitList(next.TryGetValue(change.Name, out string? existing) ? existing : definition.Default);
                        var given = ConfigDefinition.SplitList(change.Value);
                        items = change.Operation == Append
                            ? [.. items, .. given.Where(v => !items.Contains(v, StringComparer.Ordinal))]
                            : [.. items.Where(v => !given.Contains(v, StringComparer.Ordinal))];
                        next[change.Name] = string.Join(',', items);
                        break;
                    default:
                        return (ErrorCode.InvalidRequest, $"Unknown config operation {change.Operation} for {change.Name}.");
                }
            }
            if (!validateOnly)
            {
                if (topic is not null)
                {
                    topic.Configs = next;
                }
                else
                {
                    store.SetBrokerDynamic(brokerId, next);
                }
            }
        }
        return (ErrorCode.None, null);
    }
}
