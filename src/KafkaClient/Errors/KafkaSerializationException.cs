namespace KafkaClient.Errors;

/// <summary>
/// A key or value could not be turned into bytes or back (reported with <see cref="ErrorCode.InvalidRecord"/>). Not retriable: the same bytes fail the same way.
/// A consumer that raises it stays at the record, whose position is in <see cref="Record"/>; seek past it
/// to skip it.
/// </summary>
public sealed class KafkaSerializationException : KafkaException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What could not be (de)serialized and why.</param>
    /// <param name="innerException">The serializer's own exception, if any.</param>
    public KafkaSerializationException(string message, Exception? innerException = null)
        : base(ErrorCode.InvalidRecord, message, isRetriable: false, innerException)
    {
    }

    /// <summary>The record that failed to deserialize, when a consumer raised this; null otherwise.</summary>
    public TopicPartitionOffset? Record { get; init; }
}
