using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

/// <summary>
/// Cases from Apache Kafka's AbstractStickyAssignorTest and CooperativeStickyAssignorTest whose exact expected
/// assignments we reproduce, so a leader running this client assigns as a Java leader would.
/// </summary>
public sealed class JavaStickyCasesTests
{
    private const int Generation = 1;

    private static Subscription Owning(string[] topics, params TopicPartition[] owned) =>
        new(topics) { OwnedPartitions = owned, GenerationId = Generation, UserData = StickyUserData.WriteGeneration(Generation) };

    private static Subscription StickyOwning(string[] topics, params TopicPartition[] owned) =>
        new(topics) { UserData = StickyUserData.WritePreviousAssignment(owned, Generation), GenerationId = Generation };

    [Fact]
    public void AddRemoveTwoConsumersTwoTopics_sticky()
    {
        string[] topics = ["topic1", "topic2"];
        var counts = Topics(("topic1", 3), ("topic2", 4));
        var assignor = new StickyAssignor();

        var first = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer1"] = new(topics),
            ["consumer2"] = new(topics),
        });
        PartitionsOf(first, "consumer1").Should().BeEquivalentTo([Tp("topic1", 0), Tp("topic1", 2), Tp("topic2", 1), Tp("topic2", 3)]);
        PartitionsOf(first, "consumer2").Should().BeEquivalentTo([Tp("topic1", 1), Tp("topic2", 0), Tp("topic2", 2)]);

        var second = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer1"] = StickyOwning(topics, [.. first["consumer1"].Partitions]),
            ["consumer2"] = StickyOwning(topics, [.. first["consumer2"].Partitions]),
            ["consumer3"] = new(topics),
            ["consumer4"] = new(topics),
        });
        PartitionsOf(second, "consumer1").Should().BeEquivalentTo([Tp("topic1", 0), Tp("topic2", 1)]);
        PartitionsOf(second, "consumer2").Should().BeEquivalentTo([Tp("topic2", 0), Tp("topic1", 1)]);
        PartitionsOf(second, "consumer3").Should().BeEquivalentTo([Tp("topic1", 2), Tp("topic2", 3)]);
        PartitionsOf(second, "consumer4").Should().BeEquivalentTo([Tp("topic2", 2)]);

        var third = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer3"] = StickyOwning(topics, [.. second["consumer3"].Partitions]),
            ["consumer4"] = StickyOwning(topics, [.. second["consumer4"].Partitions]),
        });
        PartitionsOf(third, "consumer3").Should().BeEquivalentTo([Tp("topic1", 2), Tp("topic2", 3), Tp("topic1", 0), Tp("topic2", 1)]);
        PartitionsOf(third, "consumer4").Should().BeEquivalentTo([Tp("topic2", 2), Tp("topic1", 1), Tp("topic2", 0)]);
    }

    [Fact]
    public void AddRemoveTwoConsumersTwoTopics_cooperative_withholds_exactly_the_partitions_java_transfers()
    {
        string[] topics = ["topic1", "topic2"];
        var counts = Topics(("topic1", 3), ("topic2", 4));
        var assignor = new CooperativeStickyAssignor();

        var result = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer1"] = Owning(topics, Tp("topic1", 0), Tp("topic1", 2), Tp("topic2", 1), Tp("topic2", 3)),
            ["consumer2"] = Owning(topics, Tp("topic1", 1), Tp("topic2", 0), Tp("topic2", 2)),
            ["consumer3"] = Owning(topics),
            ["consumer4"] = Owning(topics),
        });

        // Java: partitionsTransferringOwnership = {topic1-2: consumer3, topic2-3: consumer3, topic2-2: consumer4}.
        PartitionsOf(result, "consumer1").Should().BeEquivalentTo([Tp("topic1", 0), Tp("topic2", 1)]);
        PartitionsOf(result, "consumer2").Should().BeEquivalentTo([Tp("topic2", 0), Tp("topic1", 1)]);
        PartitionsOf(result, "consumer3").Should().BeEmpty();
        PartitionsOf(result, "consumer4").Should().BeEmpty();
    }

    [Fact]
    public void AddRemoveConsumerOneTopic_cooperative()
    {
        var counts = Topics(("topic", 3));
        var assignor = new CooperativeStickyAssignor();

        var first = assignor.Assign(counts, new Dictionary<string, Subscription> { ["consumer1"] = new(["topic"]) });
        PartitionsOf(first, "consumer1").Should().Equal(Tp("topic", 0), Tp("topic", 1), Tp("topic", 2));

        var second = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer1"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 1), Tp("topic", 2)),
            ["consumer2"] = Owning(["topic"]),
        });
        // Java: consumer1 keeps 0 and 1, topic-2 transfers to consumer2 (withheld this round).
        PartitionsOf(second, "consumer1").Should().Equal(Tp("topic", 0), Tp("topic", 1));
        PartitionsOf(second, "consumer2").Should().BeEmpty();

        var followUp = assignor.Assign(counts, new Dictionary<string, Subscription>
        {
            ["consumer1"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 1)),
            ["consumer2"] = Owning(["topic"]),
        });
        PartitionsOf(followUp, "consumer2").Should().Equal(Tp("topic", 2));
    }

    [Fact]
    public void OwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration_equal_partitions_per_consumer()
    {
        var result = new CooperativeStickyAssignor().Assign(Topics(("topic", 3)), new Dictionary<string, Subscription>
        {
            ["consumer1"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 1)),
            ["consumer2"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 2)),
            ["consumer3"] = Owning(["topic"]),
        });

        PartitionsOf(result, "consumer1").Should().Equal(Tp("topic", 1));
        PartitionsOf(result, "consumer2").Should().Equal(Tp("topic", 2));
        PartitionsOf(result, "consumer3").Should().BeEmpty();
    }

    [Fact]
    public void OwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration_unequal_partitions_per_consumer()
    {
        var result = new CooperativeStickyAssignor().Assign(Topics(("topic", 4)), new Dictionary<string, Subscription>
        {
            ["consumer1"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 1)),
            ["consumer2"] = Owning(["topic"], Tp("topic", 0), Tp("topic", 2)),
            ["consumer3"] = Owning(["topic"]),
        });

        PartitionsOf(result, "consumer1").Should().Equal(Tp("topic", 1), Tp("topic", 3));
        PartitionsOf(result, "consumer2").Should().Equal(Tp("topic", 2));
        PartitionsOf(result, "consumer3").Should().BeEmpty();
    }

    [Fact]
    public void AssignorWithOldVersionSubscriptions()
    {
        var v1 = new Subscription(["topic1"]) { OwnedPartitions = [Tp("topic1", 0)], UserData = StickyUserData.WriteGeneration(Generation) };
        var v1b = new Subscription(["topic1"]) { OwnedPartitions = [Tp("topic1", 1)], UserData = StickyUserData.WriteGeneration(Generation) };
        var subscriptions = new Dictionary<string, Subscription>
        {
            ["consumer1"] = ConsumerProtocol.DeserializeSubscription(ConsumerProtocol.SerializeSubscription(v1, 1)),
            ["consumer2"] = ConsumerProtocol.DeserializeSubscription(ConsumerProtocol.SerializeSubscription(v1b, 1)),
            ["consumer3"] = Owning(["topic1"]),
        };

        var result = new CooperativeStickyAssignor().Assign(Topics(("topic1", 3)), subscriptions);

        PartitionsOf(result, "consumer1").Should().Equal(Tp("topic1", 0));
        PartitionsOf(result, "consumer2").Should().Equal(Tp("topic1", 1));
        PartitionsOf(result, "consumer3").Should().Equal(Tp("topic1", 2));
    }
}
