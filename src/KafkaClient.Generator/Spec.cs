using System.Text.Json;

namespace KafkaClient.Generator;

/// <summary>An inclusive version range as the spec writes it: "0+", "3-7", "5" or "none".</summary>
internal readonly record struct Versions(short Low, short High)
{
    public static readonly Versions None = new(1, 0);

    public bool IsNone => Low > High;

    public bool IsOpenEnded => High == short.MaxValue;

    public static Versions Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text == "none")
        {
            return None;
        }
        text = text.Trim();
        if (text.EndsWith('+'))
        {
            return new Versions(short.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture), short.MaxValue);
        }
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            return new Versions(
                short.Parse(text[..dash], System.Globalization.CultureInfo.InvariantCulture),
                short.Parse(text[(dash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
        short v = short.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return new Versions(v, v);
    }

    public Versions Intersect(Versions other)
    {
        var result = new Versions(Math.Max(Low, other.Low), Math.Min(High, other.High));
        return result.IsNone ? None : result;
    }

    public bool Contains(Versions other) => other.IsNone || (Low <= other.Low && High >= other.High);

    public override string ToString() => IsNone ? "none" : IsOpenEnded ? $"{Low}+" : Low == High ? $"{Low}" : $"{Low}-{High}";
}

internal sealed class FieldSpec
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required Versions Versions { get; init; }
    public required Versions NullableVersions { get; init; }
    public required Versions TaggedVersions { get; init; }
    public int? Tag { get; init; }
    public string? Default { get; init; }
    public bool Ignorable { get; init; }
    public Versions? FlexibleVersionsOverride { get; init; }
    public List<FieldSpec>? Fields { get; init; }

    public bool IsArray => Type.StartsWith("[]", StringComparison.Ordinal);
    public string ElementType => IsArray ? Type[2..] : Type;
    public bool IsTagged => Tag.HasValue;
    public bool IsNullable => !NullableVersions.IsNone;

    public static bool IsPrimitive(string type) => type is "bool" or "int8" or "int16" or "uint16" or "int32" or "uint32"
        or "int64" or "float64" or "string" or "uuid" or "bytes" or "records";

    public bool IsStructType => !IsPrimitive(ElementType);
}

internal sealed class StructSpec
{
    public required string Name { get; init; }
    public required List<FieldSpec> Fields { get; init; }
    public required Versions Versions { get; init; }
}

internal sealed class MessageSpec
{
    public required string FileName { get; init; }
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public short? ApiKey { get; init; }
    public required List<string> Listeners { get; init; }
    public required Versions ValidVersions { get; init; }
    public required Versions FlexibleVersions { get; init; }
    public bool LatestVersionUnstable { get; init; }
    public required List<FieldSpec> Fields { get; init; }
    public required List<StructSpec> CommonStructs { get; init; }

    public static MessageSpec Load(string path)
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        using var document = JsonDocument.Parse(File.ReadAllText(path), options);
        var root = document.RootElement;
        var valid = Versions.Parse(Str(root, "validVersions"));
        return new MessageSpec
        {
            FileName = Path.GetFileName(path),
            Name = Str(root, "name")!,
            Kind = Str(root, "type")!,
            ApiKey = root.TryGetProperty("apiKey", out var key) ? (short)ToInt(key) : null,
            Listeners = root.TryGetProperty("listeners", out var listeners)
                ? listeners.EnumerateArray().Select(l => l.GetString()!).ToList()
                : [],
            ValidVersions = valid,
            FlexibleVersions = Versions.Parse(Str(root, "flexibleVersions")),
            LatestVersionUnstable = root.TryGetProperty("latestVersionUnstable", out var unstable) && unstable.GetBoolean(),
            Fields = ParseFields(root, valid),
            CommonStructs = root.TryGetProperty("commonStructs", out var common)
                ? common.EnumerateArray().Select(s => new StructSpec
                {
                    Name = Str(s, "name")!,
                    Versions = Versions.Parse(Str(s, "versions")).Intersect(valid),
                    Fields = ParseFields(s, valid),
                }).ToList()
                : [],
        };
    }

    private static List<FieldSpec> ParseFields(JsonElement element, Versions valid)
    {
        if (!element.TryGetProperty("fields", out var fields))
        {
            return [];
        }
        var result = new List<FieldSpec>();
        foreach (var f in fields.EnumerateArray())
        {
            var versions = Versions.Parse(Str(f, "versions"));
            var tagged = Versions.Parse(Str(f, "taggedVersions"));
            result.Add(new FieldSpec
            {
                // A few spec fields start in lower case (CreateTopicsRequest.timeoutMs); C# properties are PascalCase.
                Name = Pascal(Str(f, "name")!),
                Type = Str(f, "type")!.Trim(),
                Versions = versions,
                NullableVersions = Versions.Parse(Str(f, "nullableVersions")),
                TaggedVersions = tagged,
                Tag = f.TryGetProperty("tag", out var tag) ? ToInt(tag) : null,
                Default = f.TryGetProperty("default", out var def)
                    ? def.ValueKind == JsonValueKind.String ? def.GetString() : def.GetRawText()
                    : null,
                Ignorable = f.TryGetProperty("ignorable", out var ign) && ign.GetBoolean(),
                FlexibleVersionsOverride = f.TryGetProperty("flexibleVersions", out var flex) ? Versions.Parse(flex.GetString()) : null,
                Fields = f.TryGetProperty("fields", out _) ? ParseFields(f, valid) : null,
            });
        }
        return result;
    }

    internal static string Pascal(string name) => char.ToUpperInvariant(name[0]) + name[1..];

    private static int ToInt(JsonElement e) => e.ValueKind == JsonValueKind.Number
        ? e.GetInt32()
        : int.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText() : null;
}
