using Microsoft.Extensions.Logging;

namespace KafkaClient.Diagnostics;

/// <summary>Every log message KafkaClient writes, source-generated, with stable event ids.</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Debug, "Connected to {Endpoint} in {ElapsedMs} ms")]
    public static partial void Connected(ILogger logger, string endpoint, long elapsedMs);

    [LoggerMessage(1001, LogLevel.Debug, "Negotiated API versions with {Endpoint}: {ApiCount} APIs (ApiVersions v{Version})")]
    public static partial void Negotiated(ILogger logger, string endpoint, int apiCount, short version);

    [LoggerMessage(1002, LogLevel.Debug, "Broker {Endpoint} rejected ApiVersions v{Version}; retrying with v{Fallback}")]
    public static partial void ApiVersionsFallback(ILogger logger, string endpoint, short version, short fallback);

    [LoggerMessage(1003, LogLevel.Warning, "Connection to {Endpoint} failed: {Reason}")]
    public static partial void ConnectionFailed(ILogger logger, string endpoint, string reason, Exception? exception);

    [LoggerMessage(1004, LogLevel.Debug, "Connection to {Endpoint} closed")]
    public static partial void ConnectionClosed(ILogger logger, string endpoint);

    [LoggerMessage(1005, LogLevel.Warning, "Request {ApiKey} v{Version} to {Endpoint} timed out after {TimeoutMs} ms; closing the connection")]
    public static partial void RequestTimedOut(ILogger logger, string apiKey, short version, string endpoint, long timeoutMs);

    [LoggerMessage(1006, LogLevel.Debug, "SASL {Mechanism} authentication with {Endpoint} succeeded")]
    public static partial void SaslAuthenticated(ILogger logger, string mechanism, string endpoint);

    [LoggerMessage(1100, LogLevel.Debug, "Metadata refreshed from node {NodeId}: {BrokerCount} brokers, {TopicCount} topics, controller {ControllerId}")]
    public static partial void MetadataRefreshed(ILogger logger, int nodeId, int brokerCount, int topicCount, int controllerId);

    [LoggerMessage(1101, LogLevel.Warning, "No known broker answered; bootstrapping again from {BootstrapServers}")]
    public static partial void Rebootstrapping(ILogger logger, string bootstrapServers);

    [LoggerMessage(1102, LogLevel.Debug, "Retrying {Operation} after {DelayMs} ms (attempt {Attempt}): {Reason}")]
    public static partial void Retrying(ILogger logger, string operation, long delayMs, int attempt, string reason);
}
