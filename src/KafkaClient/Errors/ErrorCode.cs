namespace KafkaClient.Errors;

/// <summary>Kafka protocol error codes (placeholder subset; the full table is being transcribed).</summary>
public enum ErrorCode : short
{
    /// <summary>The server experienced an unexpected error when processing the request.</summary>
    UnknownServerError = -1,
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>The requested offset is not within the range of offsets maintained by the server.</summary>
    OffsetOutOfRange = 1,
    /// <summary>This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.</summary>
    CorruptMessage = 2,
    /// <summary>The version of API is not supported.</summary>
    UnsupportedVersion = 35,
}

/// <summary>Facts about each <see cref="ErrorCode"/>.</summary>
public static class ErrorCodes
{
    /// <summary>True when an operation failing with this code may succeed if retried.</summary>
    public static bool IsRetriable(ErrorCode code) => code == ErrorCode.CorruptMessage;

    /// <summary>A one-sentence description of the code.</summary>
    public static string Describe(ErrorCode code) => code.ToString();
}
