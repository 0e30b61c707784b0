using System.Buffers;
using System.Collections;
using System.Reflection;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Generator;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Tests.Protocol;

/// <summary>
/// Every generated message at every version it supports, with a non-default value in every field
/// that version carries: written, size-checked, read back and written again byte for byte.
/// Which fields a version carries comes from the spec itself, not from the generated code.
/// </summary>
public sealed class MessageRoundTripTests
{
    public static TheoryData<string> MessageFiles()
    {
        var data = new TheoryData<string>();
        if (SpecLocator.SpecDirectory is null)
        {
            data.Add("(spec missing)");
            return data;
        }
        foreach (var name in CodeGenerator.Generate(SpecLocator.SpecDirectory).Keys.Where(k => !k.StartsWith("ApiKey", StringComparison.Ordinal) && !k.StartsWith("KafkaApis", StringComparison.Ordinal)))
        {
            data.Add(name[..^".g.cs".Length]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MessageFiles))]
    public void Every_version_round_trips_with_every_field_set(string messageName)
    {
        Assert.SkipWhen(SpecLocator.SpecDirectory is null, SpecLocator.SkipReason);
        var spec = MessageSpec.Load(Path.Combine(SpecLocator.SpecDirectory!, messageName + ".json"));
        var type = typeof(ProduceRequest).Assembly.GetType("KafkaClient.Protocol.Messages." + messageName)!;
        type.Should().NotBeNull();
        for (short version = spec.ValidVersions.Low; version <= spec.ValidVersions.High; version++)
        {
            var message = (IProtocolMessage)Activator.CreateInstance(type)!;
            var filler = new Filler(spec, version);
            filler.Fill(message, spec.Fields);
            if (!spec.FlexibleVersions.IsNone && version >= spec.FlexibleVersions.Low)
            {
                SetUnknownTag(message);
            }

            byte[] first = Write(message, version);
            first.Length.Should().Be(message.ComputeSize(version), $"{messageName} v{version} ComputeSize must match the bytes written");
            var read = ReadBack(type, first, version, out int consumed);
            consumed.Should().Be(first.Length, $"{messageName} v{version} reading must consume exactly what was written");
            byte[] second = Write(read, version);
            second.Should().Equal(first, $"{messageName} v{version} must survive a read and a write unchanged");
            filler.FieldsSet.Should().BeGreaterThanOrEqualTo(spec.Fields.Count(f => f.Versions.Low <= version && version <= f.Versions.High));
        }
    }

    private static void SetUnknownTag(IProtocolMessage message)
    {
        var property = message.GetType().GetProperty("UnknownTaggedFields")!;
        property.SetValue(message, new List<RawTaggedField> { new(9_000, new byte[] { 1, 2, 3 }) });
    }

    internal static byte[] Write(IProtocolMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(buffer);
        message.Write(ref writer, version);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static IProtocolMessage ReadBack(Type type, byte[] bytes, short version, out int consumed)
    {
        var method = typeof(MessageRoundTripTests).GetMethod(nameof(ReadGeneric), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type);
        var args = new object[] { bytes, version, 0 };
        var result = (IProtocolMessage)method.Invoke(null, args)!;
        consumed = (int)args[2];
        return result;
    }

    private static T ReadGeneric<T>(byte[] bytes, short version, out int consumed)
        where T : IProtocolMessage<T>
    {
        var reader = new ProtocolReader(bytes);
        var result = T.Read(ref reader, version);
        consumed = reader.Position;
        return result;
    }

    /// <summary>Sets a non-default value in every field the version carries, walking the spec.</summary>
    private sealed class Filler(MessageSpec spec, short version)
    {
        private int _counter = 1;

        public int FieldsSet { get; private set; }

        public void Fill(object target, List<FieldSpec> fields)
        {
            foreach (var field in fields)
            {
                if (field.Versions.IsNone || version < field.Versions.Low || version > field.Versions.High)
                {
                    continue;
                }
                var property = target.GetType().GetProperty(field.Name)
                    ?? throw new InvalidOperationException($"{target.GetType().Name} has no property {field.Name}");
                property.SetValue(target, Value(field, property.PropertyType));
                if (ReferenceEquals(fields, spec.Fields))
                {
                    FieldsSet++;
                }
            }
        }

        private List<FieldSpec> StructFields(FieldSpec field) =>
            field.Fields ?? spec.CommonStructs.Single(s => s.Name == field.ElementType).Fields;

        private object Value(FieldSpec field, Type propertyType)
        {
            if (field.IsArray)
            {
                var list = (IList)Activator.CreateInstance(propertyType)!;
                var elementType = propertyType.GetGenericArguments()[0];
                for (int i = 0; i < 2; i++)
                {
                    list.Add(Element(field, elementType));
                }
                return list;
            }
            var underlying = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
            return Element(field, underlying);
        }

        private object Element(FieldSpec field, Type type)
        {
            int n = _counter++;
            switch (field.ElementType)
            {
                case "bool": return field.Default == "true" ? false : true;
                case "int8": return (sbyte)(10 + n % 100);
                case "int16": return (short)(1000 + n);
                case "uint16": return (ushort)(40000 + n);
                case "int32": return 100_000 + n;
                case "uint32": return 3_000_000_000u + (uint)n;
                case "int64": return 10_000_000_000L + n;
                case "float64": return 0.5 + n;
                case "uuid": return new Guid(n, 2, 3, [4, 5, 6, 7, 8, 9, 10, 11]);
                case "string": return $"{field.Name}-{n}-é";
                case "bytes":
                case "records": return new ReadOnlyMemory<byte>([(byte)n, 0, 255, 7]);
                default:
                    var instance = Activator.CreateInstance(type)!;
                    Fill(instance, StructFields(field));
                    return instance;
            }
        }
    }
}
