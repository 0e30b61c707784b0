using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class StickyAssignorTests
{
    public static TheoryData<string> Assignors => new() { "sticky", "cooperative-sticky" };

    private static IPartitionAssignor Create(string name) =>
        name == "sticky" ? new StickyAssignor() : new CooperativeStickyAssignor();

    [Fact]
    public void Names_and_protocols_match_the_java_client()
    {
        new StickyAssignor().Name.Should().Be("sticky");
        new StickyAssignor().SupportedProtocols.Should().Equal(RebalanceProtocol.Eager);
        new CooperativeStickyAssignor().Name.Should().Be("cooperative-sticky");
        new CooperativeStickyAssignor().SupportedProtocols.Should().Equal(RebalanceProtocol.Cooperative, RebalanceProtocol.Eager);
    }

    [Theory]
    [MemberData(nameof(Assignors))]
    public void Javas_example_1_a_member_leaving_keeps_every_other_assignment(string name)
    {
        var group = new GroupSimulator(Create(name), Topics(("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)));
        foreach (string member in new[] { "C0", "C1", "C2" })
        {
            group.Join(member, ["t0", "t1", "t2", "t3"]);
        }
        group.Rebalance();

        // Same first assignment as Java's StickyAssignor documents.
        PartitionsOf(group.LastResult, "C0").Should().Equal(Tp("t0", 0), Tp("t1", 1), Tp("t3", 0));
        PartitionsOf(group.LastResult, "C1").Should().Equal(Tp("t0", 1), Tp("t2", 0), Tp("t3", 1));
        PartitionsOf(group.LastResult, "C2").Should().Equal(Tp("t1", 0), Tp("t2", 1));

        var before = group.Ownership();
        group.Leave("C1");
        group.Rebalance();

        var after = group.Ownership();
        after["C0"].Should().HaveCount(4).And.Contain(before["C0"]);
        after["C2"].Should().HaveCount(4).And.Contain(before["C2"]);
    }

    [Theory]
    [MemberData(nameof(Assignors))]
    public void Javas_example_2_different_subscriptions_are_balanced_better_than_round_robin(string name)
    {
        var group = new GroupSimulator(Create(name), Topics(("t0", 1), ("t1", 2), ("t2", 3)));
        group.Join("C0", ["t0"]);
        group.Join("C1", ["t0", "t1"]);
        group.Join("C2", ["t0", "t1", "t2"]);
        group.Rebalance();

        PartitionsOf(group.LastResult, "C0").Should().Equal(Tp("t0", 0));
        PartitionsOf(group.LastResult, "C1").Should().Equal(Tp("t1", 0), Tp("t1", 1));
        PartitionsOf(group.LastResult, "C2").Should().Equal(Tp("t2", 0), Tp("t2", 1), Tp("t2", 2));

        group.Leave("C0");
        group.Rebalance();

        group.Ownership()["C1"].Should().BeEquivalentTo([Tp("t1", 0), Tp("t1", 1), Tp("t0", 0)]);
        group.Ownership()["C2"].Should().BeEquivalentTo([Tp("t2", 0), Tp("t2", 1), Tp("t2", 2)]);
    }

    [Theory]
    [MemberData(nameof(Assignors))]
    public void Random_groups_stay_valid_balanced_and_sticky_through_joins_leaves_and_changes(string name)
    {
        for (int seed = 0; seed < 120; seed++)
        {
            RunScenario(name, seed);
        }
    }

    private static void RunScenario(string name, int seed)
    {
        var random = new Random(seed);
        bool sameTopics = seed % 2 == 0;
        var counts = Enumerable.Range(0, random.Next(1, 5)).ToDictionary(i => $"t{i}", _ => random.Next(1, 13));
        var group = new GroupSimulator(Create(name), counts);
        int nextMember = 0;
        List<string> RandomTopics() => sameTopics
            ? counts.Keys.ToList()
            : counts.Keys.Where(_ => random.Next(2) == 0).DefaultIfEmpty(counts.Keys.First()).ToList();

        for (int i = random.Next(1, 6); i > 0; i--)
        {
            group.Join($"m{nextMember++:D2}", RandomTopics());
        }
        group.Rebalance();
        Check($"seed {seed} start");

        for (int step = 0; step < 8; step++)
        {
            var before = group.Ownership();
            int action = random.Next(5);
            string context = $"seed {seed} step {step} action {action}";
            if (action == 0 || group.MemberIds.Count == 1)
            {
                string joiner = $"m{nextMember++:D2}";
                group.Join(joiner, RandomTopics());
                int rounds = group.Rebalance();
                Check(context);
                var after = group.Ownership();
                if (sameTopics)
                {
                    // The minimum moves: only what the new member needs, taken from the others.
                    int moved = before.Sum(b => b.Value.Except(after[b.Key]).Count());
                    moved.Should().Be(after[joiner].Count, context);
                    if (name == "cooperative-sticky" && moved > 0)
                    {
                        rounds.Should().Be(2, context);
                    }
                }
            }
            else if (action == 1)
            {
                string leaver = group.MemberIds.ElementAt(random.Next(group.MemberIds.Count));
                group.Leave(leaver);
                group.Rebalance();
                Check(context);
                if (sameTopics)
                {
                    var after = group.Ownership();
                    foreach (var (member, partitions) in after)
                    {
                        partitions.IsSupersetOf(before[member]).Should().BeTrue($"{context}: {member} keeps everything when {leaver} leaves");
                    }
                }
            }
            else if (action == 2 && !sameTopics)
            {
                string member = group.MemberIds.ElementAt(random.Next(group.MemberIds.Count));
                group.Resubscribe(member, RandomTopics());
                group.Rebalance();
                Check(context);
            }
            else if (action == 3)
            {
                string topic = counts.Keys.ElementAt(random.Next(counts.Count));
                counts[topic] += random.Next(1, 4);
                group.Rebalance();
                Check(context);
            }
            else
            {
                // Nothing changed: nothing moves.
                group.Rebalance().Should().Be(1, context);
                Check(context);
                group.Ownership().Should().BeEquivalentTo(before, context);
            }
        }

        void Check(string context)
        {
            try
            {
                AssertValid(counts, group.LastSubscriptions, group.LastResult);
                AssertBalanced(group.LastSubscriptions, group.LastResult);
                if (sameTopics)
                {
                    var sizes = group.LastResult.Values.Select(a => a.Partitions.Count).ToList();
                    (sizes.Max() - sizes.Min()).Should().BeLessThanOrEqualTo(1, context);
                }
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"{context}: {e.Message}", e);
            }
        }
    }
}
