using Microsoft.Extensions.Logging;

namespace KafkaClient.Testing.Diagnostics;

/// <summary>Every log message the embedded cluster writes, source-generated, with stable event ids (5000-5099).</summary>
internal static partial class Log
{
    [LoggerMessage(5000, LogLevel.Information, "Broker {BrokerId} listening on {Host}:{Port}")]
    public static partial void BrokerStarted(ILogger logger, int brokerId, string host, int port);

    [LoggerMessage(5001, LogLevel.Information, "Broker {BrokerId} stopped")]
    public static partial void BrokerStopped(ILogger logger, int brokerId);

    [LoggerMessage(5002, LogLevel.Debug, "Connection opened: {Connection}")]
    public static partial void ConnectionOpened(ILogger logger, string connection);

    [LoggerMessage(5003, LogLevel.Debug, "Connection closed: {Connection}")]
    public static partial void ConnectionClosed(ILogger logger, string connection);

    [LoggerMessage(5004, LogLevel.Warning, "{Connection}: frame length {Length} is out of range; closing")]
    public static partial void BadFrame(ILogger logger, string connection, int length);

    [LoggerMessage(5005, LogLevel.Warning, "{Connection}: API {ApiKey} v{Version} is not served; closing")]
    public static partial void UnsupportedApi(ILogger logger, string connection, short apiKey, short version);

    [LoggerMessage(5006, LogLevel.Warning, "{Connection}: malformed request API {ApiKey} v{Version}; closing")]
    public static partial void MalformedRequest(ILogger logger, string connection, short apiKey, short version, Exception exception);

    [LoggerMessage(5007, LogLevel.Error, "{Connection}: handler for API {ApiKey} v{Version} failed; answering UNKNOWN_SERVER_ERROR")]
    public static partial void HandlerFailed(ILogger logger, string connection, short apiKey, short version, Exception exception);

    [LoggerMessage(5008, LogLevel.Error, "{Connection}: response to API {ApiKey} v{Version} could not be written; closing")]
    public static partial void ResponseFailed(ILogger logger, string connection, short apiKey, short version, Exception exception);

    [LoggerMessage(5009, LogLevel.Warning, "Broker {BrokerId}: accept loop failed")]
    public static partial void AcceptFailed(ILogger logger, int brokerId, Exception exception);

    [LoggerMessage(5010, LogLevel.Information, "Topic {Topic} created: {Partitions} partitions, replication factor {ReplicationFactor}")]
    public static partial void TopicCreated(ILogger logger, string topic, int partitions, short replicationFactor);

    [LoggerMessage(5011, LogLevel.Debug, "{Connection}: TLS handshake failed; closing")]
    public static partial void TlsHandshakeFailed(ILogger logger, string connection, Exception exception);

    [LoggerMessage(5012, LogLevel.Information, "{Connection}: SASL {Mechanism} authentication failed: {Reason}; closing")]
    public static partial void SaslFailed(ILogger logger, string connection, string mechanism, string reason);

    [LoggerMessage(5013, LogLevel.Warning, "{Connection}: API {ApiKey} sent in SASL state {State} (before authentication); closing")]
    public static partial void RequestBeforeAuthentication(ILogger logger, string connection, short apiKey, string state);
}
