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

    private static RecordAccumulator Create(int batchSize = 1024, int lingerMs = 10, long buffer = 1 << 20) =>
        new(batchSize, TimeSpan.FromMilliseconds(lingerMs), Frequency, CompressionType.None, null, buffer);

    private static bool Append(RecordAccumulator accumulator, TopicPartition partition, int valueSize, long now) =>
        accumulator.Append(partition, 0, NullableBytes.Null, new byte[valueSize], default, new DeliveryEntry(null, "m", 0), now);

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

    private static readonly ProducerStamp ProducerA = new(1000, 0);
    private static readonly ProducerStamp ProducerB = new(1000, 1);

    private static RecordAccumulator CreateIdempotent(int maxInFlight = 5) =>
        new(150, TimeSpan.Zero, Frequency, CompressionType.None, null, 1 << 20, idempotent: true, maxInFlightPerPartition: maxInFlight);

    /// <summary>Appends <paramref name="batches"/> batches of one record each (records of 100 bytes fill a batch of 150).</summary>
    private static void AppendBatches(RecordAccumulator accumulator, TopicPartition partition, int batches)
    {
        for (int i = 0; i < batches; i++)
        {
            Append(accumulator, partition, 100, now: 0);
        }
    }

    /// <summary>Drains like the sender does: one call, then each batch counts as sent.</summary>
    private static List<ProducerBatch> Send(RecordAccumulator accumulator, ProducerStamp producer, long now = 0)
    {
        var drained = accumulator.Drain(now, producer, out _);
        foreach (var batch in drained)
        {
            batch.Attempts++;
        }
        return drained;
    }

    /// <summary>Sends one batch of <paramref name="partition"/> and acknowledges it (sequence 0), so the broker knows the producer.</summary>
    private static RecordAccumulator Warm(RecordAccumulator accumulator, TopicPartition partition, ProducerStamp producer)
    {
        AppendBatches(accumulator, partition, 1);
        var first = Send(accumulator, producer).Single();
        first.BaseSequence.Should().Be(0);
        accumulator.Complete(first);
        return accumulator;
    }

    [Fact]
    public void An_idempotent_partition_has_up_to_max_in_flight_batches_with_consecutive_sequences()
    {
        var accumulator = Warm(CreateIdempotent(maxInFlight: 5), P0, ProducerA);
        AppendBatches(accumulator, P0, 7);

        var sent = new List<ProducerBatch>();
        for (int i = 0; i < 5; i++)
        {
            sent.Add(Send(accumulator, ProducerA).Should().ContainSingle("one batch per partition per request").Subject);
        }
        Send(accumulator, ProducerA).Should().BeEmpty("five batches of the partition are in flight");
        sent.Select(b => b.BaseSequence).Should().Equal(1, 2, 3, 4, 5);
        sent.Should().OnlyContain(b => b.Producer == ProducerA && b.Writer.ProducerId == ProducerA.Id && b.Writer.BaseSequence == b.BaseSequence);

        accumulator.Complete(sent[0]);
        Send(accumulator, ProducerA).Should().ContainSingle().Which.BaseSequence.Should().Be(6);
    }

    [Fact]
    public void Until_the_broker_acknowledged_a_batch_of_the_producer_a_partition_sends_one_batch_at_a_time()
    {
        // A broker takes any first sequence from a producer it does not know: a second batch
        // written ahead of a failed first one would be accepted out of order.
        var accumulator = CreateIdempotent();
        AppendBatches(accumulator, P0, 3);
        var first = Send(accumulator, ProducerA).Single();
        Send(accumulator, ProducerA).Should().BeEmpty();
        accumulator.Complete(first);
        Send(accumulator, ProducerA).Should().ContainSingle();
        Send(accumulator, ProducerA).Should().ContainSingle("the broker now has the producer's state");
    }

    [Fact]
    public void A_producer_without_idempotence_keeps_one_batch_per_partition_in_flight()
    {
        var accumulator = new RecordAccumulator(150, TimeSpan.Zero, Frequency, CompressionType.None, null, 1 << 20, idempotent: false, maxInFlightPerPartition: 5);
        AppendBatches(accumulator, P0, 3);
        var first = Send(accumulator, ProducerStamp.None).Should().ContainSingle().Subject;
        first.BaseSequence.Should().Be(-1);
        Send(accumulator, ProducerStamp.None).Should().BeEmpty("a retry of the first batch could otherwise be overtaken");
    }

    [Fact]
    public void Batches_behind_a_failed_batch_are_requeued_behind_it_and_resent_with_their_original_sequences()
    {
        var accumulator = Warm(CreateIdempotent(), P0, ProducerA);
        AppendBatches(accumulator, P0, 4);
        var n1 = Send(accumulator, ProducerA).Single();
        var n2 = Send(accumulator, ProducerA).Single();
        var n3 = Send(accumulator, ProducerA).Single();

        // n1 fails with a retriable error; n3 and n2 then come back OUT_OF_ORDER_SEQUENCE_NUMBER
        // (in any order): an earlier batch is unresolved, so neither is a real gap.
        accumulator.HasUnresolvedBefore(n1).Should().BeFalse();
        accumulator.Requeue(n1, retryNotBefore: 0);
        accumulator.HasUnresolvedBefore(n3).Should().BeTrue();
        accumulator.Requeue(n3, retryNotBefore: 0);
        accumulator.HasUnresolvedBefore(n2).Should().BeTrue("n1 waits to be retried");
        accumulator.Requeue(n2, retryNotBefore: 0);

        var retry = Send(accumulator, ProducerA).Should().ContainSingle().Subject;
        retry.Should().BeSameAs(n1);
        retry.BaseSequence.Should().Be(1, "a retry keeps its sequence");
        Send(accumulator, ProducerA).Should().BeEmpty("while a resent batch is in flight the partition sends nothing else");

        accumulator.Complete(n1);
        var next = Send(accumulator, ProducerA).Single();
        next.Should().BeSameAs(n2);
        next.BaseSequence.Should().Be(2);
        Send(accumulator, ProducerA).Should().BeEmpty();
        accumulator.Complete(n2);
        Send(accumulator, ProducerA).Single().Should().BeSameAs(n3);
        accumulator.Complete(n3);

        var fresh = Send(accumulator, ProducerA).Single();
        fresh.BaseSequence.Should().Be(4, "the batch never sent gets the sequence after the retried ones");
        accumulator.IsEmpty.Should().BeFalse();
        accumulator.Complete(fresh);
        accumulator.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void A_retry_waits_until_every_earlier_batch_of_its_partition_is_resolved()
    {
        var accumulator = Warm(CreateIdempotent(), P0, ProducerA);
        AppendBatches(accumulator, P0, 3);
        var n1 = Send(accumulator, ProducerA).Single();
        var n2 = Send(accumulator, ProducerA).Single();

        // n2's response is handled first (it failed), while n1 is still in flight.
        accumulator.Requeue(n2, retryNotBefore: 0);
        Send(accumulator, ProducerA).Should().BeEmpty("n2 must not overtake n1, and nothing may overtake n2");
        accumulator.Complete(n1);
        Send(accumulator, ProducerA).Single().Should().BeSameAs(n2);
    }

    [Fact]
    public void A_refused_batch_with_nothing_unresolved_before_it_is_a_real_gap()
    {
        var accumulator = Warm(CreateIdempotent(), P0, ProducerA);
        AppendBatches(accumulator, P0, 2);
        var n1 = Send(accumulator, ProducerA).Single();
        var n2 = Send(accumulator, ProducerA).Single();
        accumulator.HasUnresolvedBefore(n2).Should().BeTrue();
        accumulator.Complete(n1);
        accumulator.HasUnresolvedBefore(n2).Should().BeFalse("n1 was acknowledged, so the broker's refusal of n2 means its state has a gap");
    }

    [Fact]
    public void After_a_gap_the_partition_waits_for_its_in_flight_batches_then_starts_over_at_zero_under_the_new_epoch()
    {
        var accumulator = Warm(CreateIdempotent(), P0, ProducerA);
        AppendBatches(accumulator, P0, 4);
        var n1 = Send(accumulator, ProducerA).Single();
        var n2 = Send(accumulator, ProducerA).Single();

        // n1 is refused as a real gap: the partition is resequenced; n2 is still in flight.
        accumulator.Resequence(P0, ProducerA);
        accumulator.Requeue(n1, retryNotBefore: 0);
        Send(accumulator, ProducerB).Should().BeEmpty("n2 of the old epoch is still in flight");
        accumulator.HasUnresolvedBefore(n2).Should().BeTrue();
        accumulator.Requeue(n2, retryNotBefore: 0);
        Send(accumulator, ProducerA).Should().BeEmpty("the partition waits for a producer newer than the one that failed");

        var first = Send(accumulator, ProducerB).Single();
        first.Should().BeSameAs(n1);
        (first.BaseSequence, first.Producer).Should().Be((0, ProducerB));
        first.Writer.ProducerEpoch.Should().Be(ProducerB.Epoch);
        Send(accumulator, ProducerB).Should().BeEmpty("the new epoch's first batch goes alone");
        accumulator.Complete(first);
        var second = Send(accumulator, ProducerB).Single();
        second.Should().BeSameAs(n2);
        second.BaseSequence.Should().Be(1);
        Send(accumulator, ProducerB).Single().BaseSequence.Should().Be(2, "retries given new sequences are pipelined like new batches");
    }

    [Fact]
    public void After_an_epoch_bump_other_partitions_retry_under_their_old_epoch_before_starting_the_new_one()
    {
        var accumulator = Warm(CreateIdempotent(), P1, ProducerA);
        AppendBatches(accumulator, P1, 3);
        var q1 = Send(accumulator, ProducerA).Single();
        var q2 = Send(accumulator, ProducerA).Single();

        // The epoch was bumped because of another partition; q1 fails retriably, q2 is still in flight.
        accumulator.Requeue(q1, retryNotBefore: 0);
        var retry = Send(accumulator, ProducerB).Single();
        retry.Should().BeSameAs(q1);
        (retry.Producer, retry.BaseSequence).Should().Be((ProducerA, 1), "the broker can only drop a duplicate of q1 under q1's own epoch and sequence");
        accumulator.Complete(q1);

        Send(accumulator, ProducerB).Should().BeEmpty("q2 of the old epoch is unresolved; sequence 0 of the new epoch must not overtake it");
        accumulator.Complete(q2);
        var fresh = Send(accumulator, ProducerB).Single();
        (fresh.Producer, fresh.BaseSequence).Should().Be((ProducerB, 0));
    }

    [Fact]
    public void A_batch_failed_before_it_was_ever_sent_gives_its_sequences_back()
    {
        var accumulator = CreateIdempotent();
        AppendBatches(accumulator, P0, 2);
        var drained = accumulator.Drain(0, ProducerA, out _).Single();
        drained.BaseSequence.Should().Be(0);
        accumulator.Complete(drained, acknowledged: false); // failed before sending (e.g. AddPartitionsToTxn failed)
        Send(accumulator, ProducerA).Single().BaseSequence.Should().Be(0);
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
    public void A_completed_batch_is_reused_for_any_partition_with_nothing_of_its_past()
    {
        var accumulator = Create(batchSize: 10_000, lingerMs: 0);
        accumulator.Append(P0, 0, NullableBytes.Null, new byte[10], default, new DeliveryEntry(null, "old", 0), now: 0);
        var first = accumulator.Drain(0, out _).Single();
        first.Attempts = 3;
        accumulator.Complete(first);

        accumulator.Append(P1, 0, NullableBytes.Null, new byte[20], default, new DeliveryEntry(null, "new", 0), now: 5);
        var second = accumulator.Drain(5, out _).Single();
        second.Should().BeSameAs(first, "completed batches are pooled");
        second.Partition.Should().Be(P1);
        second.Entries.ToArray().Select(e => e.Message).Should().Equal("new");
        (second.Attempts, second.BaseSequence, second.CreatedTimestamp).Should().Be((0, -1, 5L));
        second.Writer.Finish().Length.Should().BeLessThan(100, "the writer holds only the new record");
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
