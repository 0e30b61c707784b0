namespace KafkaClient.Errors;

/// <summary>Why a record batch was rejected as corrupt.</summary>
public enum CorruptRecordReason
{
    /// <summary>The CRC-32C stored in the batch header does not match the batch's bytes.</summary>
    ChecksumMismatch,

    /// <summary>The compressed records could not be decompressed (malformed or truncated compressed data).</summary>
    InvalidCompressedData,

    /// <summary>
    /// Decompressing the records would exceed the configured maximum decompressed size, a guard against
    /// decompression bombs; raise the limit if such large batches are legitimate.
    /// </summary>
    DecompressedSizeLimitExceeded,
}

/// <summary>
/// A record batch failed an integrity check: its checksum does not match, or its compressed records
/// cannot be decompressed within the allowed size. Not retriable on the same bytes; fetching the
/// batch again may succeed when the corruption happened in transit.
/// </summary>
public sealed class CorruptRecordException : KafkaException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Which check failed.</param>
    /// <param name="message">A description naming the batch and the check.</param>
    /// <param name="innerException">The codec's own error, when there is one.</param>
    public CorruptRecordException(CorruptRecordReason reason, string message, Exception? innerException = null)
        : base(ErrorCode.CorruptMessage, message, isRetriable: false, innerException)
    {
        Reason = reason;
    }

    /// <summary>Which check failed.</summary>
    public CorruptRecordReason Reason { get; }
}
