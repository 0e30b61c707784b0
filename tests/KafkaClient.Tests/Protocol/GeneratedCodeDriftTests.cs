using FluentAssertions;
using KafkaClient.Generator;

namespace KafkaClient.Tests.Protocol;

public sealed class GeneratedCodeDriftTests
{
    [Fact]
    public void Checked_in_messages_match_what_the_generator_produces_from_the_spec()
    {
        Assert.SkipWhen(SpecLocator.SpecDirectory is null, SpecLocator.SkipReason);
        var generated = CodeGenerator.Generate(SpecLocator.SpecDirectory!);
        var folder = Path.Combine(SpecLocator.RepositoryRoot, "src", "KafkaClient", "Protocol", "Messages");
        var checkedIn = Directory.GetFiles(folder, "*.g.cs").Select(Path.GetFileName).ToHashSet();

        checkedIn.Should().BeEquivalentTo(generated.Keys, "every generated file is checked in and nothing stale is left");
        foreach (var (name, content) in generated)
        {
            File.ReadAllText(Path.Combine(folder, name)).Should().Be(content, $"{name} must be regenerated (dotnet run --project src/KafkaClient.Generator -- ../shared/kafka-protocol/messages src/KafkaClient/Protocol/Messages)");
        }
    }

    [Fact]
    public void Every_broker_api_is_generated_with_its_response()
    {
        Assert.SkipWhen(SpecLocator.SpecDirectory is null, SpecLocator.SkipReason);
        var generated = CodeGenerator.Generate(SpecLocator.SpecDirectory!);
        generated.Keys.Count(k => k.EndsWith("Request.g.cs", StringComparison.Ordinal)).Should().Be(74);
        generated.Keys.Count(k => k.EndsWith("Response.g.cs", StringComparison.Ordinal)).Should().Be(74);
        generated.Keys.Should().Contain(["RequestHeader.g.cs", "ResponseHeader.g.cs", "ConsumerProtocolSubscription.g.cs", "ConsumerProtocolAssignment.g.cs"]);
        KafkaClient.Protocol.KafkaApis.All.Should().HaveCount(74);
    }
}
