namespace KafkaClient;

/// <summary>What a record's timestamp means, as set in bit 3 of a record batch's attributes.</summary>
public enum TimestampType
{
    /// <summary>The producer's clock when the record was created (the default).</summary>
    CreateTime = 0,

    /// <summary>
    /// The broker's clock when it appended the batch to the log (topic setting
    /// <c>message.timestamp.type=LogAppendTime</c>); every record in the batch then carries the
    /// batch's maximum timestamp.
    /// </summary>
    LogAppendTime = 1,
}
