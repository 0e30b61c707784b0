using System.Diagnostics;
using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class CooperativeStickyAssignorTests
{
    private readonly CooperativeStickyAssignor _assignor = new();

    [Fact]
    public void A_joining_member_gets_its_partitions_only_after_their_owners_revoked_them()
    {
        var group = new GroupSimulator(_assignor, Topics(("t", 6)));
        foreach (string member in new[] { "C0", "C1", "C2" })
        {
            group.Join(member, ["t"]);
        }
        group.Rebalance();
        var before = group.Ownership();
        group.Join("C3", ["t"]);

        group.RebalanceOnce().Should().BeTrue("owners give up the partitions that move, then rejoin");
        var firstRound = group.Ownership();
        firstRound["C3"].Should().BeEmpty();
        foreach (string member in new[] { "C0", "C1", "C2" })
        {
            before[member].IsSupersetOf(firstRound[member]).Should().BeTrue($"{member} only loses partitions in the first rebalance");
        }
        int revoked = before.Sum(b => b.Value.Count - firstRound[b.Key].Count);
        revoked.Should().Be(1, "6 partitions over 4 members: one of the three members with 2 gives one up");

        group.RebalanceOnce().Should().BeFalse("the follow-up rebalance only adds");
        var secondRound = group.Ownership();
        secondRound["C3"].Should().HaveCount(1);
        secondRound.Values.Sum(p => p.Count).Should().Be(6);
        foreach (string member in new[] { "C0", "C1", "C2" })
        {
            secondRound[member].Should().BeEquivalentTo(firstRound[member]);
        }
    }

    [Fact]
    public void Partitions_of_a_member_that_left_go_to_their_new_owner_at_once()
    {
        var group = new GroupSimulator(_assignor, Topics(("t", 4)));
        group.Join("a", ["t"]);
        group.Join("b", ["t"]);
        group.Rebalance();
        group.Leave("b");

        group.Rebalance().Should().Be(1);
        group.Ownership()["a"].Should().HaveCount(4);
    }

    [Fact]
    public void A_claim_from_an_older_generation_loses_to_the_newer_one()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["a"] = new(["t"]) { OwnedPartitions = [Tp("t", 0)], GenerationId = 5 },
            ["b"] = new(["t"]) { OwnedPartitions = [Tp("t", 0)], GenerationId = 4 },
        };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        PartitionsOf(result, "a").Should().Equal(Tp("t", 0));
        PartitionsOf(result, "b").Should().Equal(Tp("t", 1));
    }

    [Fact]
    public void A_partition_claimed_by_two_members_of_the_same_generation_is_withheld_until_both_let_go()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["a"] = new(["t"]) { OwnedPartitions = [Tp("t", 0)], GenerationId = 5 },
            ["b"] = new(["t"]) { OwnedPartitions = [Tp("t", 0)], GenerationId = 5 },
        };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        result.Values.SelectMany(a => a.Partitions).Should().Equal(Tp("t", 1));
    }

    [Fact]
    public void The_generation_is_read_from_user_data_when_the_subscription_predates_version_2()
    {
        // A v1 subscription: owned partitions but no generation field; the generation is in the user data.
        var newer = new Subscription(["t"]) { OwnedPartitions = [Tp("t", 0)], UserData = StickyUserData.WriteGeneration(9) };
        var older = new Subscription(["t"]) { OwnedPartitions = [Tp("t", 0)], UserData = StickyUserData.WriteGeneration(8) };
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["a"] = ConsumerProtocol.DeserializeSubscription(ConsumerProtocol.SerializeSubscription(older, 1)),
            ["b"] = ConsumerProtocol.DeserializeSubscription(ConsumerProtocol.SerializeSubscription(newer, 1)),
        };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        PartitionsOf(result, "b").Should().Equal(Tp("t", 0));
        PartitionsOf(result, "a").Should().Equal(Tp("t", 1));
    }

    [Fact]
    public void Owned_partitions_that_no_longer_exist_are_ignored()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["a"] = new(["t", "gone"]) { OwnedPartitions = [Tp("t", 7), Tp("gone", 0), Tp("t", 1)], GenerationId = 3 },
            ["b"] = new(["t", "gone"]) { GenerationId = 3 },
        };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        AssertValid(Topics(("t", 2)), subscriptions, result);
        PartitionsOf(result, "a").Should().Equal(Tp("t", 1));
        PartitionsOf(result, "b").Should().Equal(Tp("t", 0));
    }

    [Fact]
    public void Large_groups_with_different_subscriptions_are_assigned_quickly()
    {
        var random = new Random(7);
        var counts = Enumerable.Range(0, 40).ToDictionary(i => $"topic-{i:D2}", _ => random.Next(10, 100));
        var subscriptions = Enumerable.Range(0, 100).ToDictionary(
            i => $"member-{i:D3}",
            _ => new Subscription(counts.Keys.Where(_ => random.Next(3) > 0).ToList()));

        var watch = Stopwatch.StartNew();
        var first = _assignor.Assign(counts, subscriptions);
        var withOwnership = subscriptions.ToDictionary(
            s => s.Key,
            s => new Subscription(s.Value.Topics) { OwnedPartitions = first[s.Key].Partitions, GenerationId = 1 });
        withOwnership.Remove("member-000");
        var second = _assignor.Assign(counts, withOwnership);
        watch.Stop();

        AssertValid(counts, subscriptions, first);
        AssertBalanced(subscriptions, first);
        AssertValid(counts, withOwnership, second);
        AssertBalanced(withOwnership, second);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
    }
}
