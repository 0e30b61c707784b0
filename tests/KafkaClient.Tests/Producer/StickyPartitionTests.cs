using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Tests.Producer;

/// <summary>The uniform sticky partitioner counts what records really add to their batch, and moves on at a batch boundary.</summary>
public sealed class StickyPartitionTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    [Fact]
    public void The_bytes_reported_per_append_add_up_to_the_encoded_batch_headers_and_varints_included()
    {
        var accumulator = new RecordAccumulator(batchSize: 1 << 20, TimeSpan.Zero, 1_000, CompressionType.None, null, 1 << 24);
        var headers = new[] { new RecordHeader("trace-id", new byte[40]), new RecordHeader("ünïcödé-key", (byte[]?)null), new RecordHeader("big", new byte[300]) };
        long total = 0;
        for (int i = 0; i < 200; i++)
        {
            // Varied sizes cross varint boundaries (lengths of 63/64 and 8191/8192 bytes, timestamp deltas).
            byte[] value = new byte[i % 3 == 0 ? 8_200 : i * 7 % 130];
            NullableBytes key = i % 2 == 0 ? NullableBytes.Null : new byte[i % 70];
            var recordHeaders = i % 4 == 0 ? headers.AsSpan() : default;
            accumulator.Append(P0, 1_700_000_000_000 + i * 1_000L, key, value, recordHeaders, new DeliveryEntry(null, "m", 0), now: 0, out int appended, out bool full);
            appended.Should().BeGreaterThan(value.Length);
            full.Should().BeFalse();
            total += appended;
        }

        var batch = accumulator.Drain(now: 0, out _).Should().ContainSingle().Subject;
        batch.Writer.Finish().Length.Should().Be((int)total, "the appended bytes are exactly what the batch holds, its header counted once");
    }

    [Fact]
    public void A_record_that_opens_a_batch_also_counts_the_batch_header_and_a_batch_without_room_for_another_is_full()
    {
        var accumulator = new RecordAccumulator(batchSize: 500, TimeSpan.Zero, 1_000, CompressionType.None, null, 1 << 24);
        var entry = new DeliveryEntry(null, "m", 0);

        accumulator.Append(P0, 0, NullableBytes.Null, new byte[100], default, entry, 0, out int first, out bool firstFull);
        accumulator.Append(P0, 0, NullableBytes.Null, new byte[100], default, entry, 0, out int second, out bool secondFull);
        accumulator.Append(P0, 0, NullableBytes.Null, new byte[100], default, entry, 0, out int third, out bool thirdFull);
        accumulator.Append(P0, 0, NullableBytes.Null, new byte[100], default, entry, 0, out int fourth, out bool fourthFull);

        (first - second).Should().Be(RecordBatchWriter.BatchHeaderSize, "the same record adds the batch header when it opens the batch");
        third.Should().Be(second);
        // 61 + 3 x 108 = 385: another 108 still fits in 500; after the fourth (493) none does.
        (firstFull, secondFull, thirdFull).Should().Be((false, false, false));
        fourthFull.Should().BeTrue("no record of this size fits any more");
        fourth.Should().Be(second);
    }

    [Fact]
    public void It_stays_on_one_partition_until_its_batch_is_as_full_as_a_batch_worth_of_bytes_allows()
    {
        var choice = new StickyPartitionChoice(batchSize: 1_000, new Random(7));
        int partition = choice.Choose(6);

        choice.OnAppended(partition, 6, 300, batchFull: false);
        choice.OnAppended(partition, 6, 300, batchFull: false);
        choice.OnAppended(partition, 6, 300, batchFull: false);
        choice.Choose(6).Should().Be(partition, "another 300 bytes fit in the batch");
        choice.OnAppended(partition, 6, 60, batchFull: true);

        choice.Choose(6).Should().NotBe(partition, "the batch has no room for another record and another would pass a batch worth of bytes");
    }

    [Fact]
    public void A_part_filled_batch_found_on_the_new_partition_does_not_end_the_stay_early()
    {
        var choice = new StickyPartitionChoice(batchSize: 1_000, new Random(7));
        int partition = choice.Choose(6);

        // The partition's open batch was mostly filled before (keyed records, an earlier stay): it is
        // full after 200 bytes of ours, but a new batch opens there next.
        choice.OnAppended(partition, 6, 200, batchFull: true);

        choice.Choose(6).Should().Be(partition);
    }

    [Fact]
    public void It_moves_after_twice_the_batch_size_in_any_case()
    {
        var choice = new StickyPartitionChoice(batchSize: 1_000, new Random(7));
        int partition = choice.Choose(3);

        choice.OnAppended(partition, 3, 1_500, batchFull: false);
        choice.Choose(3).Should().Be(partition, "the open batch still has room");
        choice.OnAppended(partition, 3, 500, batchFull: false);

        choice.Choose(3).Should().NotBe(partition, "twice the batch size is the limit, as in Java");
    }

    [Fact]
    public void Records_sent_elsewhere_do_not_count()
    {
        var choice = new StickyPartitionChoice(batchSize: 1_000, new Random(7));
        int partition = choice.Choose(4);

        choice.OnAppended((partition + 1) % 4, 4, 5_000, batchFull: true);

        choice.Choose(4).Should().Be(partition);
    }
}
