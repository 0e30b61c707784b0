using System.Text;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Network.Sasl;
using Xunit;

namespace KafkaClient.Tests.Sasl;

public sealed class OAuthBearerSaslAuthenticatorTests
{
    // A JWT-shaped secret: header.payload.signature.
    private const string TokenValue = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZQ";

    private static readonly DateTimeOffset Expiry = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task Initial_response_carries_the_bearer_token()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        oauth.MechanismName.Should().Be("OAUTHBEARER");

        byte[] message = await oauth.CreateInitialResponseAsync(CancellationToken.None);

        Encoding.UTF8.GetString(message).Should().Be("n,,\u0001auth=Bearer " + TokenValue + "\u0001\u0001");
        oauth.Token!.PrincipalName.Should().Be("alice");
        oauth.IsComplete.Should().BeFalse();
    }

    [Fact]
    public async Task Extensions_are_sent_between_separators_in_key_order()
    {
        var extensions = new Dictionary<string, string> { ["traceId"] = "123", ["logicalCluster"] = "lkc-x y" };
        var oauth = new OAuthBearerSaslAuthenticator(Provider(), extensions);

        byte[] message = await oauth.CreateInitialResponseAsync(CancellationToken.None);

        Encoding.UTF8.GetString(message).Should().Be(
            "n,,\u0001auth=Bearer " + TokenValue + "\u0001logicalCluster=lkc-x y\u0001traceId=123\u0001\u0001");
    }

    [Fact]
    public async Task Empty_server_reply_completes_the_exchange()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        await oauth.CreateInitialResponseAsync(CancellationToken.None);

        oauth.EvaluateChallenge([]).Should().BeNull();
        oauth.IsComplete.Should().BeTrue();

        Action late = () => oauth.EvaluateChallenge([]);
        late.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public async Task Server_error_challenge_is_answered_with_a_lone_separator_then_fails_with_the_status()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        await oauth.CreateInitialResponseAsync(CancellationToken.None);

        byte[]? reply = oauth.EvaluateChallenge(
            """{"status":"invalid_token","scope":"kafka.read","openid-configuration":"https://idp.example/.well-known/openid-configuration"}"""u8);

        reply.Should().Equal(0x01);
        oauth.IsComplete.Should().BeFalse();

        // Kafka's broker then answers SaslAuthenticate with SASL_AUTHENTICATION_FAILED.
        KafkaException failure = oauth.CreateFailure("Authentication failed: invalid_token");
        failure.ErrorCode.Should().Be((ErrorCode)58);
        failure.Message.Should().Contain("OAUTHBEARER").And.Contain("status 'invalid_token'").And.Contain("scope 'kafka.read'")
            .And.Contain("Authentication failed: invalid_token").And.NotContain(TokenValue);
    }

    [Fact]
    public async Task Further_server_data_after_an_error_challenge_fails_with_the_status()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        await oauth.CreateInitialResponseAsync(CancellationToken.None);
        oauth.EvaluateChallenge("""{"status":"insufficient_scope"}"""u8);

        Action act = () => oauth.EvaluateChallenge([]);
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == (ErrorCode)58 && e.Message.Contains("status 'insufficient_scope'") && !e.Message.Contains(TokenValue));
        oauth.IsComplete.Should().BeFalse();
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{\"scope\":\"x\"}", "status 'unknown', scope 'x'")]
    [InlineData("{\"status\":\"bad\\u0007\\ntoken\"}", "status 'bad??token'")]
    [InlineData("{\"status\":42}", "status '42'")]
    public void Error_challenges_are_described_safely(string challenge, string expected)
    {
        OAuthBearerSaslAuthenticator.DescribeServerError(Encoding.UTF8.GetBytes(challenge)).Should().EndWith(expected);
    }

    [Fact]
    public async Task Malformed_error_challenge_still_gets_the_separator_reply()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        await oauth.CreateInitialResponseAsync(CancellationToken.None);
        oauth.EvaluateChallenge("oops"u8).Should().Equal(0x01);
        oauth.CreateFailure(null).Message.Should().Contain("not valid JSON");
    }

    [Fact]
    public async Task Provider_receives_the_cancellation_token_and_cancellation_propagates()
    {
        using var cts = new CancellationTokenSource();
        CancellationToken seen = default;
        var oauth = new OAuthBearerSaslAuthenticator(async ct =>
        {
            seen = ct;
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
            return Token();
        });

        Func<Task> act = async () => await oauth.CreateInitialResponseAsync(cts.Token);
        await act.Should().ThrowAsync<OperationCanceledException>();
        seen.Should().Be(cts.Token);
    }

    [Fact]
    public async Task Provider_that_completes_asynchronously_is_awaited()
    {
        var oauth = new OAuthBearerSaslAuthenticator(async ct =>
        {
            await Task.Delay(10, ct);
            return Token();
        });
        byte[] message = await oauth.CreateInitialResponseAsync(CancellationToken.None);
        Encoding.UTF8.GetString(message).Should().Contain(TokenValue);
    }

    [Fact]
    public async Task Provider_failure_becomes_an_authentication_failure()
    {
        var boom = new InvalidOperationException("identity provider unreachable");
        var oauth = new OAuthBearerSaslAuthenticator(_ => throw boom);

        Func<Task> act = async () => await oauth.CreateInitialResponseAsync(CancellationToken.None);
        var failure = (await act.Should().ThrowAsync<KafkaException>()).Which;
        failure.ErrorCode.Should().Be((ErrorCode)58);
        failure.InnerException.Should().BeSameAs(boom);
    }

    [Fact]
    public async Task Provider_returning_null_is_an_authentication_failure()
    {
        var oauth = new OAuthBearerSaslAuthenticator(_ => ValueTask.FromResult<OAuthBearerToken>(null!));
        Func<Task> act = async () => await oauth.CreateInitialResponseAsync(CancellationToken.None);
        (await act.Should().ThrowAsync<KafkaException>()).Which.ErrorCode.Should().Be((ErrorCode)58);
    }

    [Theory]
    [InlineData("auth", "x")]
    [InlineData("", "x")]
    [InlineData("trace_id", "x")]
    [InlineData("traceId", "")]
    [InlineData("traceId", "a\u0001b")]
    [InlineData("traceId", "caf\u00e9")]
    public void Malformed_extensions_are_rejected(string key, string value)
    {
        var extensions = new Dictionary<string, string> { [key] = value };
        Action act = () => _ = new OAuthBearerSaslAuthenticator(Provider(), extensions);
        act.Should().Throw<ArgumentException>();
    }

    [Fact]
    public async Task Calls_out_of_order_are_refused()
    {
        var oauth = new OAuthBearerSaslAuthenticator(Provider());
        Action early = () => oauth.EvaluateChallenge([]);
        early.Should().Throw<InvalidOperationException>();

        await oauth.CreateInitialResponseAsync(CancellationToken.None);
        Func<Task> twice = async () => await oauth.CreateInitialResponseAsync(CancellationToken.None);
        await twice.Should().ThrowAsync<InvalidOperationException>();
    }

    [Theory]
    [InlineData("")]
    [InlineData("===")]
    [InlineData("has space")]
    [InlineData("abc=def")]
    [InlineData("quote\"d")]
    public void Token_values_that_are_not_b64tokens_are_refused_without_echoing_them(string value)
    {
        Action act = () => _ = new OAuthBearerToken(value, Expiry, "alice");
        act.Should().Throw<ArgumentException>().Which.Message.Should().NotContain(value.Length > 0 ? value : "\u0000");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("a-b.c_d~e+f/g==")]
    [InlineData(TokenValue)]
    public void B64token_values_are_accepted(string value)
    {
        new OAuthBearerToken(value, Expiry, "alice").Value.Should().Be(value);
    }

    [Fact]
    public void Token_ToString_hides_the_value()
    {
        var token = new OAuthBearerToken(TokenValue, Expiry, "alice", Expiry.AddHours(-1));
        string text = token.ToString();
        text.Should().NotContain(TokenValue).And.Contain("alice").And.Contain("2030-01-02T03:04:05").And.Contain("***");
        token.StartTime.Should().Be(Expiry.AddHours(-1));
        token.ExpiresAt.Should().Be(Expiry);
    }

    private static OAuthBearerToken Token() => new(TokenValue, Expiry, "alice");

    private static Func<CancellationToken, ValueTask<OAuthBearerToken>> Provider() => _ => ValueTask.FromResult(Token());
}
