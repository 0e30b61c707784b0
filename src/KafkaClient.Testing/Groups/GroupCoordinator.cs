using System.Collections.Concurrent;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

/// <summary>
/// The classic group coordinator of the embedded test cluster, as pure logic: no sockets, no
/// log. The broker decodes a request, calls the matching method with the request's API version,
/// and encodes the returned response at that version. JoinGroup and SyncGroup are long-polls:
/// their tasks complete when the rebalance (or the leader's assignment) completes.
/// </summary>
/// <remarks>
/// Semantics follow Apache Kafka's classic group protocol: states Empty, PreparingRebalance,
/// CompletingRebalance, Stable and Dead; MEMBER_ID_REQUIRED (JoinGroup v4+); static membership
/// (KIP-345); session and rebalance timeouts driven by <see cref="TimeProvider"/> timers; offsets
/// kept in memory. Each group has its own lock, held for a whole request or timer callback;
/// long-poll tasks complete with <see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>
/// so no caller continuation ever runs under a group lock.
/// </remarks>
internal sealed partial class GroupCoordinator : IDisposable
{
    /// <summary>The group type reported by ListGroups v5+.</summary>
    public const string ClassicGroupType = "classic";

    private static readonly TimeSpan MinimumTimerDue = TimeSpan.FromMilliseconds(1);

    private readonly ConcurrentDictionary<string, ClassicGroup> _groups = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly GroupCoordinatorOptions _options;
    private volatile bool _disposed;

    /// <summary>Creates a coordinator.</summary>
    /// <param name="timeProvider">Clock and timers (session, rebalance and initial delay); the system clock when null.</param>
    /// <param name="options">Broker settings; Kafka's defaults when null.</param>
    public GroupCoordinator(TimeProvider? timeProvider = null, GroupCoordinatorOptions? options = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _options = options ?? new GroupCoordinatorOptions();
    }

    /// <summary>The settings in use.</summary>
    public GroupCoordinatorOptions Options => _options;

    private ErrorCode ShutdownError => _options.ShutdownError;

    /// <summary>
    /// Completes every pending JoinGroup and SyncGroup with <see cref="GroupCoordinatorOptions.ShutdownError"/>
    /// (COORDINATOR_NOT_AVAILABLE by default) and cancels all timers. Later requests get the same error.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var group in _groups.Values)
        {
            lock (group.Lock)
            {
                CancelJoinTimer(group);
                foreach (var timer in group.PendingMembers.Values)
                {
                    timer.Dispose();
                }
                group.PendingMembers.Clear();
                foreach (var member in group.Members.Values)
                {
                    CancelSession(member);
                    CompleteJoin(member, JoinError(member.AwaitingJoin?.Version ?? 0, member.MemberId, ShutdownError));
                    CompleteSync(member, SyncError(ShutdownError));
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> under the lock of the live group <paramref name="groupId"/>
    /// (created first when <paramref name="create"/>), or without a lock with null when there is
    /// no such group. A group deleted meanwhile (Dead) is looked up again.
    /// </summary>
    private T WithGroup<T>(string groupId, bool create, Func<ClassicGroup?, T> action)
    {
        while (true)
        {
            var group = create
                ? _groups.GetOrAdd(groupId, static id => new ClassicGroup(id))
                : _groups.GetValueOrDefault(groupId);
            if (group is null)
            {
                return action(null);
            }
            lock (group.Lock)
            {
                if (group.State != ClassicGroupState.Dead)
                {
                    return action(group);
                }
            }
            // Dead: it was removed from the map under its lock; look again.
        }
    }

    /// <summary>Marks the group Dead and forgets it (its offsets too). Caller holds the lock.</summary>
    private void DeleteGroup(ClassicGroup group)
    {
        group.State = ClassicGroupState.Dead;
        CancelJoinTimer(group);
        foreach (var timer in group.PendingMembers.Values)
        {
            timer.Dispose();
        }
        group.PendingMembers.Clear();
        foreach (var member in group.Members.Values)
        {
            CancelSession(member);
        }
        group.Members.Clear();
        group.StaticMembers.Clear();
        group.Offsets.Clear();
        _groups.TryRemove(KeyValuePair.Create(group.GroupId, group));
    }

    /// <summary>Forgets a group that a failed request created and that holds nothing. Caller holds the lock.</summary>
    private void DiscardIfUnused(ClassicGroup group)
    {
        if (group.State == ClassicGroupState.Empty && group.GenerationId == 0 && group.Members.Count == 0
            && group.PendingMembers.Count == 0 && group.Offsets.Count == 0)
        {
            DeleteGroup(group);
        }
    }

    /// <summary>Removes the committed offsets of <paramref name="topic"/> from every group (the topic was deleted).</summary>
    /// <param name="topic">The deleted topic.</param>
    public void DeleteTopicOffsets(string topic)
    {
        foreach (var group in _groups.Values)
        {
            lock (group.Lock)
            {
                foreach (var key in group.Offsets.Keys.Where(k => k.Topic == topic).ToList())
                {
                    group.Offsets.Remove(key);
                }
            }
        }
    }

    private ITimer Schedule(TimeSpan due, Action callback) =>
        _time.CreateTimer(static state => ((Action)state!)(), callback, due < MinimumTimerDue ? MinimumTimerDue : due, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// A long-poll completion. Cancelling <paramref name="cancellationToken"/> cancels the
    /// caller's task only: the group still counts the member as waiting (as Kafka does for a
    /// client that disconnects mid-rebalance), and the later result is dropped. The task itself
    /// (not a wrapper) is returned so that it is complete as soon as the coordinator completes it.
    /// </summary>
    private static TaskCompletionSource<T> NewCompletion<T>(CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(
                static state => ((TaskCompletionSource<T>)state!).TrySetCanceled(), completion);
            completion.Task.ContinueWith(
                static (_, state) => ((CancellationTokenRegistration)state!).Dispose(),
                registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return completion;
    }
}
