using System.Security.Authentication;
using FluentAssertions;
using KafkaClient.Network;
using KafkaClient.Network.Sasl;
using Xunit;

namespace KafkaClient.Tests.Sasl;

public sealed class SaslOptionsTests
{
    private const string Secret = "Hunter2-Top-Secret";

    [Fact]
    public void Defaults_are_documented_values()
    {
        var options = new SaslOptions();
        options.Mechanism.Should().Be(SaslMechanism.Plain);
        options.Username.Should().BeNull();
        options.Password.Should().BeNull();
        options.OAuthBearerTokenProvider.Should().BeNull();
        options.Extensions.Should().BeNull();
    }

    [Fact]
    public void ToString_never_shows_the_password_or_extension_values()
    {
        var options = new SaslOptions
        {
            Mechanism = SaslMechanism.ScramSha512,
            Username = "alice",
            Password = Secret,
            Extensions = new Dictionary<string, string> { ["tokenauth"] = "true", ["secretish"] = Secret },
        };

        string text = options.ToString();

        text.Should().NotContain(Secret)
            .And.Contain("Mechanism = ScramSha512")
            .And.Contain("Username = alice")
            .And.Contain("Password = ***")
            .And.Contain("Extensions = [secretish, tokenauth]");
        (options with { Password = null }).ToString().Should().Contain("Password = null");
    }

    [Fact]
    public void ToString_does_not_call_the_token_provider()
    {
        bool called = false;
        var options = new SaslOptions
        {
            Mechanism = SaslMechanism.OAuthBearer,
            OAuthBearerTokenProvider = _ =>
            {
                called = true;
                return ValueTask.FromResult(new OAuthBearerToken("abc", DateTimeOffset.UtcNow, "p"));
            },
        };
        options.ToString().Should().Contain("OAuthBearerTokenProvider = set");
        called.Should().BeFalse();
    }

    [Theory]
    [InlineData(SaslMechanism.Plain, "PLAIN")]
    [InlineData(SaslMechanism.ScramSha256, "SCRAM-SHA-256")]
    [InlineData(SaslMechanism.ScramSha512, "SCRAM-SHA-512")]
    [InlineData(SaslMechanism.OAuthBearer, "OAUTHBEARER")]
    public void Factory_creates_the_configured_mechanism(SaslMechanism mechanism, string name)
    {
        var options = new SaslOptions
        {
            Mechanism = mechanism,
            Username = "alice",
            Password = Secret,
            OAuthBearerTokenProvider = _ => ValueTask.FromResult(new OAuthBearerToken("abc", DateTimeOffset.UtcNow, "p")),
        };
        ISaslAuthenticator authenticator = SaslAuthenticatorFactory.Create(options);
        authenticator.MechanismName.Should().Be(name);
        authenticator.IsComplete.Should().BeFalse();
    }

    [Theory]
    [InlineData(SaslMechanism.Plain, null, Secret, "Username")]
    [InlineData(SaslMechanism.Plain, "", Secret, "Username")]
    [InlineData(SaslMechanism.ScramSha256, "alice", null, "Password")]
    [InlineData(SaslMechanism.ScramSha512, null, null, "Username")]
    [InlineData(SaslMechanism.OAuthBearer, "alice", Secret, "OAuthBearerTokenProvider")]
    public void Factory_names_the_missing_property(SaslMechanism mechanism, string? username, string? password, string property)
    {
        var options = new SaslOptions { Mechanism = mechanism, Username = username, Password = password };
        Action act = () => SaslAuthenticatorFactory.Validate(options);
        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain(property).And.NotContain(Secret);
    }

    [Fact]
    public void Factory_refuses_extensions_with_plain_and_unknown_mechanisms()
    {
        var plain = new SaslOptions { Username = "a", Password = Secret, Extensions = new Dictionary<string, string> { ["x"] = "y" } };
        Action withExtensions = () => SaslAuthenticatorFactory.Create(plain);
        withExtensions.Should().Throw<ArgumentException>();

        Action unknown = () => SaslAuthenticatorFactory.Create(plain with { Mechanism = (SaslMechanism)42, Extensions = null });
        unknown.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Factory_errors_about_bad_credentials_do_not_echo_the_password()
    {
        var options = new SaslOptions { Username = "alice", Password = Secret + "\0" };
        Action act = () => SaslAuthenticatorFactory.Create(options);
        act.Should().Throw<ArgumentException>().Which.ToString().Should().NotContain(Secret);
    }

    [Fact]
    public void Tls_defaults_validate_servers_and_leave_protocols_to_the_os()
    {
        var tls = new TlsOptions();
        tls.Enabled.Should().BeFalse();
        tls.VerifyHostName.Should().BeTrue();
        tls.TargetHost.Should().BeNull();
        tls.CaCertificates.Should().BeNull();
        tls.ClientCertificates.Should().BeNull();
        tls.ServerCertificateValidation.Should().BeNull();
        tls.CheckCertificateRevocation.Should().BeFalse();
        tls.EnabledSslProtocols.Should().Be(SslProtocols.None);
    }

    [Fact]
    public void Tls_ToString_lists_certificate_subjects()
    {
        using var ca = TestCertificates.CreateAuthority("CN=Options Test CA");
        var tls = new TlsOptions { Enabled = true, CaCertificates = [ca], ServerCertificateValidation = (_, _, _, _) => true };
        tls.ToString().Should().Be(
            "TlsOptions { Enabled = True, TargetHost = null, VerifyHostName = True, CaCertificates = [CN=Options Test CA], "
            + "ClientCertificates = null, ServerCertificateValidation = set, CheckCertificateRevocation = False, EnabledSslProtocols = None }");
    }
}
