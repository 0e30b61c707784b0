using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class RoundRobinAssignorTests
{
    private readonly RoundRobinAssignor _assignor = new();

    [Fact]
    public void Name_and_protocols_match_the_java_client()
    {
        _assignor.Name.Should().Be("roundrobin");
        _assignor.SupportedProtocols.Should().Equal(RebalanceProtocol.Eager);
        _assignor.GetSubscriptionUserData(new MemberState(["t0"], null, -1)).Should().BeNull();
    }

    [Fact]
    public void Javas_documented_example_two_members_two_topics_of_three_partitions()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["C1"] = Subscribe("t1", "t0"),
            ["C0"] = Subscribe("t0", "t1"),
        };

        var result = _assignor.Assign(Topics(("t0", 3), ("t1", 3)), subscriptions);

        PartitionsOf(result, "C0").Should().Equal(Tp("t0", 0), Tp("t0", 2), Tp("t1", 1));
        PartitionsOf(result, "C1").Should().Equal(Tp("t0", 1), Tp("t1", 0), Tp("t1", 2));
    }

    [Fact]
    public void Javas_documented_example_with_different_subscriptions_skips_members_not_subscribed()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["C0"] = Subscribe("t0"),
            ["C1"] = Subscribe("t0", "t1"),
            ["C2"] = Subscribe("t0", "t1", "t2"),
        };

        var result = _assignor.Assign(Topics(("t0", 1), ("t1", 2), ("t2", 3)), subscriptions);

        PartitionsOf(result, "C0").Should().Equal(Tp("t0", 0));
        PartitionsOf(result, "C1").Should().Equal(Tp("t1", 0));
        PartitionsOf(result, "C2").Should().Equal(Tp("t1", 1), Tp("t2", 0), Tp("t2", 1), Tp("t2", 2));
    }

    [Fact]
    public void Javas_documented_static_membership_example_keeps_partitions_with_instance_ids()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["C5"] = new(["t0", "t1"]) { GroupInstanceId = "I0" },
            ["C3"] = new(["t0", "t1"]) { GroupInstanceId = "I1" },
            ["C4"] = new(["t0", "t1"]) { GroupInstanceId = "I2" },
        };

        var result = _assignor.Assign(Topics(("t0", 3), ("t1", 3)), subscriptions);

        PartitionsOf(result, "C5").Should().Equal(Tp("t0", 0), Tp("t1", 0));
        PartitionsOf(result, "C3").Should().Equal(Tp("t0", 1), Tp("t1", 1));
        PartitionsOf(result, "C4").Should().Equal(Tp("t0", 2), Tp("t1", 2));
    }

    [Fact]
    public void Topics_are_dealt_in_ordinal_name_order_continuing_the_rotation_across_topics()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["a"] = Subscribe("b-topic", "a-topic"),
            ["b"] = Subscribe("a-topic", "b-topic"),
            ["c"] = Subscribe("a-topic", "b-topic"),
        };

        var result = _assignor.Assign(Topics(("a-topic", 2), ("b-topic", 2)), subscriptions);

        PartitionsOf(result, "a").Should().Equal(Tp("a-topic", 0), Tp("b-topic", 1));
        PartitionsOf(result, "b").Should().Equal(Tp("a-topic", 1));
        PartitionsOf(result, "c").Should().Equal(Tp("b-topic", 0));
    }

    [Fact]
    public void Topics_without_metadata_are_skipped()
    {
        var subscriptions = new Dictionary<string, Subscription> { ["a"] = Subscribe("missing", "t"), ["b"] = Subscribe("t") };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        PartitionsOf(result, "a").Should().Equal(Tp("t", 0));
        PartitionsOf(result, "b").Should().Equal(Tp("t", 1));
    }

    [Fact]
    public void Equal_subscriptions_are_balanced_and_complete_over_random_shapes()
    {
        var random = new Random(1234);
        for (int round = 0; round < 200; round++)
        {
            var counts = Enumerable.Range(0, random.Next(1, 5)).ToDictionary(i => $"t{i}", _ => random.Next(1, 12));
            var subscriptions = Enumerable.Range(0, random.Next(1, 7))
                .ToDictionary(i => $"m{i}", _ => new Subscription(counts.Keys.ToList()));

            var result = _assignor.Assign(counts, subscriptions);

            AssertValid(counts, subscriptions, result);
            var sizes = result.Values.Select(a => a.Partitions.Count).ToList();
            (sizes.Max() - sizes.Min()).Should().BeLessThanOrEqualTo(1);
        }
    }
}
