using System.Diagnostics;
using System.Text.RegularExpressions;
using KafkaClient.Cluster;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Consumer;

/// <summary>The states of this member's group membership, owned by the membership task.</summary>
internal enum MembershipState
{
    /// <summary>Not in a group (no subscription yet, or after leaving).</summary>
    Unjoined = 0,

    /// <summary>A JoinGroup is on its way.</summary>
    Joining = 1,

    /// <summary>Joined; waiting for the assignment (SyncGroup).</summary>
    Syncing = 2,

    /// <summary>Assigned and heartbeating.</summary>
    Stable = 3,

    /// <summary>
    /// Still a member of its generation while it gives partitions up (an eager rebalance before it rejoins, a cooperative
    /// one after SyncGroup). Heartbeats go on: a revocation waits for handlers and commits, and a slow one must not cost the
    /// membership (the coordinator keeps a member that heartbeats until the rebalance timeout, as Java's does).
    /// </summary>
    Revoking = 4,
}

public sealed partial class KafkaConsumer<TKey, TValue>
{
    private readonly AsyncSignal _groupWake;
    private readonly AsyncSignal _heartbeatWake;
    private readonly Task _groupLoop;
    private readonly Task _heartbeatLoop;
    private readonly CancellationTokenSource _groupStopping;
    private volatile int _coordinatorId = -1;
    private volatile string _memberId = "";
    private volatile int _generation = -1;
    private volatile MembershipState _membership = MembershipState.Unjoined;
    private volatile bool _rejoinNeeded;
    private volatile bool _lostNeeded;
    private volatile string _lostReason = "";
    private bool _subscriptionChanged;
    private string? _protocolName;
    private bool _isLeader;
    private IReadOnlyList<TopicPartition>? _lastAssignment;
    private Dictionary<string, int> _assignedPartitionCounts = [];
    private long _nextAutoCommit;
    private long _nextMetadataCheck;
    private TaskCompletionSource? _heartbeatRequested;

    /// <inheritdoc/>
    public string MemberId => _memberId;

    /// <inheritdoc/>
    public ConsumerGroupMetadata GroupMetadata => new(_options.GroupId ?? "", _generation, _memberId, _options.GroupInstanceId);

    /// <summary>The rebalance protocol every configured assignor supports (Java picks the same way): cooperative only when all do.</summary>
    private RebalanceProtocol Protocol =>
        _options.PartitionAssignors.All(a => a.SupportedProtocols.Contains(RebalanceProtocol.Cooperative)) ? RebalanceProtocol.Cooperative : RebalanceProtocol.Eager;

    private string GroupId => _options.GroupId!;

    /// <summary>
    /// The membership task: finds the coordinator, joins and syncs when a rebalance is needed, hands partitions
    /// over (commit, revoke, assign), commits on the auto-commit schedule and watches metadata for pattern and
    /// partition-count changes. Heartbeats run on their own task so that a slow rebalance handler cannot stop them.
    /// </summary>
    private async Task GroupLoopAsync()
    {
        var ct = _groupStopping.Token;
        _nextAutoCommit = After(_options.AutoCommitInterval);
        while (!ct.IsCancellationRequested)
        {
            TimeSpan wait = Timeout.InfiniteTimeSpan;
            try
            {
                var client = await ClientAsync(ct).ConfigureAwait(false);
                if (_options.GroupId is not null)
                {
                    wait = await GroupStepAsync(client, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (KafkaException ex) when (IsFatalGroupError(ex.ErrorCode))
            {
                Log.GroupFatal(_logger, GroupId, ex.Message);
                _fatal = ex;
                WakeConsumers();
                _membership = MembershipState.Unjoined;
                wait = Timeout.InfiniteTimeSpan;
            }
            catch (Exception ex)
            {
                if (ex is KafkaException k && IsCoordinatorError(k))
                {
                    MarkCoordinatorUnknown(ex.Message);
                }
                Log.ConsumerLoopError(_logger, "group", ex.Message, ex is KafkaException ? null : ex);
                wait = _options.RetryBackoff;
            }
            try
            {
                await _groupWake.WaitAsync(wait, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static bool IsFatalGroupError(ErrorCode code) => code is ErrorCode.FencedInstanceId or ErrorCode.GroupAuthorizationFailed
        or ErrorCode.InconsistentGroupProtocol or ErrorCode.GroupMaxSizeReached or ErrorCode.InvalidSessionTimeout or ErrorCode.InvalidGroupId;

    private static bool IsCoordinatorError(KafkaException ex) => ex is KafkaConnectionException or KafkaTimeoutException
        || ex.ErrorCode is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.CoordinatorLoadInProgress;

    private void MarkCoordinatorUnknown(string reason)
    {
        if (_coordinatorId >= 0)
        {
            Log.CoordinatorLost(_logger, GroupId, reason);
        }
        _coordinatorId = -1;
    }

    /// <summary>One pass of the membership task; returns how long to sleep before the next.</summary>
    private async Task<TimeSpan> GroupStepAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        AssignmentMode mode;
        bool subscriptionChanged;
        lock (_sync)
        {
            mode = _mode;
            subscriptionChanged = _subscriptionChanged;
            _subscriptionChanged = false;
        }
        if (mode == AssignmentMode.Subscribed)
        {
            if (_lostNeeded)
            {
                await LoseAllAsync(_lostReason, ct).ConfigureAwait(false);
            }
            if (subscriptionChanged || Now >= _nextMetadataCheck)
            {
                await CheckSubscriptionAsync(client, subscriptionChanged, ct).ConfigureAwait(false);
            }
            bool subscribed;
            lock (_sync)
            {
                subscribed = _topics.Count > 0 || _pattern is not null;
            }
            if (!subscribed)
            {
                if (_membership != MembershipState.Unjoined || _memberId.Length > 0)
                {
                    await RevokeAsync(Assignment, ct).ConfigureAwait(false);
                    await LeaveGroupAsync(client, "the consumer unsubscribed", ct).ConfigureAwait(false);
                }
                return Timeout.InfiniteTimeSpan;
            }
            if (_rejoinNeeded || _membership != MembershipState.Stable)
            {
                await EnsureCoordinatorAsync(client, ct).ConfigureAwait(false);
                await JoinAndSyncAsync(client, ct).ConfigureAwait(false);
            }
            else if (_coordinatorId < 0)
            {
                // The heartbeat task lost the coordinator (it moved, or its broker went away) and cannot
                // heartbeat until it is found again: without this the member would be expelled unawares.
                await EnsureCoordinatorAsync(client, ct).ConfigureAwait(false);
            }
        }
        if (_options.CommitStrategy != CommitStrategy.Manual && Now >= _nextAutoCommit)
        {
            _nextAutoCommit = After(_options.AutoCommitInterval);
            await AutoCommitAsync(ct).ConfigureAwait(false);
        }
        var next = Until(_nextAutoCommit);
        if (mode == AssignmentMode.Subscribed)
        {
            next = Min(next, Until(_nextMetadataCheck));
            if (_rejoinNeeded)
            {
                next = TimeSpan.Zero;
            }
        }
        return _options.CommitStrategy == CommitStrategy.Manual && mode != AssignmentMode.Subscribed ? Timeout.InfiniteTimeSpan : next;
    }

    private async Task AutoCommitAsync(CancellationToken ct)
    {
        var offsets = CommitCandidates(null);
        if (offsets.Count == 0)
        {
            return;
        }
        try
        {
            await CommitOffsetsAsync(offsets, ct).ConfigureAwait(false);
        }
        catch (KafkaException ex)
        {
            Log.CommitFailed(_logger, GroupId, offsets.Count, ex.Message);
        }
    }

    /// <summary>What a commit writes now for <paramref name="partitions"/> (null: every assigned partition), per the strategy; only offsets that moved.</summary>
    /// <param name="partitions">The partitions to consider; null for all.</param>
    /// <param name="explicitCommit">
    /// True for the application's <c>CommitAsync()</c>: under <see cref="CommitStrategy.Manual"/> that commits positions, as
    /// Java's <c>commitSync()</c> does; commits the consumer makes on its own (revocation, close) write only stored offsets then.
    /// </param>
    private List<TopicPartitionOffset> CommitCandidates(IReadOnlyCollection<TopicPartition>? partitions, bool explicitCommit = false)
    {
        bool positions = _options.CommitStrategy == CommitStrategy.AutoCommitDelivered
            || (explicitCommit && _options.CommitStrategy == CommitStrategy.Manual);
        var result = new List<TopicPartitionOffset>();
        lock (_sync)
        {
            foreach (var state in _partitions.Values)
            {
                if (partitions is not null && !partitions.Contains(state.TopicPartition))
                {
                    continue;
                }
                (long offset, int epoch) = positions
                    ? (state.Pending == PendingPosition.None ? state.CurrentPosition : -1, state.CurrentPositionEpoch)
                    : (state.CurrentStored, state.CurrentStoredEpoch);
                if (offset >= 0 && offset != state.CommittedOffset && (!positions || offset != state.PositionBaseline))
                {
                    result.Add(new TopicPartitionOffset(state.TopicPartition, offset, epoch));
                }
            }
        }
        return result;
    }

    private async Task<int> EnsureCoordinatorAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        int id = _coordinatorId;
        if (id >= 0 && client.Metadata.Broker(id) is not null)
        {
            return id;
        }
        id = await client.FindCoordinatorAsync(0, GroupId, _options.RequestTimeout, ct).ConfigureAwait(false);
        _coordinatorId = id;
        Log.CoordinatorFound(_logger, GroupId, id);
        _heartbeatWake.Set();
        return id;
    }

    /// <summary>Refreshes the subscription's topics: the pattern's matches, and partition counts (a leader rejoins when they change, as in Java).</summary>
    private async Task CheckSubscriptionAsync(KafkaProtocolClient client, bool changed, CancellationToken ct)
    {
        _nextMetadataCheck = After(_options.MetadataMaxAge);
        Regex? pattern;
        IReadOnlyList<string> topics;
        lock (_sync)
        {
            pattern = _pattern;
            topics = _topics;
        }
        ClusterMetadata metadata;
        try
        {
            metadata = await client.RefreshMetadataAsync(pattern is null ? topics : null, ct).ConfigureAwait(false);
        }
        catch (KafkaException ex)
        {
            Log.ConsumerLoopError(_logger, "metadata", ex.Message, null);
            _nextMetadataCheck = After(_options.RetryBackoff);
            return;
        }
        if (changed)
        {
            Log.Rebalancing(_logger, GroupId, "the subscription changed");
        }
        if (pattern is not null)
        {
            var matching = metadata.Topics.Values.Where(t => !t.IsInternal && t.Error == ErrorCode.None && pattern.IsMatch(t.Name)).Select(t => t.Name).Order(StringComparer.Ordinal).ToList();
            lock (_sync)
            {
                if (!matching.SequenceEqual(_topics))
                {
                    _topics = matching;
                    changed = true;
                }
            }
        }
        if (changed)
        {
            _rejoinNeeded = true;
            return;
        }
        if (_isLeader && _membership == MembershipState.Stable)
        {
            foreach (var (topic, count) in _assignedPartitionCounts)
            {
                if (metadata.Topics.TryGetValue(topic, out var t) && t.Error == ErrorCode.None && t.Partitions.Count != count)
                {
                    Log.Rebalancing(_logger, GroupId, $"partitions of {topic} changed from {count} to {t.Partitions.Count}");
                    _rejoinNeeded = true;
                    return;
                }
            }
        }
    }

    private async Task JoinAndSyncAsync(KafkaProtocolClient client, CancellationToken ct)
    {
        _membership = MembershipState.Joining;
        _rejoinNeeded = false;
        Log.Rebalancing(_logger, GroupId, _generation < 0 ? "joining" : "rejoining");
        await EmitAsync(RebalanceEventKind.Rebalancing, [], ct).ConfigureAwait(false);
        var protocol = Protocol;
        if (protocol == RebalanceProtocol.Eager)
        {
            var everything = Assignment;
            if (everything.Count > 0)
            {
                await RevokeWhileMemberAsync(everything, MembershipState.Joining, ct).ConfigureAwait(false);
                // Expelled while revoking (a heartbeat said so): nothing is owned any more, so nothing is lost; the
                // JoinGroup below is the rejoin.
                _lostNeeded = false;
            }
        }
        IReadOnlyList<string> topics;
        lock (_sync)
        {
            topics = _topics;
        }
        var ownedNow = Assignment;
        JoinGroupResponse join;
        while (true)
        {
            int coordinator = await EnsureCoordinatorAsync(client, ct).ConfigureAwait(false);
            var request = new JoinGroupRequest
            {
                GroupId = GroupId,
                SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
                RebalanceTimeoutMs = (int)_options.RebalanceTimeout.TotalMilliseconds,
                MemberId = _memberId,
                GroupInstanceId = _options.GroupInstanceId,
                ProtocolType = ConsumerProtocol.ProtocolType,
                Protocols = [.. _options.PartitionAssignors.Select(a => new JoinGroupRequest.JoinGroupRequestProtocol
                {
                    Name = a.Name,
                    Metadata = ConsumerProtocol.SerializeSubscription(new Subscription(topics)
                    {
                        UserData = a.GetSubscriptionUserData(new MemberState(topics, _lastAssignment, _generation)),
                        OwnedPartitions = protocol == RebalanceProtocol.Cooperative ? ownedNow : [],
                        GenerationId = _generation,
                        RackId = _options.ClientRack,
                    }),
                })],
            };
            join = await client.SendAsync(request, coordinator, ConnectionPurpose.Coordinator, short.MaxValue, _options.RebalanceTimeout, ct).ConfigureAwait(false);
            var error = (ErrorCode)join.ErrorCode;
            if (error == ErrorCode.None)
            {
                break;
            }
            switch (error)
            {
                case ErrorCode.MemberIdRequired:
                    _memberId = join.MemberId;
                    continue;
                case ErrorCode.UnknownMemberId:
                    _memberId = "";
                    continue;
                case ErrorCode.RebalanceInProgress:
                    await Task.Delay(_options.RetryBackoff, _time, ct).ConfigureAwait(false);
                    continue;
                case ErrorCode.IllegalGeneration:
                    _generation = -1;
                    continue;
                default:
                    _membership = MembershipState.Unjoined;
                    throw KafkaException.FromErrorCode(error, $"JoinGroup of group '{GroupId}' failed.");
            }
        }
        _generation = join.GenerationId;
        _memberId = join.MemberId;
        _protocolName = join.ProtocolName;
        _isLeader = join.Leader == join.MemberId;
        _membership = MembershipState.Syncing;
        _heartbeatWake.Set();

        var assignments = new List<SyncGroupRequest.SyncGroupRequestAssignment>();
        if (_isLeader && !join.SkipAssignment)
        {
            assignments = await ComputeAssignmentsAsync(client, join, ct).ConfigureAwait(false);
        }
        var sync = await client.SendAsync(new SyncGroupRequest
        {
            GroupId = GroupId,
            GenerationId = _generation,
            MemberId = _memberId,
            GroupInstanceId = _options.GroupInstanceId,
            ProtocolType = ConsumerProtocol.ProtocolType,
            ProtocolName = _protocolName,
            Assignments = assignments,
        }, await EnsureCoordinatorAsync(client, ct).ConfigureAwait(false), ConnectionPurpose.Coordinator, short.MaxValue, _options.RebalanceTimeout, ct).ConfigureAwait(false);
        var syncError = (ErrorCode)sync.ErrorCode;
        if (syncError != ErrorCode.None)
        {
            _membership = MembershipState.Unjoined;
            _rejoinNeeded = true;
            switch (syncError)
            {
                case ErrorCode.RebalanceInProgress:
                    return;
                case ErrorCode.UnknownMemberId:
                    _memberId = "";
                    _generation = -1;
                    return;
                case ErrorCode.IllegalGeneration:
                    _generation = -1;
                    return;
                default:
                    throw KafkaException.FromErrorCode(syncError, $"SyncGroup of group '{GroupId}' failed.");
            }
        }
        var assignment = sync.Assignment.Length == 0 ? new Assignment([]) : ConsumerProtocol.DeserializeAssignment(sync.Assignment);
        var assignor = _options.PartitionAssignors.FirstOrDefault(a => a.Name == _protocolName);
        assignor?.OnAssignment(assignment, _generation);
        var assigned = assignment.Partitions.ToHashSet();
        var owned = Assignment.ToHashSet();
        var revoked = owned.Where(p => !assigned.Contains(p)).ToList();
        var added = assigned.Where(p => !owned.Contains(p)).ToList();
        if (revoked.Count > 0)
        {
            // Cooperative: give up only what moves, then rejoin so the new owner can get it (KIP-429).
            await RevokeWhileMemberAsync(revoked, MembershipState.Syncing, ct).ConfigureAwait(false);
            _rejoinNeeded = true;
        }
        _lastAssignment = [.. assignment.Partitions];
        _membership = MembershipState.Stable;
        ConsumerMetrics.Rebalances.Add(1, ConsumerMetrics.GroupTag(GroupId));
        Log.GroupJoined(_logger, GroupId, _generation, _memberId, _isLeader, _protocolName ?? "", string.Join(", ", assignment.Partitions));
        await EmitAsync(RebalanceEventKind.GroupJoined, _lastAssignment, ct).ConfigureAwait(false);
        if (added.Count > 0)
        {
            lock (_sync)
            {
                foreach (var tp in added)
                {
                    if (!_partitions.ContainsKey(tp))
                    {
                        _partitions.Add(tp, new PartitionState(tp));
                    }
                }
            }
            _fetchWake.Set();
            await EmitAsync(RebalanceEventKind.PartitionsAssigned, added, ct).ConfigureAwait(false);
        }
        _heartbeatWake.Set();
    }

    /// <summary>The leader's part: every member's subscription through the chosen assignor.</summary>
    private async Task<List<SyncGroupRequest.SyncGroupRequestAssignment>> ComputeAssignmentsAsync(KafkaProtocolClient client, JoinGroupResponse join, CancellationToken ct)
    {
        var assignor = _options.PartitionAssignors.FirstOrDefault(a => a.Name == join.ProtocolName)
            ?? throw new KafkaException(ErrorCode.InconsistentGroupProtocol, $"The coordinator chose assignor '{join.ProtocolName}', which this member does not have.");
        var subscriptions = new Dictionary<string, Subscription>(StringComparer.Ordinal);
        short version = ConsumerProtocol.HighestVersion;
        foreach (var member in join.Members)
        {
            var subscription = ConsumerProtocol.DeserializeSubscription(member.Metadata, out short written);
            version = Math.Min(version, written);
            subscriptions[member.MemberId] = new Subscription(subscription.Topics)
            {
                UserData = subscription.UserData,
                OwnedPartitions = subscription.OwnedPartitions,
                GenerationId = subscription.GenerationId,
                RackId = subscription.RackId,
                GroupInstanceId = member.GroupInstanceId,
            };
        }
        var topics = subscriptions.Values.SelectMany(s => s.Topics).Distinct(StringComparer.Ordinal).ToList();
        var metadata = await client.RefreshMetadataAsync(topics, ct).ConfigureAwait(false);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in topics)
        {
            if (metadata.Topics.TryGetValue(topic, out var t) && t.Error == ErrorCode.None && t.Partitions.Count > 0)
            {
                counts[topic] = t.Partitions.Count;
            }
        }
        _assignedPartitionCounts = counts;
        var result = assignor.Assign(counts, subscriptions);
        return [.. subscriptions.Keys.Select(memberId => new SyncGroupRequest.SyncGroupRequestAssignment
        {
            MemberId = memberId,
            Assignment = ConsumerProtocol.SerializeAssignment(result.TryGetValue(memberId, out var a) ? a : new Assignment([]), version),
        })];
    }

    /// <summary>
    /// <see cref="RevokeAsync"/> in the <see cref="MembershipState.Revoking"/> state, so heartbeats go on while handlers
    /// finish and offsets are committed; then back to <paramref name="after"/>.
    /// </summary>
    private async Task RevokeWhileMemberAsync(IReadOnlyList<TopicPartition> partitions, MembershipState after, CancellationToken ct)
    {
        _membership = MembershipState.Revoking;
        try
        {
            await RevokeAsync(partitions, ct).ConfigureAwait(false);
        }
        finally
        {
            _membership = after;
        }
    }

    /// <summary>Orderly hand-over: waits for the runner to finish the partitions' records, commits per the strategy, tells the application, then drops them.</summary>
    private async Task RevokeAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken ct)
    {
        if (partitions.Count == 0)
        {
            return;
        }
        Log.PartitionsRevoked(_logger, GroupId, string.Join(", ", partitions));
        await WaitForProcessingAsync(partitions, ct).ConfigureAwait(false);
        lock (_sync)
        {
            // Stop handing out their records (buffered ones become stale; Revoking stops fetching): a record handed out
            // after the commit below would be read again by the partition's next owner.
            foreach (var tp in partitions)
            {
                if (_partitions.TryGetValue(tp, out var state))
                {
                    state.Invalidate();
                }
            }
        }
        var offsets = CommitCandidates(partitions.ToHashSet());
        if (offsets.Count > 0 && _generation >= 0)
        {
            try
            {
                await CommitOffsetsAsync(offsets, ct).ConfigureAwait(false);
            }
            catch (KafkaException ex)
            {
                Log.CommitFailed(_logger, GroupId, offsets.Count, ex.Message);
            }
        }
        await EmitAsync(RebalanceEventKind.PartitionsRevoked, partitions, ct).ConfigureAwait(false);
        lock (_sync)
        {
            foreach (var tp in partitions)
            {
                RemovePartitionLocked(tp);
            }
        }
        _fetchWake.Set();
    }

    /// <summary>The member lost its partitions (fenced, expired): drop them without committing, and rejoin.</summary>
    private async Task LoseAllAsync(string reason, CancellationToken ct)
    {
        _lostNeeded = false;
        var lost = Assignment;
        _generation = -1;
        _membership = MembershipState.Unjoined;
        _rejoinNeeded = true;
        if (lost.Count == 0)
        {
            return;
        }
        Log.PartitionsLost(_logger, GroupId, reason, string.Join(", ", lost));
        lock (_sync)
        {
            foreach (var tp in lost)
            {
                RemovePartitionLocked(tp);
            }
        }
        _fetchWake.Set();
        await EmitAsync(RebalanceEventKind.PartitionsLost, lost, ct).ConfigureAwait(false);
    }

    private async Task EmitAsync(RebalanceEventKind kind, IReadOnlyList<TopicPartition> partitions, CancellationToken ct)
    {
        if (_options.OnRebalance is not { } handler)
        {
            return;
        }
        try
        {
            await handler(new RebalanceEvent(kind, partitions, _generation, _memberId, _isLeader), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Log.RebalanceHandlerFailed(_logger, GroupId, kind.ToString(), ex);
        }
    }

    /// <summary>
    /// Heartbeats every <see cref="ConsumerOptions.HeartbeatInterval"/> while the member has a generation, on their
    /// own task, so neither processing nor a slow rebalance handler delays them.
    /// </summary>
    private async Task HeartbeatLoopAsync()
    {
        var ct = _stopping.Token;
        long lastSuccess = Now;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _heartbeatWake.WaitAsync(_options.HeartbeatInterval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            int coordinator = _coordinatorId;
            int generation = _generation;
            var requested = Interlocked.Exchange(ref _heartbeatRequested, null);
            // Only a stable or revoking member heartbeats (as in Java): during the join and sync the coordinator knows the
            // member is alive, and some coordinators (librdkafka's mock) answer a heartbeat between JoinGroup and SyncGroup
            // with REBALANCE_IN_PROGRESS, which would start another rebalance for nothing.
            var membership = _membership;
            if (_options.GroupId is null || generation < 0 || membership is not (MembershipState.Stable or MembershipState.Revoking))
            {
                requested?.TrySetResult();
                lastSuccess = Now;
                continue;
            }
            if (coordinator < 0)
            {
                // The membership task is looking for the coordinator. Not finding it within the session
                // timeout means the coordinator has expired this member, as when heartbeats fail.
                requested?.TrySetResult();
                _groupWake.Set();
                if (_time.GetElapsedTime(lastSuccess) > _options.SessionTimeout && _generation == generation)
                {
                    _lostReason = "no coordinator was found within the session timeout";
                    _lostNeeded = true;
                    _generation = -1;
                }
                continue;
            }
            try
            {
                var client = await ClientAsync(ct).ConfigureAwait(false);
                var response = await client.SendAsync(new HeartbeatRequest
                {
                    GroupId = GroupId,
                    GenerationId = generation,
                    MemberId = _memberId,
                    GroupInstanceId = _options.GroupInstanceId,
                }, coordinator, ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
                var error = (ErrorCode)response.ErrorCode;
                switch (error)
                {
                    case ErrorCode.None:
                        lastSuccess = Now;
                        break;
                    case ErrorCode.RebalanceInProgress:
                        // Keep heartbeating (the coordinator still counts them) until the membership task rejoins.
                        lastSuccess = Now;
                        if (!_rejoinNeeded && _generation == generation && _membership == MembershipState.Stable)
                        {
                            Log.Rebalancing(_logger, GroupId, "the coordinator answered a heartbeat with REBALANCE_IN_PROGRESS");
                            _rejoinNeeded = true;
                            _groupWake.Set();
                        }
                        break;
                    case ErrorCode.UnknownMemberId:
                    case ErrorCode.IllegalGeneration:
                    case ErrorCode.FencedInstanceId:
                        // Not once the member has moved on to JoinGroup/SyncGroup (a heartbeat sent while revoking can be
                        // answered then): those requests report the same errors themselves, and this one would wipe the
                        // member id the join just obtained.
                        if (_generation == generation && _membership is MembershipState.Stable or MembershipState.Revoking)
                        {
                            if (error == ErrorCode.UnknownMemberId)
                            {
                                _memberId = "";
                            }
                            _lostReason = "heartbeat answered " + ErrorCodes.ProtocolName(error);
                            _lostNeeded = true;
                            _generation = -1;
                            _groupWake.Set();
                        }
                        break;
                    case ErrorCode.NotCoordinator:
                    case ErrorCode.CoordinatorNotAvailable:
                        MarkCoordinatorUnknown("heartbeat answered " + ErrorCodes.ProtocolName(error));
                        _groupWake.Set();
                        break;
                    default:
                        Log.ConsumerLoopError(_logger, "heartbeat", ErrorCodes.ProtocolName(error), null);
                        break;
                }
                requested?.TrySetResult();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                requested?.TrySetCanceled(ct);
                return;
            }
            catch (Exception ex)
            {
                requested?.TrySetException(ex);
                MarkCoordinatorUnknown("heartbeat failed: " + ex.Message);
                _groupWake.Set();
                if (_time.GetElapsedTime(lastSuccess) > _options.SessionTimeout && _generation == generation && generation >= 0)
                {
                    // The coordinator has surely expired this member by now.
                    _lostReason = "no heartbeat reached the coordinator within the session timeout";
                    _lostNeeded = true;
                    _generation = -1;
                }
            }
        }
    }

    /// <summary>Sends a heartbeat now and waits for its answer (the runner's batch handler uses it).</summary>
    internal Task HeartbeatNowAsync(CancellationToken ct)
    {
        var request = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var existing = Interlocked.CompareExchange(ref _heartbeatRequested, request, null);
        _heartbeatWake.Set();
        return (existing ?? request).Task.WaitAsync(ct);
    }

    // ---------------------------------------------------------------- commits

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TopicPartitionOffset>> CommitAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var offsets = CommitCandidates(null, explicitCommit: true);
        if (offsets.Count > 0)
        {
            await CommitOffsetsAsync(offsets, cancellationToken).ConfigureAwait(false);
        }
        return offsets;
    }

    /// <inheritdoc/>
    public Task CommitAsync(IEnumerable<TopicPartitionOffset> offsets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ThrowIfClosed();
        return CommitOffsetsAsync(offsets.ToList(), cancellationToken);
    }

    /// <summary>
    /// OffsetCommit to the coordinator with this member's generation, retrying while the coordinator moves or
    /// loads, bounded by <see cref="KafkaClientOptions.RequestTimeout"/>. A generation that is no longer current
    /// fails with <see cref="ErrorCode.IllegalGeneration"/> or <see cref="ErrorCode.RebalanceInProgress"/>: the
    /// partitions may already belong to another member.
    /// </summary>
    private async Task CommitOffsetsAsync(IReadOnlyList<TopicPartitionOffset> offsets, CancellationToken ct)
    {
        if (_options.GroupId is null)
        {
            throw new InvalidOperationException("Committing offsets needs ConsumerOptions.GroupId.");
        }
        if (offsets.Count == 0)
        {
            return;
        }
        var client = await ClientAsync(ct).ConfigureAwait(false);
        long started = Stopwatch.GetTimestamp();
        bool subscribed;
        lock (_sync)
        {
            subscribed = _mode == AssignmentMode.Subscribed;
        }
        try
        {
            await client.RetryAsync(async token =>
            {
                int coordinator = await EnsureCoordinatorAsync(client, token).ConfigureAwait(false);
                var request = new OffsetCommitRequest
                {
                    GroupId = GroupId,
                    GenerationIdOrMemberEpoch = subscribed ? _generation : -1,
                    MemberId = subscribed ? _memberId : "",
                    GroupInstanceId = subscribed ? _options.GroupInstanceId : null,
                    Topics = [.. offsets.GroupBy(o => o.TopicPartition.Topic).Select(t => new OffsetCommitRequest.OffsetCommitRequestTopic
                    {
                        Name = t.Key,
                        Partitions = [.. t.Select(o => new OffsetCommitRequest.OffsetCommitRequestPartition
                        {
                            PartitionIndex = o.TopicPartition.Partition,
                            CommittedOffset = o.Offset,
                            CommittedLeaderEpoch = o.LeaderEpoch,
                            CommittedMetadata = "",
                        })],
                    })],
                };
                OffsetCommitResponse response;
                try
                {
                    response = await client.SendAsync(request, coordinator, ConnectionPurpose.Coordinator, token).ConfigureAwait(false);
                }
                catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
                {
                    MarkCoordinatorUnknown(ex.Message);
                    throw;
                }
                foreach (var topic in response.Topics)
                {
                    foreach (var p in topic.Partitions)
                    {
                        var error = (ErrorCode)p.ErrorCode;
                        if (error == ErrorCode.None)
                        {
                            continue;
                        }
                        if (error is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable)
                        {
                            MarkCoordinatorUnknown("commit answered " + ErrorCodes.ProtocolName(error));
                        }
                        if (error is ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration or ErrorCode.UnknownMemberId or ErrorCode.FencedInstanceId)
                        {
                            _rejoinNeeded = true;
                            _groupWake.Set();
                            throw new KafkaException(error, $"Commit of {topic.Name}[{p.PartitionIndex}] failed: the group rebalanced and this member's generation {_generation} is no longer current, so its partitions may belong to another member now.");
                        }
                        throw KafkaException.FromErrorCode(error, $"Commit of {topic.Name}[{p.PartitionIndex}] failed.");
                    }
                }
                return true;
            }, _options.RequestTimeout, ct).ConfigureAwait(false);
        }
        catch (KafkaException)
        {
            ConsumerMetrics.CommitFailures.Add(1, ConsumerMetrics.GroupTag(GroupId));
            throw;
        }
        ConsumerMetrics.CommitLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, ConsumerMetrics.GroupTag(GroupId));
        lock (_sync)
        {
            foreach (var o in offsets)
            {
                if (_partitions.TryGetValue(o.TopicPartition, out var state))
                {
                    state.CommittedOffset = o.Offset;
                    if (o.Offset == state.CurrentPosition)
                    {
                        state.PositionBaseline = o.Offset;
                    }
                }
            }
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TopicPartitionOffset>> CommittedAsync(IEnumerable<TopicPartition> partitions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var list = partitions.ToList();
        var found = await FetchCommittedAsync(list, cancellationToken).ConfigureAwait(false);
        return [.. list.Select(tp => found.TryGetValue(tp, out var o) ? o : new TopicPartitionOffset(tp, -1))];
    }

    /// <summary>OffsetFetch (require_stable, so offsets of open transactions wait) for <paramref name="partitions"/>; -1 means none committed.</summary>
    private async Task<Dictionary<TopicPartition, TopicPartitionOffset>> FetchCommittedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken ct)
    {
        if (_options.GroupId is null)
        {
            throw new InvalidOperationException("Committed offsets belong to a group; set ConsumerOptions.GroupId.");
        }
        var client = await ClientAsync(ct).ConfigureAwait(false);
        return await client.RetryAsync(async token =>
        {
            int coordinator = await EnsureCoordinatorAsync(client, token).ConfigureAwait(false);
            var versions = await client.GetApiVersionsAsync(coordinator, token).ConfigureAwait(false);
            versions.TrySelect(new OffsetFetchRequest(), out short version);
            var byTopic = partitions.GroupBy(p => p.Topic).ToList();
            // require_stable (v7+): offsets of transactions still open are reported as UNSTABLE_OFFSET_COMMIT (retried).
            var request = new OffsetFetchRequest { RequireStable = version >= 7 };
            if (version >= 8)
            {
                request.Groups = [new OffsetFetchRequest.OffsetFetchRequestGroup
                {
                    GroupId = GroupId,
                    Topics = [.. byTopic.Select(t => new OffsetFetchRequest.OffsetFetchRequestTopics { Name = t.Key, PartitionIndexes = [.. t.Select(p => p.Partition)] })],
                }];
            }
            else
            {
                request.GroupId = GroupId;
                request.Topics = [.. byTopic.Select(t => new OffsetFetchRequest.OffsetFetchRequestTopic { Name = t.Key, PartitionIndexes = [.. t.Select(p => p.Partition)] })];
            }
            OffsetFetchResponse response;
            try
            {
                response = await client.SendAsync(request, coordinator, ConnectionPurpose.Coordinator, token).ConfigureAwait(false);
            }
            catch (KafkaException ex) when (ex is KafkaConnectionException or KafkaTimeoutException)
            {
                MarkCoordinatorUnknown(ex.Message);
                throw;
            }
            var result = new Dictionary<TopicPartition, TopicPartitionOffset>();
            void Check(ErrorCode error, string what)
            {
                if (error is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable)
                {
                    MarkCoordinatorUnknown("offset fetch answered " + ErrorCodes.ProtocolName(error));
                }
                if (error != ErrorCode.None)
                {
                    throw KafkaException.FromErrorCode(error, $"OffsetFetch of {what} in group '{GroupId}' failed.");
                }
            }
            if (version >= 8)
            {
                foreach (var group in response.Groups)
                {
                    Check((ErrorCode)group.ErrorCode, "the group");
                    foreach (var topic in group.Topics)
                    {
                        foreach (var p in topic.Partitions)
                        {
                            Check((ErrorCode)p.ErrorCode, $"{topic.Name}[{p.PartitionIndex}]");
                            result[new TopicPartition(topic.Name, p.PartitionIndex)] = new TopicPartitionOffset(new TopicPartition(topic.Name, p.PartitionIndex), p.CommittedOffset, p.CommittedLeaderEpoch);
                        }
                    }
                }
            }
            else
            {
                Check((ErrorCode)response.ErrorCode, "the group");
                foreach (var topic in response.Topics)
                {
                    foreach (var p in topic.Partitions)
                    {
                        Check((ErrorCode)p.ErrorCode, $"{topic.Name}[{p.PartitionIndex}]");
                        result[new TopicPartition(topic.Name, p.PartitionIndex)] = new TopicPartitionOffset(new TopicPartition(topic.Name, p.PartitionIndex), p.CommittedOffset, p.CommittedLeaderEpoch);
                    }
                }
            }
            return result;
        }, _options.RequestTimeout, ct).ConfigureAwait(false);
    }

    private async Task LeaveGroupAsync(KafkaProtocolClient client, string reason, CancellationToken ct)
    {
        string memberId = _memberId;
        int coordinator = _coordinatorId;
        _membership = MembershipState.Unjoined;
        _generation = -1;
        if (memberId.Length == 0 || _options.GroupInstanceId is not null)
        {
            // A static member stays in the group until its session expires (KIP-345), as in Java.
            return;
        }
        _memberId = "";
        if (coordinator < 0)
        {
            return;
        }
        try
        {
            var versions = await client.GetApiVersionsAsync(coordinator, ct).ConfigureAwait(false);
            var request = new LeaveGroupRequest { GroupId = GroupId };
            if (versions.TrySelect(request, out short version) && version >= 3)
            {
                request.Members = [new LeaveGroupRequest.MemberIdentity { MemberId = memberId, Reason = version >= 5 ? reason : null }];
            }
            else
            {
                request.MemberId = memberId;
            }
            var response = await client.SendAsync(request, coordinator, ConnectionPurpose.Coordinator, ct).ConfigureAwait(false);
            var error = (ErrorCode)response.ErrorCode;
            if (error == ErrorCode.None && response.Members.Count > 0)
            {
                error = (ErrorCode)response.Members[0].ErrorCode;
            }
            if (error != ErrorCode.None && error != ErrorCode.UnknownMemberId)
            {
                throw KafkaException.FromErrorCode(error, $"LeaveGroup of group '{GroupId}' failed.");
            }
            Log.LeftGroup(_logger, GroupId, memberId);
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
        {
            Log.ConsumerLoopError(_logger, "leave", ex.Message, null);
        }
    }

    // ---------------------------------------------------------------- close

    /// <inheritdoc/>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.CloseTimeout);
        var ct = bounded.Token;
        _runnerStopping?.Cancel();
        try
        {
            // Stop the membership task (a join in progress is abandoned: the member leaves anyway), then hand
            // the partitions over from here while the heartbeat task keeps the membership alive.
            _groupStopping.Cancel();
            try
            {
                await _groupLoop.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            if (_clientTask.IsCompletedSuccessfully && _options.GroupId is not null)
            {
                var client = _clientTask.Result;
                AssignmentMode mode;
                lock (_sync)
                {
                    mode = _mode;
                }
                if (mode == AssignmentMode.Subscribed && _generation >= 0)
                {
                    await RevokeAsync(Assignment, ct).ConfigureAwait(false);
                    await LeaveGroupAsync(client, "the consumer is closing", ct).ConfigureAwait(false);
                }
                else
                {
                    var offsets = CommitCandidates(null);
                    if (offsets.Count > 0)
                    {
                        await CommitOffsetsAsync(offsets, ct).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException or InvalidOperationException)
        {
            Log.CloseIncomplete(_logger, ex.Message);
        }
        finally
        {
            _stopping.Cancel();
            _ready.Writer.TryComplete();
            try
            {
                await Task.WhenAll(_fetchLoop, _groupLoop, _heartbeatLoop).WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                Log.CloseIncomplete(_logger, "background loops did not stop in time");
            }
            if (_clientTask.IsCompletedSuccessfully)
            {
                await _clientTask.Result.DisposeAsync().ConfigureAwait(false);
            }
            lock (_sync)
            {
                _current?.Release(ReturnBuffer);
                _current = null;
                while (_ready.Reader.TryRead(out var chunk))
                {
                    chunk.Release(ReturnBuffer);
                }
            }
            ReleaseFinished();
            _reader.Dispose();
        }
    }

    /// <summary>Closes the consumer (see <see cref="CloseAsync"/>), bounded by <see cref="ConsumerOptions.CloseTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
