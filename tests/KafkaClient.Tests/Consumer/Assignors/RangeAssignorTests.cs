using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class RangeAssignorTests
{
    private readonly RangeAssignor _assignor = new();

    [Fact]
    public void Name_and_protocols_match_the_java_client()
    {
        _assignor.Name.Should().Be("range");
        _assignor.SupportedProtocols.Should().Equal(RebalanceProtocol.Eager);
        _assignor.GetSubscriptionUserData(new MemberState(["t0"], null, -1)).Should().BeNull();
    }

    [Fact]
    public void Javas_documented_example_two_members_two_topics_of_three_partitions()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["C1"] = Subscribe("t0", "t1"),
            ["C0"] = Subscribe("t0", "t1"),
        };

        var result = _assignor.Assign(Topics(("t0", 3), ("t1", 3)), subscriptions);

        PartitionsOf(result, "C0").Should().Equal(Tp("t0", 0), Tp("t0", 1), Tp("t1", 0), Tp("t1", 1));
        PartitionsOf(result, "C1").Should().Equal(Tp("t0", 2), Tp("t1", 2));
    }

    [Fact]
    public void Partitions_split_into_contiguous_ranges_with_the_first_members_taking_the_extra_ones()
    {
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["c"] = Subscribe("t"),
            ["a"] = Subscribe("t"),
            ["b"] = Subscribe("t"),
        };

        var result = _assignor.Assign(Topics(("t", 8)), subscriptions);

        PartitionsOf(result, "a").Should().Equal(Tp("t", 0), Tp("t", 1), Tp("t", 2));
        PartitionsOf(result, "b").Should().Equal(Tp("t", 3), Tp("t", 4), Tp("t", 5));
        PartitionsOf(result, "c").Should().Equal(Tp("t", 6), Tp("t", 7));
    }

    [Fact]
    public void Each_topic_is_divided_only_among_its_subscribers()
    {
        // Java's RangeAssignorTest.testTwoConsumersOneTopicOnePartition / testMultipleConsumersMixedTopics.
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["consumer1"] = Subscribe("topic1"),
            ["consumer2"] = Subscribe("topic1", "topic2"),
            ["consumer3"] = Subscribe("topic1"),
        };

        var result = _assignor.Assign(Topics(("topic1", 3), ("topic2", 2)), subscriptions);

        PartitionsOf(result, "consumer1").Should().Equal(Tp("topic1", 0));
        PartitionsOf(result, "consumer2").Should().Equal(Tp("topic1", 1), Tp("topic2", 0), Tp("topic2", 1));
        PartitionsOf(result, "consumer3").Should().Equal(Tp("topic1", 2));
    }

    [Fact]
    public void More_members_than_partitions_leaves_the_last_members_empty()
    {
        var subscriptions = new Dictionary<string, Subscription> { ["a"] = Subscribe("t"), ["b"] = Subscribe("t") };

        var result = _assignor.Assign(Topics(("t", 1)), subscriptions);

        PartitionsOf(result, "a").Should().Equal(Tp("t", 0));
        PartitionsOf(result, "b").Should().BeEmpty();
    }

    [Fact]
    public void A_topic_without_metadata_gets_nobody_anything_and_every_member_still_has_an_assignment()
    {
        var subscriptions = new Dictionary<string, Subscription> { ["a"] = Subscribe("missing"), ["b"] = Subscribe("t") };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        result.Keys.Should().BeEquivalentTo(["a", "b"]);
        PartitionsOf(result, "a").Should().BeEmpty();
        PartitionsOf(result, "b").Should().Equal(Tp("t", 0), Tp("t", 1));
    }

    [Fact]
    public void Static_members_come_first_ordered_by_instance_id_so_a_restart_keeps_their_partitions()
    {
        // Java's RangeAssignorTest.testStaticMemberRangeAssignmentPersistent: member ids change on restart,
        // group.instance.id does not.
        var before = new Dictionary<string, Subscription>
        {
            ["m-b"] = new(["t"]) { GroupInstanceId = "instance-1" },
            ["m-a"] = new(["t"]) { GroupInstanceId = "instance-2" },
            ["m-dynamic"] = Subscribe("t"),
        };
        var after = new Dictionary<string, Subscription>
        {
            ["m-z"] = new(["t"]) { GroupInstanceId = "instance-1" },
            ["m-y"] = new(["t"]) { GroupInstanceId = "instance-2" },
            ["m-dynamic"] = Subscribe("t"),
        };

        var first = _assignor.Assign(Topics(("t", 6)), before);
        var second = _assignor.Assign(Topics(("t", 6)), after);

        PartitionsOf(first, "m-b").Should().Equal(Tp("t", 0), Tp("t", 1));
        PartitionsOf(first, "m-a").Should().Equal(Tp("t", 2), Tp("t", 3));
        PartitionsOf(first, "m-dynamic").Should().Equal(Tp("t", 4), Tp("t", 5));
        PartitionsOf(second, "m-z").Should().Equal(PartitionsOf(first, "m-b"));
        PartitionsOf(second, "m-y").Should().Equal(PartitionsOf(first, "m-a"));
    }

    [Fact]
    public void Member_ids_are_compared_ordinally_as_java_does()
    {
        // Ordinal: upper case sorts before lower case, unlike culture-aware comparison.
        var subscriptions = new Dictionary<string, Subscription> { ["a"] = Subscribe("t"), ["B"] = Subscribe("t") };

        var result = _assignor.Assign(Topics(("t", 2)), subscriptions);

        PartitionsOf(result, "B").Should().Equal(Tp("t", 0));
        PartitionsOf(result, "a").Should().Equal(Tp("t", 1));
    }

    [Fact]
    public void No_members_gives_an_empty_assignment()
    {
        _assignor.Assign(Topics(("t", 3)), new Dictionary<string, Subscription>()).Should().BeEmpty();
    }
}
