using KafkaClient.Errors;

namespace KafkaClient.Testing.Security;

/// <summary>Kafka's <c>ResourceType</c> codes, as on the wire.</summary>
internal enum AclResourceType : sbyte
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

/// <summary>Kafka's <c>PatternType</c> codes. MATCH and ANY exist only in filters.</summary>
internal enum AclPatternType : sbyte
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

/// <summary>Kafka's <c>AclOperation</c> codes.</summary>
internal enum AclOperation : sbyte
{
    Unknown = 0,
    Any = 1,
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
    CreateTokens = 13,
    DescribeTokens = 14,
}

/// <summary>Kafka's <c>AclPermissionType</c> codes.</summary>
internal enum AclPermission : sbyte
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}

/// <summary>One ACL: a resource pattern and an access control entry (Kafka's <c>AclBinding</c>).</summary>
internal sealed record AclBinding(
    AclResourceType ResourceType, string ResourceName, AclPatternType PatternType,
    string Principal, string Host, AclOperation Operation, AclPermission Permission)
{
    /// <summary>The name of the one cluster resource.</summary>
    public const string ClusterName = "kafka-cluster";

    /// <summary>The literal resource name that matches every resource of its type.</summary>
    public const string Wildcard = "*";

    /// <summary>Kafka's checks on a new ACL (<c>AclControlManager.validateNewAcl</c>); null when valid.</summary>
    public string? Validate()
    {
        if (ResourceType is AclResourceType.Any or AclResourceType.Unknown || !Enum.IsDefined(ResourceType))
        {
            return $"Invalid resourceType {ResourceType}";
        }
        if (PatternType is not (AclPatternType.Literal or AclPatternType.Prefixed))
        {
            return $"Invalid patternType {PatternType}";
        }
        if (Operation is AclOperation.Any or AclOperation.Unknown || !Enum.IsDefined(Operation))
        {
            return $"Invalid operation {Operation}";
        }
        if (Permission is not (AclPermission.Allow or AclPermission.Deny))
        {
            return $"Invalid permissionType {Permission}";
        }
        if (string.IsNullOrEmpty(ResourceName))
        {
            return "Resource name should not be empty";
        }
        if (ResourceType == AclResourceType.Cluster && (ResourceName != ClusterName || PatternType != AclPatternType.Literal))
        {
            return "The only valid name for the CLUSTER resource is kafka-cluster";
        }
        int colon = Principal.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == Principal.Length - 1)
        {
            return $"Could not parse principal from `{Principal}` (no colon is present separating the principal type from the principal name)";
        }
        if (Host.Length == 0)
        {
            return "Invalid empty host.";
        }
        return null;
    }
}

/// <summary>
/// A filter over ACLs (Kafka's <c>AclBindingFilter</c>): ANY and null match everything; a
/// pattern type MATCH with a name matches the ACLs that would apply to a resource of that name
/// (literal equal or <c>*</c>, or a prefix of it); any other pattern type matches that type and
/// name exactly.
/// </summary>
internal sealed record AclBindingFilter(
    AclResourceType ResourceType, string? ResourceName, AclPatternType PatternType,
    string? Principal, string? Host, AclOperation Operation, AclPermission Permission)
{
    /// <summary>INVALID_REQUEST reasons of Kafka's <c>findIndefiniteField</c>-style checks; null when usable.</summary>
    public string? Validate()
    {
        if (ResourceType == AclResourceType.Unknown || !Enum.IsDefined(ResourceType))
        {
            return "Unknown resource type";
        }
        if (PatternType == AclPatternType.Unknown || !Enum.IsDefined(PatternType))
        {
            return "Unknown pattern type";
        }
        if (Operation == AclOperation.Unknown || !Enum.IsDefined(Operation))
        {
            return "Unknown operation";
        }
        if (Permission == AclPermission.Unknown || !Enum.IsDefined(Permission))
        {
            return "Unknown permission type";
        }
        return null;
    }

    public bool Matches(AclBinding acl) =>
        MatchesPattern(acl)
        && (Principal is null || Principal == acl.Principal)
        && (Host is null || Host == acl.Host)
        && (Operation == AclOperation.Any || Operation == acl.Operation)
        && (Permission == AclPermission.Any || Permission == acl.Permission);

    /// <summary>Kafka's <c>ResourcePatternFilter.matches</c>.</summary>
    private bool MatchesPattern(AclBinding acl)
    {
        if (ResourceType != AclResourceType.Any && ResourceType != acl.ResourceType)
        {
            return false;
        }
        if (PatternType is not (AclPatternType.Any or AclPatternType.Match) && PatternType != acl.PatternType)
        {
            return false;
        }
        if (ResourceName is null)
        {
            return true;
        }
        if (PatternType == AclPatternType.Any || PatternType == acl.PatternType)
        {
            return ResourceName == acl.ResourceName;
        }
        return acl.PatternType switch
        {
            AclPatternType.Literal => ResourceName == acl.ResourceName || acl.ResourceName == AclBinding.Wildcard,
            AclPatternType.Prefixed => ResourceName.StartsWith(acl.ResourceName, StringComparison.Ordinal),
            _ => false,
        };
    }
}

/// <summary>
/// The cluster's ACLs and the decision Kafka's <c>StandardAuthorizer</c> (and the older
/// <c>AclAuthorizer</c>) makes from them: super users may do anything; otherwise the ACLs that
/// apply to the resource (literal name, literal <c>*</c>, or a prefix of the name) decide, for
/// the principal (or <c>User:*</c>) and host (or <c>*</c>): any DENY for the operation (or ALL)
/// wins; then an ALLOW for the operation or ALL, where DESCRIBE is also granted by READ, WRITE,
/// DELETE and ALTER, and DESCRIBE_CONFIGS by ALTER_CONFIGS. A resource no ACL applies to is
/// denied unless <see cref="EmbeddedKafkaClusterOptions.AllowEveryoneIfNoAclFound"/>.
/// Thread-safe: one lock, the set replaced copy-on-write so checks take no lock.
/// </summary>
internal sealed class AclAuthorizer
{
    private readonly object _lock = new();
    private readonly HashSet<string> _superUsers;
    private readonly bool _allowIfNoAcl;
    private volatile AclBinding[] _acls = [];

    public AclAuthorizer(bool enabled, IEnumerable<string> superUsers, bool allowEveryoneIfNoAclFound)
    {
        IsEnabled = enabled;
        _superUsers = new HashSet<string>(superUsers, StringComparer.Ordinal);
        _allowIfNoAcl = allowEveryoneIfNoAclFound;
    }

    /// <summary>Whether requests are checked at all (Kafka: an <c>authorizer.class.name</c> is configured). Without it the ACL APIs answer SECURITY_DISABLED.</summary>
    public bool IsEnabled { get; }

    public IReadOnlyList<AclBinding> All => _acls;

    /// <summary>Adds ACLs (an existing one is left as it is); returns the error per ACL, in order.</summary>
    public IReadOnlyList<(ErrorCode Error, string? Message)> Create(IReadOnlyList<AclBinding> acls)
    {
        var results = new (ErrorCode, string?)[acls.Count];
        lock (_lock)
        {
            var set = new List<AclBinding>(_acls);
            for (int i = 0; i < acls.Count; i++)
            {
                if (acls[i].Validate() is { } invalid)
                {
                    results[i] = (ErrorCode.InvalidRequest, invalid);
                    continue;
                }
                if (!set.Contains(acls[i]))
                {
                    set.Add(acls[i]);
                }
                results[i] = (ErrorCode.None, null);
            }
            _acls = [.. set];
        }
        return results;
    }

    public IReadOnlyList<AclBinding> Describe(AclBindingFilter filter) => [.. _acls.Where(filter.Matches)];

    /// <summary>Removes every ACL any filter matches; returns what each filter matched (an ACL may appear under several).</summary>
    public IReadOnlyList<IReadOnlyList<AclBinding>> Delete(IReadOnlyList<AclBindingFilter> filters)
    {
        lock (_lock)
        {
            var snapshot = _acls;
            var matched = filters.Select(f => (IReadOnlyList<AclBinding>)[.. snapshot.Where(f.Matches)]).ToList();
            var removed = matched.SelectMany(m => m).ToHashSet();
            _acls = [.. snapshot.Where(a => !removed.Contains(a))];
            return matched;
        }
    }

    /// <summary>Whether <paramref name="principal"/> connected from <paramref name="host"/> may perform <paramref name="operation"/> on the resource.</summary>
    public bool Authorize(string principal, string host, AclOperation operation, AclResourceType resourceType, string resourceName)
    {
        if (!IsEnabled || _superUsers.Contains(principal))
        {
            return true;
        }
        bool any = false;
        bool allowed = false;
        foreach (var acl in _acls)
        {
            if (acl.ResourceType != resourceType || !Applies(acl, resourceName))
            {
                continue;
            }
            any = true;
            if (!Concerns(acl, principal, host))
            {
                continue;
            }
            if (acl.Permission == AclPermission.Deny && (acl.Operation == AclOperation.All || acl.Operation == operation))
            {
                return false;
            }
            if (acl.Permission == AclPermission.Allow && Grants(acl.Operation, operation))
            {
                allowed = true;
            }
        }
        return allowed || (!any && _allowIfNoAcl);
    }

    /// <summary>
    /// Whether the principal may perform <paramref name="operation"/> on some resource of the type
    /// (Kafka's <c>authorizeByResourceType</c>, used for idempotent producers: WRITE on any topic):
    /// an ALLOW for it exists that a DENY on every name (literal <c>*</c> or empty prefix) does not cancel.
    /// </summary>
    public bool AuthorizeAny(string principal, string host, AclOperation operation, AclResourceType resourceType)
    {
        if (!IsEnabled || _superUsers.Contains(principal))
        {
            return true;
        }
        bool allowed = false;
        bool anyOfType = false;
        foreach (var acl in _acls)
        {
            if (acl.ResourceType != resourceType)
            {
                continue;
            }
            anyOfType = true;
            if (!Concerns(acl, principal, host))
            {
                continue;
            }
            bool matchesOperation = acl.Operation == AclOperation.All || acl.Operation == operation;
            bool everyName = (acl.PatternType == AclPatternType.Literal && acl.ResourceName == AclBinding.Wildcard)
                || (acl.PatternType == AclPatternType.Prefixed && acl.ResourceName.Length == 0);
            if (acl.Permission == AclPermission.Deny && matchesOperation && everyName)
            {
                return false;
            }
            if (acl.Permission == AclPermission.Allow && matchesOperation)
            {
                allowed = true;
            }
        }
        return allowed || (!anyOfType && _allowIfNoAcl);
    }

    private static bool Applies(AclBinding acl, string name) => acl.PatternType switch
    {
        AclPatternType.Literal => acl.ResourceName == name || acl.ResourceName == AclBinding.Wildcard,
        AclPatternType.Prefixed => name.StartsWith(acl.ResourceName, StringComparison.Ordinal),
        _ => false,
    };

    private static bool Concerns(AclBinding acl, string principal, string host) =>
        (acl.Principal == principal || acl.Principal == "User:*") && (acl.Host == host || acl.Host == AclBinding.Wildcard);

    /// <summary>Whether an ALLOW for <paramref name="granted"/> permits <paramref name="wanted"/> (Kafka's implied operations).</summary>
    private static bool Grants(AclOperation granted, AclOperation wanted) =>
        granted == AclOperation.All
        || granted == wanted
        || (wanted == AclOperation.Describe && granted is AclOperation.Read or AclOperation.Write or AclOperation.Delete or AclOperation.Alter)
        || (wanted == AclOperation.DescribeConfigs && granted == AclOperation.AlterConfigs);
}
