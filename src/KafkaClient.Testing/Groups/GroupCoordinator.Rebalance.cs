using KafkaClient.Errors;

namespace KafkaClient.Testing.Groups;

/// <summary>The rebalance state machine and its timers. Every method here runs under the group's lock.</summary>
internal sealed partial class GroupCoordinator
{
    private void MaybePrepareRebalance(ClassicGroup group)
    {
        switch (group.State)
        {
            case ClassicGroupState.Empty:
            case ClassicGroupState.Stable:
            case ClassicGroupState.CompletingRebalance:
                PrepareRebalance(group);
                break;
            case ClassicGroupState.PreparingRebalance:
                TryCompleteJoin(group);
                break;
        }
    }

    private void PrepareRebalance(ClassicGroup group)
    {
        if (group.State == ClassicGroupState.CompletingRebalance)
        {
            // Members waiting for the leader's assignment must rejoin instead.
            ResetAndPropagateAssignmentError(group, ErrorCode.RebalanceInProgress);
        }
        bool wasEmpty = group.State == ClassicGroupState.Empty;
        group.State = ClassicGroupState.PreparingRebalance;
        int initialDelayMs = (int)_options.InitialRebalanceDelay.TotalMilliseconds;
        if (wasEmpty && initialDelayMs > 0)
        {
            // A new group waits group.initial.rebalance.delay.ms for more members, extended by
            // that much again (within the rebalance timeout) while members keep arriving.
            group.InInitialDelay = true;
            group.NewMemberAdded = false;
            group.InitialDelayRemainingMs = Math.Max(group.RebalanceTimeoutMs - initialDelayMs, 0);
            ScheduleJoinTimer(group, initialDelayMs);
        }
        else
        {
            group.InInitialDelay = false;
            ScheduleJoinTimer(group, group.RebalanceTimeoutMs);
            TryCompleteJoin(group);
        }
    }

    private void TryCompleteJoin(ClassicGroup group)
    {
        if (group.State == ClassicGroupState.PreparingRebalance && !group.InInitialDelay && group.AllMembersJoined)
        {
            CompleteRebalanceJoin(group);
        }
    }

    /// <summary>
    /// Ends the join phase: members that did not rejoin are removed, the generation increments,
    /// a protocol is chosen and every member's JoinGroup completes (the leader's with all
    /// members' metadata). With no member left the group becomes Empty.
    /// </summary>
    private void CompleteRebalanceJoin(ClassicGroup group)
    {
        CancelJoinTimer(group);
        group.InInitialDelay = false;
        group.NewMemberAdded = false;

        foreach (var member in group.Members.Values.Where(m => m.AwaitingJoin is null).ToList())
        {
            CancelSession(member);
            CompleteSync(member, SyncError(ErrorCode.UnknownMemberId));
            group.Remove(member);
        }

        group.GenerationId++;
        if (group.Members.Count == 0)
        {
            group.State = ClassicGroupState.Empty;
            group.ProtocolName = null;
            group.LeaderId = null;
            group.SubscribedTopics = null;
            return;
        }

        group.ProtocolName = group.SelectProtocol();
        group.SubscribedTopics = group.ComputeSubscribedTopics();
        group.State = ClassicGroupState.CompletingRebalance;
        foreach (var member in group.OrderedMembers)
        {
            var pending = member.AwaitingJoin!;
            member.AwaitingJoin = null;
            member.IsNew = false;
            pending.Completion.TrySetResult(JoinSuccess(group, member, pending.Version,
                includeMembers: group.IsLeader(member.MemberId), skipAssignment: false));
            ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
        }
    }

    private void SetAndPropagateAssignment(ClassicGroup group, Dictionary<string, byte[]> assignments)
    {
        foreach (var member in group.Members.Values)
        {
            // Members the leader left out get an empty assignment.
            member.Assignment = assignments.GetValueOrDefault(member.MemberId) ?? [];
            if (member.AwaitingSync is not null)
            {
                CompleteSync(member, SyncSuccess(group, member));
                // Expiries ignored while it waited are caught up by a fresh session.
                ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
            }
        }
    }

    private void ResetAndPropagateAssignmentError(ClassicGroup group, ErrorCode error)
    {
        foreach (var member in group.Members.Values)
        {
            member.Assignment = [];
            if (member.AwaitingSync is not null)
            {
                CompleteSync(member, SyncError(error));
                ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
            }
        }
    }

    /// <summary>Removes a member (left, or session expired) and rebalances the rest.</summary>
    private void RemoveMemberAndUpdateGroup(ClassicGroup group, GroupMember member)
    {
        CompleteJoin(member, JoinError(member.AwaitingJoin?.Version ?? 0, "", ErrorCode.UnknownMemberId));
        CompleteSync(member, SyncError(ErrorCode.UnknownMemberId));
        CancelSession(member);
        group.Remove(member);
        switch (group.State)
        {
            case ClassicGroupState.Stable:
            case ClassicGroupState.CompletingRebalance:
                PrepareRebalance(group);
                break;
            case ClassicGroupState.PreparingRebalance:
                TryCompleteJoin(group);
                break;
        }
    }

    private void ScheduleJoinTimer(ClassicGroup group, int delayMs)
    {
        CancelJoinTimer(group);
        int epoch = ++group.JoinEpoch;
        group.JoinTimer = Schedule(TimeSpan.FromMilliseconds(delayMs), () => OnJoinTimer(group, epoch));
    }

    private static void CancelJoinTimer(ClassicGroup group)
    {
        group.JoinEpoch++;
        group.JoinTimer?.Dispose();
        group.JoinTimer = null;
    }

    private void OnJoinTimer(ClassicGroup group, int epoch)
    {
        lock (group.Lock)
        {
            if (_disposed || epoch != group.JoinEpoch || group.State != ClassicGroupState.PreparingRebalance)
            {
                return;
            }
            if (group.InInitialDelay && group.NewMemberAdded && group.InitialDelayRemainingMs > 0)
            {
                int delay = Math.Min((int)_options.InitialRebalanceDelay.TotalMilliseconds, group.InitialDelayRemainingMs);
                group.InitialDelayRemainingMs = Math.Max(group.InitialDelayRemainingMs - delay, 0);
                group.NewMemberAdded = false;
                ScheduleJoinTimer(group, delay);
                return;
            }
            // Initial delay over, or rebalance timeout: complete with whoever rejoined.
            CompleteRebalanceJoin(group);
        }
    }

    private void ScheduleSession(ClassicGroup group, GroupMember member, TimeSpan timeout)
    {
        member.SessionTimer?.Dispose();
        int epoch = ++member.SessionEpoch;
        member.SessionTimer = Schedule(timeout, () => OnSessionExpired(group, member, epoch));
    }

    private static void CancelSession(GroupMember member)
    {
        member.SessionEpoch++;
        member.SessionTimer?.Dispose();
        member.SessionTimer = null;
    }

    private void OnSessionExpired(ClassicGroup group, GroupMember member, int epoch)
    {
        lock (group.Lock)
        {
            if (_disposed || group.State == ClassicGroupState.Dead || epoch != member.SessionEpoch
                || !group.Members.TryGetValue(member.MemberId, out var current) || !ReferenceEquals(current, member))
            {
                return;
            }
            // A member waiting in JoinGroup or SyncGroup cannot heartbeat: the rebalance timeout
            // covers it, and its session restarts when the wait ends. New members are the
            // exception: they expire on the new-member timeout.
            if (!member.IsNew && (member.AwaitingJoin is not null || member.AwaitingSync is not null))
            {
                return;
            }
            RemoveMemberAndUpdateGroup(group, member);
        }
    }

    private void OnPendingMemberExpired(ClassicGroup group, string memberId)
    {
        lock (group.Lock)
        {
            if (_disposed || group.State == ClassicGroupState.Dead || !group.PendingMembers.Remove(memberId, out var timer))
            {
                return;
            }
            timer.Dispose();
            TryCompleteJoin(group);
            DiscardIfUnused(group);
        }
    }
}
