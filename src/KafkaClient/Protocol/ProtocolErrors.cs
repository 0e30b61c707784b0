using KafkaClient.Errors;

namespace KafkaClient.Protocol;

/// <summary>The errors the generated codec raises, built in one place so their types and wording stay consistent.</summary>
public static class ProtocolErrors
{
    /// <summary>A field holds a non-default value that <paramref name="version"/> cannot carry (and the field is not ignorable).</summary>
    public static UnsupportedVersionException FieldNotSupported(string field, short version) =>
        new($"Field {field} holds a non-default value, but version {version} cannot carry it.");

    /// <summary>The codec does not know <paramref name="version"/> of a message.</summary>
    public static UnsupportedVersionException VersionNotSupported(string message, short version) =>
        new($"{message} version {version} is outside the versions this codec supports.");

    /// <summary>A field that cannot be null at <paramref name="version"/> is null.</summary>
    public static KafkaProtocolException NullNotAllowed(string field, short version) =>
        new($"Field {field} is null, but version {version} does not allow a null value.");

    /// <summary>A known tagged field's declared size does not match what its value occupied.</summary>
    public static KafkaProtocolException TaggedFieldSizeMismatch(string field, int declared, int actual) =>
        new($"Tagged field {field} declared {declared} bytes but its value took {actual}.");

    /// <summary>An API key the codec does not know.</summary>
    public static KafkaProtocolException UnknownApiKey(short apiKey) => new($"Unknown API key {apiKey}.");
}
