using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Tests.Protocol;

public sealed class CodecSemanticsTests
{
    [Fact]
    public void A_non_ignorable_field_the_version_cannot_carry_is_an_error()
    {
        // ProduceRequest.TransactionalId exists from v3 on; v3 is the lowest, so use a field added later:
        // MetadataRequest.IncludeTopicAuthorizedOperations is v8+ and not ignorable.
        var request = new MetadataRequest { IncludeTopicAuthorizedOperations = true, Topics = null };
        var act = () => MessageRoundTripTests.Write(request, 7);
        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(ErrorCode.UnsupportedVersion);
        MessageRoundTripTests.Write(request, 8).Should().NotBeEmpty();
    }

    [Fact]
    public void An_ignorable_field_the_version_cannot_carry_is_dropped()
    {
        var header = new RequestHeader { RequestApiKey = 18, RequestApiVersion = 0, CorrelationId = 7, ClientId = "me" };
        var bytes = MessageRoundTripTests.Write(header, 0);
        bytes.Should().Equal(0, 18, 0, 0, 0, 0, 0, 7);
    }

    [Fact]
    public void Null_in_a_non_nullable_field_is_an_error()
    {
        var request = new ProduceRequest { TopicData = null! };
        var act = () => MessageRoundTripTests.Write(request, 9);
        act.Should().Throw<Exception>();
    }

    [Fact]
    public void Unknown_tagged_fields_are_preserved_not_rejected()
    {
        var response = new ApiVersionsResponse
        {
            ErrorCode = 0,
            UnknownTaggedFields = [new RawTaggedField(77, new byte[] { 9, 9 })],
        };
        var bytes = MessageRoundTripTests.Write(response, 3);
        var reader = new ProtocolReader(bytes);
        var read = ApiVersionsResponse.Read(ref reader, 3);
        read.UnknownTaggedFields.Should().ContainSingle().Which.Tag.Should().Be(77);
        read.UnknownTaggedFields![0].Data.ToArray().Should().Equal(9, 9);
    }

    [Fact]
    public void Known_tagged_fields_are_written_only_when_not_default()
    {
        var withDefault = new ApiVersionsResponse();
        var withTag = new ApiVersionsResponse { ZkMigrationReady = true };
        MessageRoundTripTests.Write(withTag, 3).Length.Should().Be(MessageRoundTripTests.Write(withDefault, 3).Length + 3);
    }

    [Fact]
    public void Versions_marked_unstable_are_not_the_default_highest()
    {
        KafkaApis.All.Should().Contain(api => api.HighestStableVersion < api.HighestVersion);
        var listOffsets = KafkaApis.All.Single(a => a.Key == ApiKey.ListOffsets);
        listOffsets.HighestStableVersion.Should().Be(listOffsets.HighestVersion, "the spec marks ListOffsets' newest version stable");
        var shareFetch = KafkaApis.All.Single(a => a.Key == ApiKey.ShareFetch);
        shareFetch.HighestStableVersion.Should().BeLessThan(shareFetch.LowestVersion, "ShareFetch has only an unstable version, so nothing is negotiable by default");
        var produce = KafkaApis.All.Single(a => a.Key == ApiKey.Produce);
        produce.HighestStableVersion.Should().Be(produce.HighestVersion);
    }

    [Fact]
    public void Api_versions_responses_always_use_response_header_v0()
    {
        new ApiVersionsRequest().ResponseHeaderVersion(3).Should().Be(0);
        new MetadataRequest().ResponseHeaderVersion(12).Should().Be(1);
        new MetadataRequest().ResponseHeaderVersion(8).Should().Be(0);
        new MetadataRequest().RequestHeaderVersion(12).Should().Be(2);
    }
}
