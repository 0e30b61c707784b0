using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing;

/// <summary>One request an embedded broker handled: see <see cref="EmbeddedKafkaCluster.RequestHandled"/>.</summary>
public sealed class EmbeddedRequestEventArgs : EventArgs
{
    /// <summary>The broker that handled it.</summary>
    public required int BrokerId { get; init; }

    /// <summary>The request header as sent (API key and version, correlation id, client id).</summary>
    public required RequestHeader Header { get; init; }

    /// <summary>The API.</summary>
    public ApiKey ApiKey => (ApiKey)Header.RequestApiKey;

    /// <summary>The client id from the header (Java's <c>client.id</c>), or null when the client sent none.</summary>
    public string? ClientId => Header.ClientId;

    /// <summary>The decoded request.</summary>
    public required IKafkaRequest Request { get; init; }

    /// <summary>The response about to be written, or null when none is sent (Produce with acks=0, a dropped connection).</summary>
    public required IKafkaResponse? Response { get; init; }

    /// <summary>When the broker started handling it (the cluster's <see cref="EmbeddedKafkaClusterOptions.TimeProvider"/>).</summary>
    public required DateTimeOffset ReceivedAt { get; init; }
}
