using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

/// <summary>
/// Every response the coordinator builds must encode at the version it was asked for: fields a
/// version cannot carry are left at their defaults (or are ignorable), nullability is respected.
/// </summary>
public sealed class GroupVersionMatrixTests
{
    public static TheoryData<short> JoinVersions() => Range(JoinGroupRequest.LowestVersion, JoinGroupRequest.HighestVersion);

    public static TheoryData<short> SyncVersions() => Range(SyncGroupRequest.LowestVersion, SyncGroupRequest.HighestVersion);

    private static TheoryData<short> Range(short low, short high)
    {
        var data = new TheoryData<short>();
        for (short v = low; v <= high; v++)
        {
            data.Add(v);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(JoinVersions))]
    public void Join_responses_encode_at_every_version(short version)
    {
        using var h = new GroupHarness();
        var request = JoinRequest("g", instanceId: version >= 5 ? "static" : null);
        var first = h.Coordinator.JoinGroupAsync(request, version, "c", "h", Ct).Done();
        RoundTrip(first, version);
        if (first.ErrorCode == (short)ErrorCode.MemberIdRequired)
        {
            first = h.Coordinator.JoinGroupAsync(JoinRequest("g", first.MemberId), version, "c", "h", Ct).Done();
        }
        first.ErrorCode.Should().Be(0);
        var read = RoundTrip(first, version);
        read.Members.Should().ContainSingle();
        read.ProtocolName.Should().Be("range");

        var error = h.Coordinator.JoinGroupAsync(JoinRequest("g", "ghost"), version, "c", "h", Ct).Done();
        RoundTrip(error, version).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);
        RoundTrip(h.Coordinator.JoinGroupAsync(JoinRequest(""), version, "c", "h", Ct).Done(), version);

        if (version >= 5)
        {
            h.SyncAsync("g", first.MemberId, first.GenerationId, new() { [first.MemberId] = Assignment("x") }, "static").Done();
            var replaced = h.Coordinator.JoinGroupAsync(JoinRequest("g", instanceId: "static"), version, "c", "h", Ct).Done();
            RoundTrip(replaced, version).SkipAssignment.Should().Be(version >= 9);
        }
    }

    [Theory]
    [MemberData(nameof(SyncVersions))]
    public void Sync_heartbeat_and_leave_responses_encode_at_every_version(short version)
    {
        using var h = new GroupHarness();
        var join = h.Coordinator.JoinGroupAsync(JoinRequest("g"), 3, "c", "h", Ct).Done();
        var sync = h.SyncAsync("g", join.MemberId, join.GenerationId, new() { [join.MemberId] = Assignment("x") }, version: version).Done();
        RoundTrip(sync, version).Assignment.ToArray().Should().Equal(Assignment("x"));
        RoundTrip(h.SyncAsync("g", "ghost", 1, version: version).Done(), version).ErrorCode.Should().Be((short)ErrorCode.UnknownMemberId);

        short heartbeatVersion = Math.Min(version, HeartbeatRequest.HighestVersion);
        var heartbeat = h.Coordinator.HeartbeatAsync(new HeartbeatRequest { GroupId = "g", MemberId = join.MemberId, GenerationId = join.GenerationId }, heartbeatVersion, Ct).Done();
        RoundTrip(heartbeat, heartbeatVersion).ErrorCode.Should().Be(0);

        var leaveRequest = version >= 3
            ? new LeaveGroupRequest { GroupId = "g", Members = [new() { MemberId = join.MemberId }, new() { MemberId = "ghost" }] }
            : new LeaveGroupRequest { GroupId = "g", MemberId = join.MemberId };
        var leave = h.Coordinator.LeaveGroupAsync(leaveRequest, version, Ct).Done();
        RoundTrip(leave, version).ErrorCode.Should().Be(0);
    }

    [Fact]
    public void Offset_and_admin_responses_encode_at_every_version()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        for (short v = OffsetCommitRequest.LowestVersion; v <= OffsetCommitRequest.HighestVersion; v++)
        {
            var commit = h.Coordinator.OffsetCommitAsync(new OffsetCommitRequest
            {
                GroupId = "g", GenerationIdOrMemberEpoch = generation, MemberId = members[0],
                Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0, CommittedOffset = v, CommittedMetadata = null }] }],
            }, v, Ct).Done();
            RoundTrip(commit, v).Topics.Single().Partitions.Single().ErrorCode.Should().Be(0);
        }
        for (short v = OffsetFetchRequest.LowestVersion; v <= OffsetFetchRequest.HighestVersion; v++)
        {
            var request = v >= 8
                ? new OffsetFetchRequest { Groups = [new() { GroupId = "g", Topics = null }, new() { GroupId = "other", Topics = [new() { Name = "t", PartitionIndexes = [0] }] }] }
                : new OffsetFetchRequest { GroupId = "g", Topics = v >= 2 ? null : [new() { Name = "t", PartitionIndexes = [0, 1] }] };
            RoundTrip(h.Coordinator.OffsetFetchAsync(request, v, Ct).Done(), v);
        }
        for (short v = DescribeGroupsRequest.LowestVersion; v <= DescribeGroupsRequest.HighestVersion; v++)
        {
            var describe = h.Coordinator.DescribeGroupsAsync(new DescribeGroupsRequest { Groups = ["g", "missing"], IncludeAuthorizedOperations = v >= 3 }, v, Ct).Done();
            RoundTrip(describe, v).Groups.Should().HaveCount(2);
        }
        for (short v = ListGroupsRequest.LowestVersion; v <= ListGroupsRequest.HighestVersion; v++)
        {
            RoundTrip(h.Coordinator.ListGroupsAsync(new ListGroupsRequest(), v, Ct).Done(), v).Groups.Should().ContainSingle();
        }
        for (short v = DeleteGroupsRequest.LowestVersion; v <= DeleteGroupsRequest.HighestVersion; v++)
        {
            RoundTrip(h.Coordinator.DeleteGroupsAsync(new DeleteGroupsRequest { GroupsNames = ["g", "missing"] }, v, Ct).Done(), v);
        }
        RoundTrip(h.Coordinator.OffsetDeleteAsync(new OffsetDeleteRequest
        {
            GroupId = "g", Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0 }] }],
        }, 0, Ct).Done(), 0);
    }

    [Fact]
    public void Offset_fetch_v1_reports_a_group_error_per_partition()
    {
        var h = new GroupHarness();
        h.Dispose();
        var v1 = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest { GroupId = "g", Topics = [new() { Name = "t", PartitionIndexes = [0] }] }, 1, Ct).Done();
        RoundTrip(v1, 1).Topics.Single().Partitions.Single().ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
        var v2 = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest { GroupId = "g", Topics = null }, 2, Ct).Done();
        RoundTrip(v2, 2).ErrorCode.Should().Be((short)ErrorCode.CoordinatorNotAvailable);
    }
}
