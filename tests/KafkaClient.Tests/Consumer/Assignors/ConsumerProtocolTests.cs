using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using KafkaClient.Errors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class ConsumerProtocolTests
{
    private static readonly Subscription Full = new(["t1", "t0"])
    {
        UserData = new byte[] { 1, 2, 3 },
        OwnedPartitions = [Tp("t1", 0), Tp("t0", 2), Tp("t0", 1)],
        GenerationId = 7,
        RackId = "rack-a",
    };

    [Fact]
    public void Subscription_v0_golden_bytes()
    {
        // int16 version 0, [topics] sorted, nullable bytes user data.
        byte[] expected =
        [
            0x00, 0x00,             // version 0
            0x00, 0x00, 0x00, 0x02, // 2 topics
            0x00, 0x02, (byte)'t', (byte)'0',
            0x00, 0x02, (byte)'t', (byte)'1',
            0x00, 0x00, 0x00, 0x02, 0xAB, 0xCD, // user data, 2 bytes
        ];
        var subscription = new Subscription(["t1", "t0"]) { UserData = new byte[] { 0xAB, 0xCD } };

        ConsumerProtocol.SerializeSubscription(subscription, version: 0).Should().Equal(expected);

        var decoded = ConsumerProtocol.DeserializeSubscription(expected, out short version);
        version.Should().Be(0);
        decoded.Topics.Should().Equal("t0", "t1");
        decoded.UserData!.Value.ToArray().Should().Equal(0xAB, 0xCD);
        decoded.OwnedPartitions.Should().BeEmpty();
        decoded.GenerationId.Should().Be(-1);
        decoded.RackId.Should().BeNull();
    }

    [Fact]
    public void Assignment_v0_golden_bytes()
    {
        byte[] expected =
        [
            0x00, 0x00,             // version 0
            0x00, 0x00, 0x00, 0x01, // 1 topic
            0x00, 0x02, (byte)'t', (byte)'0',
            0x00, 0x00, 0x00, 0x02, // 2 partitions
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x02,
            0xFF, 0xFF, 0xFF, 0xFF, // null user data
        ];
        var assignment = new Assignment([Tp("t0", 0), Tp("t0", 2)]);

        ConsumerProtocol.SerializeAssignment(assignment, version: 0).Should().Equal(expected);

        var decoded = ConsumerProtocol.DeserializeAssignment(expected);
        decoded.Partitions.Should().Equal(Tp("t0", 0), Tp("t0", 2));
        decoded.UserData.Should().BeNull();
    }

    [Fact]
    public void Subscription_v3_golden_bytes_with_owned_partitions_generation_and_rack()
    {
        byte[] expected =
        [
            0x00, 0x03,
            0x00, 0x00, 0x00, 0x01, 0x00, 0x02, (byte)'t', (byte)'0',
            0xFF, 0xFF, 0xFF, 0xFF,                         // null user data
            0x00, 0x00, 0x00, 0x01, 0x00, 0x02, (byte)'t', (byte)'0', // owned: t0
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, // [1, 3]
            0x00, 0x00, 0x00, 0x05,                         // generation 5
            0x00, 0x01, (byte)'r',                          // rack "r"
        ];
        var subscription = new Subscription(["t0"]) { OwnedPartitions = [Tp("t0", 3), Tp("t0", 1)], GenerationId = 5, RackId = "r" };

        ConsumerProtocol.SerializeSubscription(subscription).Should().Equal(expected);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Subscription_round_trips_keeping_exactly_the_fields_of_its_version(short version)
    {
        var bytes = ConsumerProtocol.SerializeSubscription(Full, version);
        var decoded = ConsumerProtocol.DeserializeSubscription(bytes, out short read);

        read.Should().Be(version);
        decoded.Topics.Should().Equal("t0", "t1");
        decoded.UserData!.Value.ToArray().Should().Equal(1, 2, 3);
        decoded.OwnedPartitions.Should().Equal(version >= 1 ? [Tp("t0", 1), Tp("t0", 2), Tp("t1", 0)] : Array.Empty<TopicPartition>());
        decoded.GenerationId.Should().Be(version >= 2 ? 7 : -1);
        decoded.RackId.Should().Be(version >= 3 ? "rack-a" : null);
        decoded.GroupInstanceId.Should().BeNull();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Assignment_round_trips_at_every_version_grouping_partitions_by_topic(short version)
    {
        var assignment = new Assignment([Tp("b", 1), Tp("a", 0), Tp("b", 0)], new byte[] { 9 });

        var decoded = ConsumerProtocol.DeserializeAssignment(ConsumerProtocol.SerializeAssignment(assignment, version));

        decoded.Partitions.Should().Equal(Tp("b", 1), Tp("b", 0), Tp("a", 0));
        decoded.UserData!.Value.ToArray().Should().Equal(9);
    }

    [Fact]
    public void The_newest_version_is_written_by_default()
    {
        ConsumerProtocol.SerializeSubscription(Full).AsSpan(0, 2).ToArray().Should().Equal(0x00, 0x03);
        ConsumerProtocol.SerializeAssignment(new Assignment([])).AsSpan(0, 2).ToArray().Should().Equal(0x00, 0x03);
    }

    [Fact]
    public void A_newer_subscription_version_is_read_as_the_newest_known_ignoring_appended_fields()
    {
        var v3 = ConsumerProtocol.SerializeSubscription(Full);
        byte[] v9 = [0x00, 0x09, .. v3.AsSpan(2), 0xDE, 0xAD, 0xBE, 0xEF];

        var decoded = ConsumerProtocol.DeserializeSubscription(v9, out short version);

        version.Should().Be(9);
        decoded.Topics.Should().Equal("t0", "t1");
        decoded.OwnedPartitions.Should().HaveCount(3);
        decoded.GenerationId.Should().Be(7);
        decoded.RackId.Should().Be("rack-a");
    }

    [Fact]
    public void A_newer_assignment_version_is_read_as_the_newest_known_ignoring_appended_fields()
    {
        var v3 = ConsumerProtocol.SerializeAssignment(new Assignment([Tp("t", 4)]));
        byte[] v4 = [0x00, 0x04, .. v3.AsSpan(2), 0x00, 0x01];

        ConsumerProtocol.DeserializeAssignment(v4).Partitions.Should().Equal(Tp("t", 4));
    }

    [Fact]
    public void Older_readers_fields_come_first_so_a_v3_subscription_starts_like_a_v0_one()
    {
        var v0 = ConsumerProtocol.SerializeSubscription(Full, 0);
        var v3 = ConsumerProtocol.SerializeSubscription(Full, 3);

        v3.AsSpan(2, v0.Length - 2).ToArray().Should().Equal(v0.AsSpan(2).ToArray());
    }

    [Fact]
    public void Empty_rack_reads_as_no_rack_as_in_java()
    {
        var bytes = ConsumerProtocol.SerializeSubscription(new Subscription(["t"]) { RackId = "" });

        ConsumerProtocol.DeserializeSubscription(bytes).RackId.Should().BeNull();
    }

    [Fact]
    public void Zero_assignment_bytes_mean_an_empty_assignment()
    {
        ConsumerProtocol.DeserializeAssignment(ReadOnlyMemory<byte>.Empty).Partitions.Should().BeEmpty();
    }

    [Fact]
    public void Negative_versions_and_truncated_bytes_are_protocol_errors()
    {
        var bytes = ConsumerProtocol.SerializeSubscription(Full);
        byte[] negative = [0xFF, 0xFF, .. bytes.AsSpan(2)];

        FluentActions.Invoking(() => ConsumerProtocol.DeserializeSubscription(negative)).Should().Throw<KafkaProtocolException>();
        FluentActions.Invoking(() => ConsumerProtocol.DeserializeAssignment(new byte[] { 0xFF, 0xFE })).Should().Throw<KafkaProtocolException>();
        for (int length = 0; length < bytes.Length; length++)
        {
            // Cutting anywhere leaves a field short.
            var cut = bytes.AsMemory(0, length);
            FluentActions.Invoking(() => ConsumerProtocol.DeserializeSubscription(cut)).Should().Throw<KafkaProtocolException>();
        }
        var assignment = ConsumerProtocol.SerializeAssignment(new Assignment([Tp("t", 1)]));
        FluentActions.Invoking(() => ConsumerProtocol.DeserializeAssignment(assignment.AsMemory(0, assignment.Length - 1)))
            .Should().Throw<KafkaProtocolException>();
    }

    [Fact]
    public void Writing_an_unknown_version_is_refused()
    {
        FluentActions.Invoking(() => ConsumerProtocol.SerializeSubscription(Full, 4)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => ConsumerProtocol.SerializeAssignment(new Assignment([]), -1)).Should().Throw<ArgumentOutOfRangeException>();
    }
}
