using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

/// <summary>One member of a classic group. Mutated only under the owning group's lock.</summary>
internal sealed class GroupMember
{
    public GroupMember(string memberId, string? groupInstanceId, long joinOrder)
    {
        MemberId = memberId;
        GroupInstanceId = groupInstanceId;
        JoinOrder = joinOrder;
    }

    /// <summary>The member id; replaced when a static member rejoins with a new one.</summary>
    public string MemberId { get; set; }

    /// <summary>The static instance id (KIP-345), or null for a dynamic member.</summary>
    public string? GroupInstanceId { get; }

    /// <summary>Order in which members were added; the first one present becomes leader.</summary>
    public long JoinOrder { get; }

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public int SessionTimeoutMs { get; set; }

    public int RebalanceTimeoutMs { get; set; }

    public string ProtocolType { get; set; } = "";

    /// <summary>Supported protocols in the member's order of preference, metadata copied.</summary>
    public List<(string Name, byte[] Metadata)> Protocols { get; set; } = new();

    /// <summary>The assignment of the current generation (empty until the leader syncs).</summary>
    public byte[] Assignment { get; set; } = [];

    /// <summary>True until the member completes its first join (new members expire on the new-member timeout).</summary>
    public bool IsNew { get; set; }

    /// <summary>The member's JoinGroup long-poll, while it waits for the rebalance to complete.</summary>
    public PendingJoin? AwaitingJoin { get; set; }

    /// <summary>The member's SyncGroup long-poll, while it waits for the leader's assignment.</summary>
    public PendingSync? AwaitingSync { get; set; }

    /// <summary>The session (heartbeat) expiry timer.</summary>
    public ITimer? SessionTimer { get; set; }

    /// <summary>Bumped at each reschedule so that a stale timer callback does nothing.</summary>
    public int SessionEpoch { get; set; }

    public byte[]? MetadataFor(string protocol)
    {
        foreach (var (name, metadata) in Protocols)
        {
            if (name == protocol)
            {
                return metadata;
            }
        }
        return null;
    }

    public bool Supports(string protocol) => MetadataFor(protocol) is not null;

    public bool SameProtocols(List<(string Name, byte[] Metadata)> protocols)
    {
        if (protocols.Count != Protocols.Count)
        {
            return false;
        }
        for (int i = 0; i < protocols.Count; i++)
        {
            if (protocols[i].Name != Protocols[i].Name || !protocols[i].Metadata.AsSpan().SequenceEqual(Protocols[i].Metadata))
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>A JoinGroup long-poll: the response is built at the request's version.</summary>
internal sealed record PendingJoin(TaskCompletionSource<JoinGroupResponse> Completion, short Version);

/// <summary>A SyncGroup long-poll: the response is built at the request's version.</summary>
internal sealed record PendingSync(TaskCompletionSource<SyncGroupResponse> Completion, short Version);
