using FluentAssertions;
using KafkaClient.Producer;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Tests.Producer;

/// <summary>The accumulator is pure data: time is a number we pass in.</summary>
public sealed class RecordAccumulatorTests
{
    private const long Frequency = 1_000; // one tick per millisecond
    private static readonly TopicPartition P0 = new("t", 0);
    private static readonly TopicPartition P1 = new("t", 1);

    private sealed class Target : DeliveryTarget
    {
        public override void Complete(object message, in DeliveryOutcome outcome)
        {
        }
    }

    private static RecordAccumulator Create(int batchSize = 1024, int lingerMs = 10, long buffer = 1 << 20) =>
        new(batchSize, TimeSpan.FromMilliseconds(lingerMs), Frequency, CompressionType.None, null, buffer);

    private static bool Append(RecordAccumulator accumulator, TopicPartition partition, int valueSize, long now) =>
        accumulator.Append(partition, 0, NullableBytes.Null, new byte[valueSize], default, new DeliveryEntry(new Target(), "m", 0), now);

    /// <summary>Puts a batch of another partition in flight, so the producer is not idle and lingers.</summary>
    private static void KeepBusy(RecordAccumulator accumulator)
    {
        Append(accumulator, new TopicPartition("busy", 0), 10, now: 0);
        accumulator.Drain(0, out _).Should().ContainSingle();
    }

    [Fact]
    public void An_idle_producer_sends_at_once_without_lingering()
    {
        var accumulator = Create(lingerMs: 10_000);
        Append(accumulator, P0, 10, now: 0);
        accumulator.Drain(1, out _).Should().ContainSingle("nothing is in flight, so waiting would only add latency");
    }

    [Fact]
    public void A_batch_is_held_until_linger_passes()
    {
        var accumulator = Create(lingerMs: 10);
        KeepBusy(accumulator);
        Append(accumulator, P0, 10, now: 100).Should().BeTrue("a new batch wakes the sender so it can start the linger clock");
        Append(accumulator, P0, 10, now: 101).Should().BeFalse();

        accumulator.Drain(105, out long next).Should().BeEmpty();
        next.Should().Be(110);
        var drained = accumulator.Drain(110, out _);
        drained.Should().ContainSingle().Which.RecordCount.Should().Be(2);
    }

    [Fact]
    public void A_full_batch_is_sent_without_waiting_for_linger()
    {
        var accumulator = Create(batchSize: 200, lingerMs: 1_000);
        Append(accumulator, P0, 100, now: 0);
        Append(accumulator, P0, 100, now: 0).Should().BeTrue("the batch reached batch size");
        Append(accumulator, P0, 10, now: 0);

        var drained = accumulator.Drain(1, out _);
        drained.Should().ContainSingle().Which.IsClosed.Should().BeTrue();
    }

    [Fact]
    public void Only_one_batch_per_partition_is_in_flight_and_order_is_kept()
    {
        var accumulator = Create(batchSize: 150, lingerMs: 0);
        for (int i = 0; i < 4; i++)
        {
            Append(accumulator, P0, 100, now: 0);
        }
        Append(accumulator, P1, 10, now: 0);

        var first = accumulator.Drain(0, out _);
        first.Select(b => b.Partition).Should().BeEquivalentTo([P0, P1]);
        accumulator.Drain(0, out _).Should().BeEmpty("both partitions have a batch in flight");

        var p0 = first.Single(b => b.Partition == P0);
        accumulator.Complete(p0);
        accumulator.Drain(0, out _).Should().ContainSingle().Which.Partition.Should().Be(P0);
    }

    [Fact]
    public void A_requeued_batch_goes_first_and_waits_for_its_backoff()
    {
        var accumulator = Create(batchSize: 150, lingerMs: 0);
        Append(accumulator, P0, 100, now: 0);
        Append(accumulator, P0, 100, now: 0);
        var first = accumulator.Drain(0, out _).Single();

        accumulator.Requeue(first, retryNotBefore: 50);
        accumulator.Drain(10, out long next).Should().BeEmpty();
        next.Should().Be(50);
        accumulator.Drain(50, out _).Single().Should().BeSameAs(first, "a retry keeps its place ahead of later batches");
    }

    [Fact]
    public void Sequences_are_assigned_once_per_batch_and_restart_after_an_epoch_bump()
    {
        var accumulator = Create(batchSize: 150, lingerMs: 0);
        Append(accumulator, P0, 100, now: 0);
        Append(accumulator, P0, 10, now: 0);
        Append(accumulator, P0, 100, now: 0);
        var first = accumulator.Drain(0, out _).Single();
        accumulator.AssignSequence(first);
        accumulator.AssignSequence(first);
        first.BaseSequence.Should().Be(0);
        accumulator.Complete(first);

        var second = accumulator.Drain(0, out _).Single();
        accumulator.AssignSequence(second);
        second.BaseSequence.Should().Be(first.RecordCount);

        accumulator.ResetSequences();
        second.BaseSequence.Should().Be(-1);
        accumulator.AssignSequence(second);
        second.BaseSequence.Should().Be(0);
    }

    [Fact]
    public void Buffer_space_is_returned_when_batches_complete()
    {
        var accumulator = Create(batchSize: 10_000, lingerMs: 0, buffer: 1_000);
        Append(accumulator, P0, 900, now: 0);
        accumulator.HasRoomFor(200).Should().BeFalse();
        var batch = accumulator.Drain(0, out _).Single();
        accumulator.Complete(batch);
        accumulator.BufferedBytes.Should().Be(0);
        accumulator.HasRoomFor(200).Should().BeTrue();
        accumulator.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void Flush_makes_lingering_batches_sendable_now()
    {
        var accumulator = Create(lingerMs: 10_000);
        KeepBusy(accumulator);
        Append(accumulator, P0, 10, now: 0);
        accumulator.Drain(1, out _).Should().BeEmpty();
        accumulator.BeginFlush();
        accumulator.Drain(1, out _).Should().ContainSingle();
        accumulator.EndFlush();
    }
}
