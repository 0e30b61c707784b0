using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

public sealed class OffsetTests
{
    private static OffsetCommitRequest Commit(string groupId, int generation, string memberId, params (string Topic, int Partition, long Offset)[] offsets) => new()
    {
        GroupId = groupId,
        GenerationIdOrMemberEpoch = generation,
        MemberId = memberId,
        Topics = offsets.GroupBy(o => o.Topic).Select(t => new OffsetCommitRequest.OffsetCommitRequestTopic
        {
            Name = t.Key,
            Partitions = t.Select(o => new OffsetCommitRequest.OffsetCommitRequestPartition
            {
                PartitionIndex = o.Partition,
                CommittedOffset = o.Offset,
                CommittedLeaderEpoch = 3,
                CommittedMetadata = "meta-" + o.Offset,
            }).ToList(),
        }).ToList(),
    };

    private static List<ErrorCode> CommitOffsets(GroupHarness h, OffsetCommitRequest request, short version = 9)
    {
        var response = h.Coordinator.OffsetCommitAsync(request, version, Ct).Done();
        RoundTrip(response, version);
        return response.Topics.SelectMany(t => t.Partitions).Select(p => (ErrorCode)p.ErrorCode).ToList();
    }

    private static OffsetFetchResponse.OffsetFetchResponseGroup Fetch(GroupHarness h, string groupId, params (string Topic, int[] Partitions)[]? topics)
    {
        var response = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest
        {
            Groups = [new()
            {
                GroupId = groupId,
                Topics = topics?.Select(t => new OffsetFetchRequest.OffsetFetchRequestTopics { Name = t.Topic, PartitionIndexes = t.Partitions.ToList() }).ToList(),
            }],
        }, 9, Ct).Done();
        RoundTrip(response, 9);
        return response.Groups.Single();
    }

    [Fact]
    public void Simple_commit_creates_an_empty_group_and_fetch_returns_it()
    {
        using var h = new GroupHarness();
        (CommitOffsets(h, Commit("simple", -1, "", ("t", 0, 42), ("t", 1, 43), ("u", 0, 7)))).Should().AllBeEquivalentTo(ErrorCode.None);
        h.Describe("simple").GroupState.Should().Be("Empty");

        var all = Fetch(h, "simple", null);
        all.ErrorCode.Should().Be(0);
        all.Topics.Select(t => t.Name).Should().Equal("t", "u");
        var p1 = all.Topics[0].Partitions[1];
        (p1.PartitionIndex, p1.CommittedOffset, p1.CommittedLeaderEpoch, p1.Metadata).Should().Be((1, 43L, 3, "meta-43"));

        var some = Fetch(h, "simple", ("t", [1, 5]), ("missing", [0]));
        some.Topics[0].Partitions.Select(p => p.CommittedOffset).Should().Equal(43, -1);
        some.Topics[1].Partitions.Single().CommittedOffset.Should().Be(-1);
        some.Topics[1].Partitions.Single().Metadata.Should().Be("");

        var unknownGroup = Fetch(h, "nobody", ("t", [0]));
        unknownGroup.ErrorCode.Should().Be(0);
        unknownGroup.Topics.Single().Partitions.Single().CommittedOffset.Should().Be(-1);
        (Fetch(h, "nobody", null)).Topics.Should().BeEmpty();
    }

    [Fact]
    public void Offset_fetch_serves_several_groups_at_v8_and_one_group_before()
    {
        using var h = new GroupHarness();
        CommitOffsets(h, Commit("g1", -1, "", ("t", 0, 1)));
        CommitOffsets(h, Commit("g2", -1, "", ("t", 0, 2)));

        var v8 = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest
        {
            Groups = [new() { GroupId = "g1", Topics = null }, new() { GroupId = "g2", Topics = [new() { Name = "t", PartitionIndexes = [0] }] }],
        }, 8, Ct).Done();
        RoundTrip(v8, 8);
        v8.Groups.Select(g => g.Topics.Single().Partitions.Single().CommittedOffset).Should().Equal(1, 2);

        foreach (short version in new short[] { 1, 2, 5, 7 })
        {
            var single = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest
            {
                GroupId = "g2",
                Topics = [new() { Name = "t", PartitionIndexes = [0, 1] }],
            }, version, Ct).Done();
            RoundTrip(single, version).Topics.Single().Partitions.Select(p => p.CommittedOffset).Should().Equal(2, -1);
        }
        var allTopics = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest { GroupId = "g1", Topics = null }, 7, Ct).Done();
        allTopics.Topics.Single().Partitions.Single().CommittedOffset.Should().Be(1);
    }

    [Fact]
    public void Member_commits_are_checked_against_member_and_generation()
    {
        using var h = new GroupHarness();
        var (members, generation) = h.StableGroup("g", 2);
        string m = members[0];

        (CommitOffsets(h, Commit("g", generation, m, ("t", 0, 10)))).Should().Equal(ErrorCode.None);
        (CommitOffsets(h, Commit("g", generation - 1, m, ("t", 0, 11)))).Should().Equal(ErrorCode.IllegalGeneration);
        (CommitOffsets(h, Commit("g", generation, "ghost", ("t", 0, 12)))).Should().Equal(ErrorCode.UnknownMemberId);
        (CommitOffsets(h, Commit("g", -1, "", ("t", 0, 13)))).Should().Equal([ErrorCode.UnknownMemberId], "only members commit to a non-empty group");
        (CommitOffsets(h, Commit("unknown", 5, m, ("t", 0, 14)))).Should().Equal(ErrorCode.IllegalGeneration);
        h.Describe("unknown").GroupState.Should().Be("Dead", "a rejected commit creates no group");

        (Fetch(h, "g", ("t", [0]))).Topics.Single().Partitions.Single().CommittedOffset.Should().Be(10);

        // During the join phase members may still commit for their generation...
        var (_, joinC) = h.JoinNew("g", "c");
        (CommitOffsets(h, Commit("g", generation, m, ("t", 0, 20)))).Should().Equal(ErrorCode.None);
        // ...but not between JoinGroup and SyncGroup of the next one.
        var rejoins = members.Select(id => h.JoinAsync(JoinRequest("g", id))).ToList();
        var next = (joinC.Done()).GenerationId;
        rejoins.ForEach(r => r.Done());
        (CommitOffsets(h, Commit("g", next, m, ("t", 0, 21)))).Should().Equal(ErrorCode.RebalanceInProgress);

        // Once every member has left, simple commits are accepted again.
        h.Leave("g", members.Append((joinC.Done()).MemberId).Select(id => (id, (string?)null)).ToArray());
        h.Describe("g").GroupState.Should().Be("Empty");
        (CommitOffsets(h, Commit("g", -1, "", ("t", 0, 30)))).Should().Equal(ErrorCode.None);
    }

    [Fact]
    public void Commits_validate_metadata_size_and_partition_existence()
    {
        using var h = new GroupHarness(partitionExists: (topic, partition) => topic == "t" && partition < 2);
        var request = Commit("g", -1, "", ("t", 0, 1), ("t", 5, 1), ("nope", 0, 1));
        request.Topics[0].Partitions[0].CommittedMetadata = new string('x', 4097);
        (CommitOffsets(h, request)).Should().Equal(ErrorCode.OffsetMetadataTooLarge, ErrorCode.UnknownTopicOrPartition, ErrorCode.UnknownTopicOrPartition);
    }

    [Fact]
    public void Offset_delete_removes_offsets_of_empty_groups_and_unsubscribed_topics()
    {
        using var h = new GroupHarness();
        CommitOffsets(h, Commit("empty", -1, "", ("t", 0, 1), ("t", 1, 2)));
        var deleted = h.Coordinator.OffsetDeleteAsync(new OffsetDeleteRequest
        {
            GroupId = "empty",
            Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0 }] }],
        }, 0, Ct).Done();
        RoundTrip(deleted, 0);
        deleted.ErrorCode.Should().Be(0);
        deleted.Topics.Single().Partitions.Single().ErrorCode.Should().Be(0);
        (Fetch(h, "empty", ("t", [0, 1]))).Topics.Single().Partitions.Select(p => p.CommittedOffset).Should().Equal(-1, 2);

        var (members, generation) = h.StableGroup("live", 1, topics: ["subscribed"]);
        CommitOffsets(h, Commit("live", generation, members[0], ("subscribed", 0, 5), ("other", 0, 6)));
        var live = h.Coordinator.OffsetDeleteAsync(new OffsetDeleteRequest
        {
            GroupId = "live",
            Topics = [new() { Name = "subscribed", Partitions = [new() { PartitionIndex = 0 }] }, new() { Name = "other", Partitions = [new() { PartitionIndex = 0 }] }],
        }, 0, Ct).Done();
        live.ErrorCode.Should().Be(0);
        live.Topics.Select(t => (ErrorCode)t.Partitions.Single().ErrorCode).Should().Equal(ErrorCode.GroupSubscribedToTopic, ErrorCode.None);
        (Fetch(h, "live", null)).Topics.Select(t => t.Name).Should().Equal("subscribed");

        (h.Coordinator.OffsetDeleteAsync(new OffsetDeleteRequest { GroupId = "missing" }, 0, Ct).Done()).ErrorCode.Should().Be((short)ErrorCode.GroupIdNotFound);
    }

    [Fact]
    public void Offset_delete_on_a_non_consumer_group_with_members_is_refused()
    {
        using var h = new GroupHarness();
        var join = h.JoinAsync(JoinRequest("connect", protocolType: "connect"), version: 3).Done();
        join.ErrorCode.Should().Be(0);
        var response = h.Coordinator.OffsetDeleteAsync(new OffsetDeleteRequest
        {
            GroupId = "connect",
            Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = 0 }] }],
        }, 0, Ct).Done();
        response.ErrorCode.Should().Be((short)ErrorCode.NonEmptyGroup);
    }

    [Fact]
    public void Deleted_topics_lose_their_offsets()
    {
        using var h = new GroupHarness();
        CommitOffsets(h, Commit("g", -1, "", ("gone", 0, 1), ("kept", 0, 2)));
        h.Coordinator.DeleteTopicOffsets("gone");
        (Fetch(h, "g", null)).Topics.Select(t => t.Name).Should().Equal("kept");
    }
}
