namespace KafkaClient.Protocol;

/// <summary>A protocol structure that can be written at a given version.</summary>
public interface IProtocolMessage
{
    /// <summary>Writes the structure at <paramref name="version"/>.</summary>
    void Write(ref ProtocolWriter writer, short version);

    /// <summary>The exact number of bytes <see cref="Write"/> produces at <paramref name="version"/>.</summary>
    int ComputeSize(short version);
}

/// <summary>A protocol structure that can also be read at a given version.</summary>
/// <typeparam name="TSelf">The implementing type.</typeparam>
public interface IProtocolMessage<TSelf> : IProtocolMessage
    where TSelf : IProtocolMessage<TSelf>
{
    /// <summary>Reads the structure at <paramref name="version"/>.</summary>
    static abstract TSelf Read(ref ProtocolReader reader, short version);
}

/// <summary>A request body of one Kafka API.</summary>
public interface IKafkaRequest : IProtocolMessage
{
    /// <summary>The API this request belongs to.</summary>
    ApiKey ApiKey { get; }

    /// <summary>The lowest version this codec supports.</summary>
    short LowestVersion { get; }

    /// <summary>The highest version this codec supports.</summary>
    short HighestVersion { get; }

    /// <summary>The highest version negotiated unless the user opts into unstable versions.</summary>
    short HighestStableVersion { get; }

    /// <summary>The request header version used with <paramref name="version"/> of this request.</summary>
    short RequestHeaderVersion(short version);

    /// <summary>The response header version used with <paramref name="version"/> of this request.</summary>
    short ResponseHeaderVersion(short version);
}

/// <summary>A request body whose response type is <typeparamref name="TResponse"/>.</summary>
/// <typeparam name="TResponse">The response type of the API.</typeparam>
public interface IKafkaRequest<TResponse> : IKafkaRequest
    where TResponse : IKafkaResponse<TResponse>
{
}

/// <summary>A response body of one Kafka API.</summary>
public interface IKafkaResponse : IProtocolMessage
{
    /// <summary>The API this response belongs to.</summary>
    ApiKey ApiKey { get; }
}

/// <summary>A response body that can be read at a given version.</summary>
/// <typeparam name="TSelf">The implementing type.</typeparam>
public interface IKafkaResponse<TSelf> : IKafkaResponse, IProtocolMessage<TSelf>
    where TSelf : IKafkaResponse<TSelf>
{
}

/// <summary>What the codec knows of one API: its key, name and version range.</summary>
/// <param name="Key">The API key.</param>
/// <param name="Name">The API name, e.g. <c>Produce</c>.</param>
/// <param name="LowestVersion">The lowest version the codec supports.</param>
/// <param name="HighestVersion">The highest version the codec supports.</param>
/// <param name="HighestStableVersion">The highest version negotiated by default.</param>
/// <param name="FirstFlexibleVersion">The first flexible version, or -1.</param>
public readonly record struct ApiDescriptor(ApiKey Key, string Name, short LowestVersion, short HighestVersion, short HighestStableVersion, short FirstFlexibleVersion);
