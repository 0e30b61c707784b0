using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Tests.Protocol;

/// <summary>
/// Truncated and random frames fed to every response decoder must raise
/// <see cref="KafkaProtocolException"/> (or decode), never another exception or a huge allocation.
/// </summary>
public sealed class ResponseDecoderFuzzTests
{
    public static TheoryData<short> ApiKeys()
    {
        var data = new TheoryData<short>();
        foreach (var api in KafkaApis.All)
        {
            data.Add((short)api.Key);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ApiKeys))]
    public void Random_and_truncated_frames_only_raise_protocol_errors(short apiKey)
    {
        var api = KafkaApis.All.Single(a => (short)a.Key == apiKey);
        var random = new Random(apiKey * 7919);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (short version = api.LowestVersion; version <= api.HighestVersion; version++)
        {
            for (int i = 0; i < 60; i++)
            {
                var frame = new byte[random.Next(0, 200)];
                random.NextBytes(frame);
                if (i % 3 == 0)
                {
                    // Mostly small lengths, so decoding gets deep before failing.
                    for (int j = 0; j < frame.Length; j++)
                    {
                        frame[j] = (byte)(frame[j] % 4);
                    }
                }
                Decode(api.Key, frame, version);
            }
        }
        (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore).Should().BeLessThan(256L * 1024 * 1024, "garbage lengths must never turn into huge allocations");
    }

    [Fact]
    public void Every_truncation_of_a_valid_metadata_response_is_a_protocol_error()
    {
        var response = new MetadataResponse
        {
            Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "localhost", Port = 9092 }],
            Topics = [new MetadataResponse.MetadataResponseTopic { Name = "t", Partitions = [new MetadataResponse.MetadataResponsePartition { PartitionIndex = 0, LeaderId = 1, ReplicaNodes = [1], IsrNodes = [1] }] }],
        };
        foreach (short version in new short[] { 4, 9, 12 })
        {
            var bytes = MessageRoundTripTests.Write(response, version);
            for (int cut = 0; cut < bytes.Length; cut++)
            {
                var truncated = bytes.AsMemory(0, cut);
                var act = () =>
                {
                    var reader = new ProtocolReader(truncated);
                    MetadataResponse.Read(ref reader, version);
                };
                act.Should().Throw<KafkaProtocolException>($"v{version} cut at {cut} of {bytes.Length}");
            }
        }
    }

    private static void Decode(ApiKey key, byte[] frame, short version)
    {
        try
        {
            var reader = new ProtocolReader(frame);
            KafkaApis.ReadResponse(key, ref reader, version);
        }
        catch (KafkaProtocolException)
        {
        }
    }
}
