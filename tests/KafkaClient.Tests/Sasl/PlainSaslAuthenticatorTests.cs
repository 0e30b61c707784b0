using System.Text;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Network.Sasl;
using Xunit;

namespace KafkaClient.Tests.Sasl;

public sealed class PlainSaslAuthenticatorTests
{
    private const string Secret = "pl41n-S3cret";

    [Fact]
    public async Task Initial_response_is_empty_authzid_NUL_user_NUL_password()
    {
        var plain = new PlainSaslAuthenticator("alice", Secret);
        plain.MechanismName.Should().Be("PLAIN");

        byte[] message = await plain.CreateInitialResponseAsync(CancellationToken.None);

        message.Should().Equal(Encoding.UTF8.GetBytes("\0alice\0" + Secret));
        plain.IsComplete.Should().BeFalse();
        plain.EvaluateChallenge(ReadOnlySpan<byte>.Empty).Should().BeNull();
        plain.IsComplete.Should().BeTrue();
    }

    [Fact]
    public async Task Values_are_utf8_encoded()
    {
        var plain = new PlainSaslAuthenticator("ünï", "pässwörd€");
        byte[] message = await plain.CreateInitialResponseAsync(CancellationToken.None);
        message.Should().Equal([0, .. Encoding.UTF8.GetBytes("ünï"), 0, .. Encoding.UTF8.GetBytes("pässwörd€")]);
    }

    [Fact]
    public async Task Empty_password_is_allowed()
    {
        var plain = new PlainSaslAuthenticator("alice", "");
        (await plain.CreateInitialResponseAsync(CancellationToken.None)).Should().Equal(0, (byte)'a', (byte)'l', (byte)'i', (byte)'c', (byte)'e', 0);
    }

    [Fact]
    public async Task Unexpected_server_data_fails_the_exchange()
    {
        var plain = new PlainSaslAuthenticator("alice", Secret);
        await plain.CreateInitialResponseAsync(CancellationToken.None);

        Action act = () => plain.EvaluateChallenge("surprise"u8);
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == (ErrorCode)58 && !e.Message.Contains(Secret));
        plain.IsComplete.Should().BeFalse();
    }

    [Theory]
    [InlineData("", "pw")]
    [InlineData("al\0ice", "pw")]
    [InlineData("alice", "p\0" + Secret)]
    public void Unencodable_credentials_are_refused_without_echoing_them(string username, string password)
    {
        Action act = () => _ = new PlainSaslAuthenticator(username, password);
        act.Should().Throw<ArgumentException>().Which.Message.Should().NotContain(Secret).And.NotContain("al\0ice");
    }

    [Fact]
    public async Task Calls_out_of_order_are_refused()
    {
        var plain = new PlainSaslAuthenticator("alice", Secret);
        Action early = () => plain.EvaluateChallenge([]);
        early.Should().Throw<InvalidOperationException>();

        await plain.CreateInitialResponseAsync(CancellationToken.None);
        Func<Task> twice = async () => await plain.CreateInitialResponseAsync(CancellationToken.None);
        await twice.Should().ThrowAsync<InvalidOperationException>();

        plain.EvaluateChallenge([]);
        Action late = () => plain.EvaluateChallenge([]);
        late.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public async Task Cancelled_token_is_honoured()
    {
        var plain = new PlainSaslAuthenticator("alice", Secret);
        Func<Task> act = async () => await plain.CreateInitialResponseAsync(new CancellationToken(canceled: true));
        await act.Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public void Broker_rejection_names_the_mechanism_not_the_password()
    {
        var plain = new PlainSaslAuthenticator("alice", Secret);
        KafkaException failure = plain.CreateFailure("Authentication failed: Invalid username or password");
        failure.ErrorCode.Should().Be((ErrorCode)58);
        failure.Message.Should().EndWith("SASL authentication with mechanism PLAIN failed: Authentication failed: Invalid username or password.");
        plain.CreateFailure(null).Message.Should().EndWith("SASL authentication with mechanism PLAIN failed.");
    }
}
