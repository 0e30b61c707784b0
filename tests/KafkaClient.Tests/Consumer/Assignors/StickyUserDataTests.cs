using FluentAssertions;
using KafkaClient.Consumer.Assignors;
using static KafkaClient.Tests.Consumer.Assignors.AssignorTestHelpers;

namespace KafkaClient.Tests.Consumer.Assignors;

public sealed class StickyUserDataTests
{
    [Fact]
    public void Sticky_user_data_golden_bytes_match_javas_sticky_assignor_v1_schema()
    {
        // STICKY_ASSIGNOR_USER_DATA_V1: previous_assignment [topic STRING, partitions [INT32]], generation INT32.
        byte[] expected =
        [
            0x00, 0x00, 0x00, 0x01,                     // 1 topic
            0x00, 0x02, (byte)'t', (byte)'0',
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // [0, 1]
            0x00, 0x00, 0x00, 0x03,                     // generation 3
        ];

        var userData = new StickyAssignor().GetSubscriptionUserData(new MemberState(["t0"], [Tp("t0", 0), Tp("t0", 1)], 3));

        userData!.Value.ToArray().Should().Equal(expected);
        var read = StickyUserData.ReadPreviousAssignment(expected);
        read.Partitions.Should().Equal(Tp("t0", 0), Tp("t0", 1));
        read.Generation.Should().Be(3);
    }

    [Fact]
    public void Sticky_sends_no_user_data_before_its_first_assignment()
    {
        new StickyAssignor().GetSubscriptionUserData(new MemberState(["t0"], null, -1)).Should().BeNull();
    }

    [Fact]
    public void Sticky_v0_user_data_without_generation_is_read_with_an_unknown_generation()
    {
        byte[] v0 = [0x00, 0x00, 0x00, 0x01, 0x00, 0x01, (byte)'t', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04];

        var read = StickyUserData.ReadPreviousAssignment(v0);

        read.Partitions.Should().Equal(Tp("t", 4));
        read.Generation.Should().BeNull();
    }

    [Fact]
    public void Unreadable_sticky_user_data_is_ignored_with_generation_minus_one_and_missing_data_means_no_history()
    {
        var garbage = StickyUserData.ReadPreviousAssignment(new byte[] { 0x00, 0x00, 0x00, 0x09, 0x01 });
        garbage.Partitions.Should().BeEmpty();
        garbage.Generation.Should().Be(-1);

        StickyUserData.ReadPreviousAssignment(null).Generation.Should().BeNull();
        StickyUserData.ReadPreviousAssignment(ReadOnlyMemory<byte>.Empty).Generation.Should().BeNull();
    }

    [Fact]
    public void Cooperative_sticky_user_data_is_the_int32_generation()
    {
        var assignor = new CooperativeStickyAssignor();

        assignor.GetSubscriptionUserData(new MemberState(["t"], null, -1))!.Value.ToArray().Should().Equal(0xFF, 0xFF, 0xFF, 0xFF);
        assignor.GetSubscriptionUserData(new MemberState(["t"], [], 258))!.Value.ToArray().Should().Equal(0x00, 0x00, 0x01, 0x02);
        StickyUserData.ReadGeneration(new byte[] { 0x00, 0x00, 0x01, 0x02 }).Should().Be(258);
        StickyUserData.ReadGeneration(new byte[] { 0x01 }).Should().Be(-1);
        StickyUserData.ReadGeneration(null).Should().BeNull();
    }
}
