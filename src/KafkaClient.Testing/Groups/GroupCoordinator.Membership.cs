using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

internal sealed partial class GroupCoordinator
{
    /// <summary>The fields of one JoinGroup that the state machine needs, metadata copied out of the request frame.</summary>
    private sealed record JoinContext(
        short Version,
        string MemberId,
        string? GroupInstanceId,
        string ClientId,
        string ClientHost,
        int SessionTimeoutMs,
        int RebalanceTimeoutMs,
        string ProtocolType,
        List<(string Name, byte[] Metadata)> Protocols,
        CancellationToken CancellationToken);

    /// <summary>
    /// JoinGroup (versions 2-9). Completes at once with an error, with MEMBER_ID_REQUIRED (v4+,
    /// dynamic member without id), or with the current generation when nothing changes; otherwise
    /// when the rebalance completes. Cancelling <paramref name="cancellationToken"/> abandons the
    /// wait (the member stays in the rebalance, as a disconnected Kafka client's would).
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version; the response is shaped for it.</param>
    /// <param name="clientId">The request header's client id (member metadata, default member id prefix).</param>
    /// <param name="clientHost">The client's address as the broker sees it (member metadata).</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <returns>The response to encode at <paramref name="version"/>.</returns>
    public Task<JoinGroupResponse> JoinGroupAsync(JoinGroupRequest request, short version, string clientId, string clientHost, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<JoinGroupResponse>(cancellationToken);
        }
        if (request.GroupId.Length == 0)
        {
            return Task.FromResult(JoinError(version, request.MemberId, ErrorCode.InvalidGroupId));
        }
        if (_disposed)
        {
            return Task.FromResult(JoinError(version, request.MemberId, ShutdownError));
        }
        if (request.SessionTimeoutMs < _options.MinSessionTimeoutMs || request.SessionTimeoutMs > _options.MaxSessionTimeoutMs)
        {
            return Task.FromResult(JoinError(version, request.MemberId, ErrorCode.InvalidSessionTimeout));
        }

        var join = new JoinContext(
            version,
            request.MemberId,
            version >= 5 ? request.GroupInstanceId : null,
            clientId,
            clientHost,
            request.SessionTimeoutMs,
            request.RebalanceTimeoutMs >= 0 ? request.RebalanceTimeoutMs : request.SessionTimeoutMs,
            request.ProtocolType,
            request.Protocols.Select(p => (p.Name, p.Metadata.ToArray())).ToList(),
            cancellationToken);
        bool unknownMember = join.MemberId.Length == 0;

        return WithGroup(request.GroupId, create: unknownMember, group =>
        {
            if (group is null)
            {
                return Task.FromResult(JoinError(version, join.MemberId, ErrorCode.UnknownMemberId));
            }
            if (_disposed)
            {
                return Task.FromResult(JoinError(version, join.MemberId, ShutdownError));
            }
            var result = !AcceptsJoiningMember(group, join.MemberId)
                ? Task.FromResult(JoinError(version, join.MemberId, ErrorCode.GroupMaxSizeReached))
                : unknownMember ? JoinNewMember(group, join) : JoinKnownMember(group, join);
            DiscardIfUnused(group);
            return result;
        });
    }

    private bool AcceptsJoiningMember(ClassicGroup group, string memberId)
    {
        bool known = group.Members.TryGetValue(memberId, out var member);
        return group.State switch
        {
            ClassicGroupState.Empty or ClassicGroupState.Dead => true,
            ClassicGroupState.PreparingRebalance =>
                (known && member!.AwaitingJoin is not null)
                || group.Members.Values.Count(m => m.AwaitingJoin is not null) < _options.MaxGroupSize,
            _ => known || group.Members.Count < _options.MaxGroupSize,
        };
    }

    private Task<JoinGroupResponse> JoinNewMember(ClassicGroup group, JoinContext join)
    {
        if (!group.SupportsProtocols("", join.ProtocolType, join.Protocols))
        {
            return Task.FromResult(JoinError(join.Version, join.MemberId, ErrorCode.InconsistentGroupProtocol));
        }
        string newMemberId = (join.GroupInstanceId ?? join.ClientId) + "-" + Guid.NewGuid().ToString("D");
        if (join.GroupInstanceId is not null)
        {
            return group.StaticMembers.TryGetValue(join.GroupInstanceId, out var oldMemberId)
                ? ReplaceStaticMember(group, oldMemberId, newMemberId, join)
                : AddMemberAndRebalance(group, newMemberId, join);
        }
        if (join.Version >= 4)
        {
            // KIP-394: hand out the id; the member counts as pending (a rebalance waits for it)
            // until it rejoins with it or its session timeout passes.
            group.PendingMembers[newMemberId] = Schedule(
                TimeSpan.FromMilliseconds(join.SessionTimeoutMs),
                () => OnPendingMemberExpired(group, newMemberId));
            return Task.FromResult(JoinError(join.Version, newMemberId, ErrorCode.MemberIdRequired));
        }
        return AddMemberAndRebalance(group, newMemberId, join);
    }

    private Task<JoinGroupResponse> JoinKnownMember(ClassicGroup group, JoinContext join)
    {
        string memberId = join.MemberId;
        if (!group.SupportsProtocols(memberId, join.ProtocolType, join.Protocols))
        {
            return Task.FromResult(JoinError(join.Version, memberId, ErrorCode.InconsistentGroupProtocol));
        }
        if (group.PendingMembers.Remove(memberId, out var pendingTimer))
        {
            pendingTimer.Dispose();
            return AddMemberAndRebalance(group, memberId, join);
        }
        if (group.IsStaticMemberFenced(memberId, join.GroupInstanceId))
        {
            return Task.FromResult(JoinError(join.Version, memberId, ErrorCode.FencedInstanceId));
        }
        if (!group.Members.TryGetValue(memberId, out var member)
            || (join.GroupInstanceId is not null && !group.StaticMembers.ContainsKey(join.GroupInstanceId)))
        {
            return Task.FromResult(JoinError(join.Version, memberId, ErrorCode.UnknownMemberId));
        }
        switch (group.State)
        {
            case ClassicGroupState.PreparingRebalance:
                return UpdateMemberAndRebalance(group, member, join);
            case ClassicGroupState.CompletingRebalance:
                // A retry of a join whose response was lost: answer with the current generation.
                return member.SameProtocols(join.Protocols)
                    ? Task.FromResult(JoinSuccess(group, member, join.Version, includeMembers: group.IsLeader(memberId), skipAssignment: false))
                    : UpdateMemberAndRebalance(group, member, join);
            case ClassicGroupState.Stable:
                // The leader rejoining (or changed metadata) means the assignment must be redone;
                // a follower with unchanged metadata just gets the current generation back.
                return group.IsLeader(memberId) || !member.SameProtocols(join.Protocols)
                    ? UpdateMemberAndRebalance(group, member, join)
                    : Task.FromResult(JoinSuccess(group, member, join.Version, includeMembers: false, skipAssignment: false));
            default:
                return Task.FromResult(JoinError(join.Version, memberId, ErrorCode.UnknownMemberId));
        }
    }

    private Task<JoinGroupResponse> AddMemberAndRebalance(ClassicGroup group, string memberId, JoinContext join)
    {
        var member = new GroupMember(memberId, join.GroupInstanceId, group.NextJoinOrder()) { IsNew = true };
        ApplyJoin(member, join);
        var pending = new PendingJoin(NewCompletion<JoinGroupResponse>(join.CancellationToken), join.Version);
        member.AwaitingJoin = pending;
        if (group.State == ClassicGroupState.PreparingRebalance && group.GenerationId == 0)
        {
            group.NewMemberAdded = true;
        }
        group.Add(member);
        // A new member has no session yet (it cannot heartbeat before its join completes); it
        // expires only if the rebalance keeps it waiting longer than the new-member timeout.
        ScheduleSession(group, member, _options.NewMemberJoinTimeout);
        MaybePrepareRebalance(group);
        return pending.Completion.Task;
    }

    private Task<JoinGroupResponse> UpdateMemberAndRebalance(ClassicGroup group, GroupMember member, JoinContext join)
    {
        ApplyJoin(member, join);
        var pending = new PendingJoin(NewCompletion<JoinGroupResponse>(join.CancellationToken), join.Version);
        // A duplicate join replaces the earlier one, which is told to rejoin.
        CompleteJoin(member, JoinError(member.AwaitingJoin?.Version ?? join.Version, member.MemberId, ErrorCode.RebalanceInProgress));
        member.AwaitingJoin = pending;
        MaybePrepareRebalance(group);
        return pending.Completion.Task;
    }

    /// <summary>KIP-345: a known group instance id joins with no member id; the new id replaces the old one.</summary>
    private Task<JoinGroupResponse> ReplaceStaticMember(ClassicGroup group, string oldMemberId, string newMemberId, JoinContext join)
    {
        var member = group.Members[oldMemberId];
        CompleteJoin(member, JoinError(member.AwaitingJoin?.Version ?? join.Version, oldMemberId, ErrorCode.FencedInstanceId));
        CompleteSync(member, SyncError(ErrorCode.FencedInstanceId));

        group.Members.Remove(oldMemberId);
        member.MemberId = newMemberId;
        group.Members.Add(newMemberId, member);
        group.StaticMembers[member.GroupInstanceId!] = newMemberId;
        if (group.LeaderId == oldMemberId)
        {
            group.LeaderId = newMemberId;
        }
        ApplyJoin(member, join);
        ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));

        switch (group.State)
        {
            case ClassicGroupState.Stable when group.SelectProtocol() == group.ProtocolName:
                // No rebalance: the member gets the current generation and, through SyncGroup,
                // its current assignment. A leader at v9+ gets the members too, with
                // SkipAssignment (KIP-814); older leaders get none so they do not reassign.
                bool leader = group.IsLeader(newMemberId);
                return Task.FromResult(JoinSuccess(group, member, join.Version,
                    includeMembers: leader && join.Version >= 9, skipAssignment: leader));
            case ClassicGroupState.Stable:
            case ClassicGroupState.CompletingRebalance:
            case ClassicGroupState.PreparingRebalance:
                var pending = new PendingJoin(NewCompletion<JoinGroupResponse>(join.CancellationToken), join.Version);
                member.AwaitingJoin = pending;
                // CompletingRebalance: the leader may be assigning to the old member id, so rebalance.
                MaybePrepareRebalance(group);
                return pending.Completion.Task;
            default:
                return Task.FromResult(JoinError(join.Version, newMemberId, ErrorCode.UnknownMemberId));
        }
    }

    private static void ApplyJoin(GroupMember member, JoinContext join)
    {
        member.ClientId = join.ClientId;
        member.ClientHost = join.ClientHost;
        member.SessionTimeoutMs = join.SessionTimeoutMs;
        member.RebalanceTimeoutMs = join.RebalanceTimeoutMs;
        member.ProtocolType = join.ProtocolType;
        member.Protocols = join.Protocols;
    }

    /// <summary>
    /// SyncGroup (versions 0-5). The leader's call stores the assignment and completes every
    /// member's pending SyncGroup; a follower's waits for it. In Stable, returns the member's
    /// current assignment at once.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <returns>The response to encode at <paramref name="version"/>.</returns>
    public Task<SyncGroupResponse> SyncGroupAsync(SyncGroupRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<SyncGroupResponse>(cancellationToken);
        }
        if (request.GroupId.Length == 0)
        {
            return Task.FromResult(SyncError(ErrorCode.InvalidGroupId));
        }
        string? instanceId = version >= 3 ? request.GroupInstanceId : null;
        return WithGroup(request.GroupId, create: false, group =>
        {
            if (_disposed)
            {
                return Task.FromResult(SyncError(ShutdownError));
            }
            if (group is null)
            {
                return Task.FromResult(SyncError(ErrorCode.UnknownMemberId));
            }
            if (group.IsStaticMemberFenced(request.MemberId, instanceId))
            {
                return Task.FromResult(SyncError(ErrorCode.FencedInstanceId));
            }
            if (!group.Members.TryGetValue(request.MemberId, out var member))
            {
                return Task.FromResult(SyncError(ErrorCode.UnknownMemberId));
            }
            if (request.GenerationId != group.GenerationId)
            {
                return Task.FromResult(SyncError(ErrorCode.IllegalGeneration));
            }
            if ((request.ProtocolType is not null && request.ProtocolType != group.ProtocolType)
                || (request.ProtocolName is not null && request.ProtocolName != group.ProtocolName))
            {
                return Task.FromResult(SyncError(ErrorCode.InconsistentGroupProtocol));
            }
            switch (group.State)
            {
                case ClassicGroupState.PreparingRebalance:
                    return Task.FromResult(SyncError(ErrorCode.RebalanceInProgress));
                case ClassicGroupState.CompletingRebalance:
                    var pending = new PendingSync(NewCompletion<SyncGroupResponse>(cancellationToken), version);
                    CompleteSync(member, SyncError(ErrorCode.RebalanceInProgress));
                    member.AwaitingSync = pending;
                    if (group.IsLeader(member.MemberId))
                    {
                        var assignments = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                        foreach (var assignment in request.Assignments)
                        {
                            assignments[assignment.MemberId] = assignment.Assignment.ToArray();
                        }
                        SetAndPropagateAssignment(group, assignments);
                        group.State = ClassicGroupState.Stable;
                    }
                    return pending.Completion.Task;
                case ClassicGroupState.Stable:
                    ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
                    return Task.FromResult(SyncSuccess(group, member));
                default:
                    return Task.FromResult(SyncError(ErrorCode.UnknownMemberId));
            }
        });
    }

    /// <summary>
    /// Heartbeat (versions 0-4): keeps the member's session alive; REBALANCE_IN_PROGRESS tells
    /// it to rejoin.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<HeartbeatResponse> HeartbeatAsync(HeartbeatRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<HeartbeatResponse>(cancellationToken);
        }
        return Task.FromResult(new HeartbeatResponse { ErrorCode = (short)Heartbeat(request, version) });
    }

    private ErrorCode Heartbeat(HeartbeatRequest request, short version)
    {
        if (request.GroupId.Length == 0)
        {
            return ErrorCode.InvalidGroupId;
        }
        string? instanceId = version >= 3 ? request.GroupInstanceId : null;
        return WithGroup(request.GroupId, create: false, group =>
        {
            if (_disposed)
            {
                return ShutdownError;
            }
            if (group is null)
            {
                return ErrorCode.UnknownMemberId;
            }
            if (group.IsStaticMemberFenced(request.MemberId, instanceId))
            {
                return ErrorCode.FencedInstanceId;
            }
            if (!group.Members.TryGetValue(request.MemberId, out var member))
            {
                return ErrorCode.UnknownMemberId;
            }
            if (request.GenerationId != group.GenerationId)
            {
                return ErrorCode.IllegalGeneration;
            }
            switch (group.State)
            {
                case ClassicGroupState.PreparingRebalance:
                    ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
                    return ErrorCode.RebalanceInProgress;
                case ClassicGroupState.CompletingRebalance:
                case ClassicGroupState.Stable:
                    // A member may heartbeat between its JoinGroup and SyncGroup responses.
                    ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
                    return ErrorCode.None;
                default:
                    return ErrorCode.UnknownMemberId;
            }
        });
    }

    /// <summary>
    /// LeaveGroup (versions 0-5; a batch of members, possibly by group instance id, from v3).
    /// Each departure triggers a rebalance.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<LeaveGroupResponse> LeaveGroupAsync(LeaveGroupRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<LeaveGroupResponse>(cancellationToken);
        }
        var leaving = version >= 3
            ? request.Members.Select(m => (m.MemberId, m.GroupInstanceId)).ToList()
            : [(request.MemberId, (string?)null)];

        ErrorCode topLevel = ErrorCode.None;
        var results = new List<(string MemberId, string? GroupInstanceId, ErrorCode Error)>();
        if (request.GroupId.Length == 0)
        {
            topLevel = ErrorCode.InvalidGroupId;
        }
        else
        {
            topLevel = WithGroup(request.GroupId, create: false, group =>
            {
                if (_disposed)
                {
                    return ShutdownError;
                }
                foreach (var (memberId, instanceId) in leaving)
                {
                    results.Add((memberId, instanceId, group is null ? ErrorCode.UnknownMemberId : Leave(group, memberId, instanceId)));
                }
                return ErrorCode.None;
            });
        }

        var response = new LeaveGroupResponse();
        if (version >= 3)
        {
            response.ErrorCode = (short)topLevel;
            response.Members = results.Select(r => new LeaveGroupResponse.MemberResponse
            {
                MemberId = r.MemberId,
                GroupInstanceId = r.GroupInstanceId,
                ErrorCode = (short)r.Error,
            }).ToList();
        }
        else
        {
            response.ErrorCode = (short)(topLevel != ErrorCode.None ? topLevel : results[0].Error);
        }
        return Task.FromResult(response);
    }

    private ErrorCode Leave(ClassicGroup group, string memberId, string? instanceId)
    {
        if (memberId.Length > 0 && group.IsStaticMemberFenced(memberId, instanceId))
        {
            return ErrorCode.FencedInstanceId;
        }
        if (group.PendingMembers.Remove(memberId, out var pendingTimer))
        {
            pendingTimer.Dispose();
            TryCompleteJoin(group);
            return ErrorCode.None;
        }
        GroupMember? member = null;
        if (instanceId is not null && group.StaticMembers.TryGetValue(instanceId, out var staticMemberId))
        {
            member = group.Members[staticMemberId];
        }
        else if (!group.Members.TryGetValue(memberId, out member))
        {
            return ErrorCode.UnknownMemberId;
        }
        RemoveMemberAndUpdateGroup(group, member);
        return ErrorCode.None;
    }

    private static JoinGroupResponse JoinError(short version, string memberId, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        GenerationId = -1,
        MemberId = memberId,
        Leader = "",
        ProtocolType = null,
        ProtocolName = version >= 7 ? null : "",
    };

    private static JoinGroupResponse JoinSuccess(ClassicGroup group, GroupMember member, short version, bool includeMembers, bool skipAssignment)
    {
        string protocol = group.ProtocolName ?? "";
        return new JoinGroupResponse
        {
            GenerationId = group.GenerationId,
            ProtocolType = group.ProtocolType,
            ProtocolName = protocol,
            Leader = group.LeaderId ?? "",
            SkipAssignment = skipAssignment && version >= 9,
            MemberId = member.MemberId,
            Members = includeMembers
                ? group.OrderedMembers.Select(m => new JoinGroupResponse.JoinGroupResponseMember
                {
                    MemberId = m.MemberId,
                    GroupInstanceId = m.GroupInstanceId,
                    Metadata = m.MetadataFor(protocol) ?? [],
                }).ToList()
                : [],
        };
    }

    private static SyncGroupResponse SyncError(ErrorCode error) => new() { ErrorCode = (short)error };

    private static SyncGroupResponse SyncSuccess(ClassicGroup group, GroupMember member) => new()
    {
        ProtocolType = group.ProtocolType,
        ProtocolName = group.ProtocolName,
        Assignment = member.Assignment,
    };

    private static void CompleteJoin(GroupMember member, JoinGroupResponse response)
    {
        var pending = member.AwaitingJoin;
        member.AwaitingJoin = null;
        pending?.Completion.TrySetResult(response);
    }

    private static void CompleteSync(GroupMember member, SyncGroupResponse response)
    {
        var pending = member.AwaitingSync;
        member.AwaitingSync = null;
        pending?.Completion.TrySetResult(response);
    }
}
