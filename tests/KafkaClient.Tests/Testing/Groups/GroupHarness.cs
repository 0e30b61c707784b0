using System.Buffers;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Groups;
using Microsoft.Extensions.Time.Testing;

namespace KafkaClient.Tests.Testing.Groups;

/// <summary>A coordinator on a fake clock, with request builders for consumer-protocol members.</summary>
internal sealed class GroupHarness : IDisposable
{
    public const int SessionTimeoutMs = 10_000;
    public const int RebalanceTimeoutMs = 30_000;

    public GroupHarness(TimeSpan? initialRebalanceDelay = null, Func<string, int, bool>? partitionExists = null)
    {
        Coordinator = new GroupCoordinator(Time, new GroupCoordinatorOptions
        {
            InitialRebalanceDelay = initialRebalanceDelay ?? TimeSpan.Zero,
            PartitionExists = partitionExists,
        });
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public GroupCoordinator Coordinator { get; }

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Coordinator.Dispose();

    public void Advance(int milliseconds) => Time.Advance(TimeSpan.FromMilliseconds(milliseconds));

    /// <summary>ConsumerProtocolSubscription bytes: int16 version, then the body.</summary>
    public static byte[] Subscription(params string[] topics)
    {
        var subscription = new ConsumerProtocolSubscription { Topics = topics.ToList() };
        return WithVersionPrefix(3, (ref ProtocolWriter w) => subscription.Write(ref w, 3));
    }

    public static byte[] Assignment(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static JoinGroupRequest JoinRequest(
        string groupId,
        string memberId = "",
        string? instanceId = null,
        string[]? topics = null,
        string[]? protocols = null,
        string protocolType = "consumer",
        int sessionTimeoutMs = SessionTimeoutMs,
        int rebalanceTimeoutMs = RebalanceTimeoutMs)
    {
        var metadata = Subscription(topics ?? ["orders"]);
        return new JoinGroupRequest
        {
            GroupId = groupId,
            MemberId = memberId,
            GroupInstanceId = instanceId,
            SessionTimeoutMs = sessionTimeoutMs,
            RebalanceTimeoutMs = rebalanceTimeoutMs,
            ProtocolType = protocolType,
            Protocols = (protocols ?? ["range"]).Select(p => new JoinGroupRequest.JoinGroupRequestProtocol { Name = p, Metadata = metadata }).ToList(),
        };
    }

    public Task<JoinGroupResponse> JoinAsync(JoinGroupRequest request, short version = 9, string clientId = "client") =>
        Coordinator.JoinGroupAsync(request, version, clientId, "/127.0.0.1", Ct);

    /// <summary>A new dynamic member: the MEMBER_ID_REQUIRED round trip, then the real (pending) join.</summary>
    public (string MemberId, Task<JoinGroupResponse> Join) JoinNew(
        string groupId, string clientId = "client", string[]? topics = null, string[]? protocols = null, int rebalanceTimeoutMs = RebalanceTimeoutMs)
    {
        var first = JoinAsync(JoinRequest(groupId, topics: topics, protocols: protocols, rebalanceTimeoutMs: rebalanceTimeoutMs), clientId: clientId).Done();
        first.ErrorCode.Should().Be((short)ErrorCode.MemberIdRequired);
        first.MemberId.Should().StartWith(clientId + "-");
        return (first.MemberId, JoinAsync(JoinRequest(groupId, first.MemberId, topics: topics, protocols: protocols, rebalanceTimeoutMs: rebalanceTimeoutMs), clientId: clientId));
    }

    public Task<SyncGroupResponse> SyncAsync(string groupId, string memberId, int generation, Dictionary<string, byte[]>? assignments = null, string? instanceId = null, short version = 5) =>
        Coordinator.SyncGroupAsync(new SyncGroupRequest
        {
            GroupId = groupId,
            MemberId = memberId,
            GenerationId = generation,
            GroupInstanceId = instanceId,
            ProtocolType = version >= 5 ? "consumer" : null,
            ProtocolName = version >= 5 ? "range" : null,
            Assignments = (assignments ?? []).Select(a => new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = a.Key, Assignment = a.Value }).ToList(),
        }, version, Ct);

    public ErrorCode Heartbeat(string groupId, string memberId, int generation, string? instanceId = null)
    {
        var task = Coordinator.HeartbeatAsync(new HeartbeatRequest { GroupId = groupId, MemberId = memberId, GenerationId = generation, GroupInstanceId = instanceId }, 4, Ct);
        return (ErrorCode)task.Done().ErrorCode;
    }

    public LeaveGroupResponse Leave(string groupId, params (string MemberId, string? InstanceId)[] members)
    {
        var task = Coordinator.LeaveGroupAsync(new LeaveGroupRequest
        {
            GroupId = groupId,
            Members = members.Select(m => new LeaveGroupRequest.MemberIdentity { MemberId = m.MemberId, GroupInstanceId = m.InstanceId }).ToList(),
        }, 5, Ct);
        return task.Done();
    }

    public DescribeGroupsResponse.DescribedGroup Describe(string groupId, short version = 5) =>
        Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = [groupId] }, version, Ct).Done().Groups.Single();

    /// <summary>Creates a Stable group of new dynamic members; returns their ids (first is the leader) and the generation.</summary>
    public (List<string> Members, int Generation) StableGroup(string groupId, int count, string[]? topics = null)
    {
        var ids = new List<string>();
        JoinGroupResponse? last = null;
        for (int i = 0; i < count; i++)
        {
            // The new member's join triggers a rebalance; existing members rejoin so it completes.
            var (memberId, join) = JoinNew(groupId, "client-" + i, topics);
            var rejoins = ids.Select((id, index) => JoinAsync(JoinRequest(groupId, id, topics: topics), clientId: "client-" + index)).ToList();
            ids.Add(memberId);
            last = join.Done();
            last.ErrorCode.Should().Be(0);
            foreach (var rejoin in rejoins)
            {
                rejoin.Done().ErrorCode.Should().Be(0);
            }
        }
        int generation = last!.GenerationId;
        var leader = last.Leader;
        var syncs = ids.Where(id => id != leader).Select(id => SyncAsync(groupId, id, generation)).ToList();
        var leaderSync = SyncAsync(groupId, leader, generation, ids.ToDictionary(id => id, id => Assignment("assignment-of-" + id))).Done();
        leaderSync.ErrorCode.Should().Be(0);
        foreach (var sync in syncs)
        {
            sync.Done().ErrorCode.Should().Be(0);
        }
        Describe(groupId).GroupState.Should().Be("Stable");
        ids.Remove(leader);
        ids.Insert(0, leader);
        return (ids, generation);
    }

    public delegate void WriteBody(ref ProtocolWriter writer);

    private static byte[] WithVersionPrefix(short version, WriteBody body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(buffer);
        writer.WriteInt16(version);
        body(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Encodes a response at a version and reads it back, as the broker will.</summary>
    public static T RoundTrip<T>(T response, short version)
        where T : IKafkaResponse<T>
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(buffer);
        response.Write(ref writer, version);
        writer.Flush();
        buffer.WrittenCount.Should().Be(response.ComputeSize(version));
        var reader = new ProtocolReader(buffer.WrittenMemory);
        var read = T.Read(ref reader, version);
        reader.Remaining.Should().Be(0);
        return read;
    }
}

internal static class TaskAssertions
{
    /// <summary>
    /// The result of a coordinator task that must already be complete: with a fake clock every
    /// completion happens inside a coordinator call or <c>FakeTimeProvider.Advance</c>, so a task
    /// still pending here is a failure, never something to wait for.
    /// </summary>
    public static T Done<T>(this Task<T> task)
    {
        task.IsCompleted.Should().BeTrue("the long-poll should have completed by now");
        return task.GetAwaiter().GetResult();
    }
}
