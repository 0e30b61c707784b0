using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol.Records;
using Xunit;

namespace KafkaClient.Tests.Records;

public sealed class ControlRecordTests
{
    [Theory]
    [InlineData(1, 17)]
    [InlineData(0, -1)]
    public void Transaction_markers_round_trip(short typeId, int coordinatorEpoch)
    {
        var type = (ControlRecordType)typeId;
        using var writer = new RecordBatchWriter { BaseOffset = 90, ProducerId = 1234, ProducerEpoch = 3 };
        writer.AppendEndTransactionMarker(type, coordinatorEpoch, timestampMs: 5_000);

        using var reader = new RecordBatchReader();
        reader.Reset(writer.Finish());
        reader.TryReadBatch(out RecordBatchView batch).Should().BeTrue();
        batch.IsControl.Should().BeTrue();
        batch.IsTransactional.Should().BeTrue();
        batch.ProducerId.Should().Be(1234);
        batch.RecordCount.Should().Be(1);

        int count = 0;
        foreach (RecordView record in reader.ReadRecords(batch))
        {
            record.Offset.Should().Be(90);
            record.Key.ToArray().Should().Equal(0x00, 0x00, 0x00, (byte)type);
            record.Value.ToArray().Should().Equal(
                [0x00, 0x00, (byte)(coordinatorEpoch >> 24), (byte)(coordinatorEpoch >> 16), (byte)(coordinatorEpoch >> 8), (byte)coordinatorEpoch]);
            ControlRecord.ReadType(record).Should().Be(type);
            ControlRecord.ReadEndTransactionMarker(record).Should().Be(new EndTransactionMarker(type, coordinatorEpoch));
            count++;
        }
        count.Should().Be(1);
    }

    [Fact]
    public void Marker_must_be_alone_and_a_commit_or_abort()
    {
        using var writer = new RecordBatchWriter();
        Action leaderChange = () => writer.AppendEndTransactionMarker(ControlRecordType.LeaderChange, 0, 0);
        leaderChange.Should().Throw<ArgumentOutOfRangeException>();

        writer.Append(1, "k"u8, "v"u8);
        Action second = () => writer.AppendEndTransactionMarker(ControlRecordType.Commit, 0, 0);
        second.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Unknown_control_types_are_returned_as_numbers()
    {
        RecordView record = SingleRecord(key: [0x00, 0x00, 0x00, 0x63], value: [0, 0, 0, 0, 0, 0]);
        ((short)ControlRecord.ReadType(record)).Should().Be(99);
        Action act = () => ControlRecord.ReadEndTransactionMarker(record);
        act.Should().Throw<KafkaProtocolException>().WithMessage("*not a transaction marker*");
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x00, 0x01 }, "*3-byte key*")]
    [InlineData(new byte[] { 0xFF, 0xFF, 0x00, 0x01 }, "*invalid key version -1*")]
    public void Malformed_control_keys_are_protocol_errors(byte[] key, string message)
    {
        RecordView record = SingleRecord(key, value: [0, 0, 0, 0, 0, 0]);
        Action act = () => ControlRecord.ReadType(record);
        act.Should().Throw<KafkaProtocolException>().WithMessage(message);
    }

    [Fact]
    public void Null_key_and_short_marker_value_are_protocol_errors()
    {
        RecordView nullKey = SingleRecord(key: null, value: [0, 0, 0, 0, 0, 0]);
        Action readNullKey = () => ControlRecord.ReadType(nullKey);
        readNullKey.Should().Throw<KafkaProtocolException>().WithMessage("*null key*");

        RecordView shortValue = SingleRecord(key: [0, 0, 0, 1], value: [0, 0, 0]);
        Action readShortValue = () => ControlRecord.ReadEndTransactionMarker(shortValue);
        readShortValue.Should().Throw<KafkaProtocolException>().WithMessage("*value of 3 bytes*");
    }

    private static RecordView SingleRecord(byte[]? key, byte[] value)
    {
        var writer = new RecordBatchWriter { IsControl = true };
        writer.Append(0, key, value);
        var reader = new RecordBatchReader();
        reader.Reset(writer.Finish().ToArray());
        reader.TryReadBatch(out RecordBatchView batch).Should().BeTrue();
        foreach (RecordView record in reader.ReadRecords(batch))
        {
            return record; // uncompressed: the view points into the copied array, which stays alive
        }
        throw new InvalidOperationException("no record");
    }
}
