using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using static KafkaClient.Tests.Testing.Groups.GroupHarness;

namespace KafkaClient.Tests.Testing.Groups;

public sealed class GroupConcurrencyTests
{
    [Fact]
    public async Task Members_joining_heartbeating_and_committing_from_many_threads_converge()
    {
        const int count = 16;
        using var h = new GroupHarness(initialRebalanceDelay: TimeSpan.FromSeconds(3));

        // Everyone gets a member id and joins at once, from the thread pool.
        var joins = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(() =>
        {
            var first = h.Coordinator.JoinGroupAsync(JoinRequest("g"), 9, "c" + i, "h", Ct).Done();
            return (first.MemberId, Join: h.Coordinator.JoinGroupAsync(JoinRequest("g", first.MemberId), 9, "c" + i, "h", Ct));
        }, Ct)));
        h.Advance(3_000);
        h.Advance(3_000);

        var responses = joins.Select(j => j.Join.Done()).ToList();
        responses.Select(r => r.GenerationId).Distinct().Should().ContainSingle();
        var leader = responses.Single(r => r.Members.Count == count);
        int generation = leader.GenerationId;

        var syncs = joins.Where(j => j.MemberId != leader.MemberId)
            .Select(j => Task.Run(() => h.SyncAsync("g", j.MemberId, generation), Ct)).ToList();
        h.SyncAsync("g", leader.MemberId, generation, joins.ToDictionary(j => j.MemberId, j => Assignment(j.MemberId))).Done();
        foreach (var sync in await Task.WhenAll(syncs))
        {
            sync.ErrorCode.Should().Be(0);
        }

        // Concurrent heartbeats and commits from every member, interleaved with describes.
        await Task.WhenAll(joins.Select((j, i) => Task.Run(() =>
        {
            for (int round = 0; round < 50; round++)
            {
                h.Heartbeat("g", j.MemberId, generation).Should().Be(ErrorCode.None);
                h.Coordinator.OffsetCommitAsync(new OffsetCommitRequest
                {
                    GroupId = "g", GenerationIdOrMemberEpoch = generation, MemberId = j.MemberId,
                    Topics = [new() { Name = "t", Partitions = [new() { PartitionIndex = i, CommittedOffset = round }] }],
                }, 9, Ct).Done().Topics[0].Partitions[0].ErrorCode.Should().Be(0);
                h.Describe("g").GroupState.Should().Be("Stable");
            }
        }, Ct)));

        var fetched = h.Coordinator.OffsetFetchAsync(new OffsetFetchRequest { Groups = [new() { GroupId = "g", Topics = null }] }, 9, Ct).Done();
        fetched.Groups[0].Topics.Single().Partitions.Should().HaveCount(count).And.OnlyContain(p => p.CommittedOffset == 49);

        // Half leave concurrently; the rest rejoin and form the next generation.
        var leaving = joins.Take(count / 2).ToList();
        await Task.WhenAll(leaving.Select(j => Task.Run(() => h.Leave("g", (j.MemberId, null)), Ct)));
        var staying = joins.Skip(count / 2).ToList();
        var rejoins = await Task.WhenAll(staying.Select(j => Task.Run(() => h.JoinAsync(JoinRequest("g", j.MemberId)), Ct)));
        var next = rejoins.ToList();
        next.Select(r => r.GenerationId).Should().OnlyContain(g => g == generation + 1);
        next.Single(r => r.Members.Count > 0).Members.Should().HaveCount(count / 2);
    }
}
