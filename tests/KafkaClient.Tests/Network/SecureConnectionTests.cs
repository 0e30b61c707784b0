using System.Security.Cryptography.X509Certificates;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Tests.Sasl;

namespace KafkaClient.Tests.Network;

/// <summary>TLS and SASL through a real socket, against a scripted broker.</summary>
public sealed class SecureConnectionTests
{
    private static readonly X509Certificate2 Authority = TestCertificates.CreateAuthority("CN=KafkaClient Test CA");

    private static KafkaClientOptions Options(string bootstrap) => KafkaClientOptions.Default with
    {
        BootstrapServers = bootstrap,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    [Fact]
    public async Task Tls_with_the_brokers_ca_connects()
    {
        await using var broker = new ScriptedBroker(certificate: TestCertificates.CreateServer(Authority, "localhost"));
        var options = Options(broker.BootstrapServers) with { Tls = new TlsOptions { Enabled = true, CaCertificates = [Authority] } };

        await using var client = await KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        client.Metadata.ClusterId.Should().Be("scripted");
    }

    [Fact]
    public async Task Tls_with_an_untrusted_certificate_is_an_authentication_error()
    {
        var otherAuthority = TestCertificates.CreateAuthority("CN=Someone Else");
        await using var broker = new ScriptedBroker(certificate: TestCertificates.CreateServer(otherAuthority, "localhost"));
        var options = Options(broker.BootstrapServers) with { Tls = new TlsOptions { Enabled = true, CaCertificates = [Authority] } };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        await act.Should().ThrowAsync<KafkaAuthenticationException>();
    }

    [Theory]
    [InlineData(SaslMechanism.Plain, "PLAIN")]
    [InlineData(SaslMechanism.ScramSha256, "SCRAM-SHA-256")]
    [InlineData(SaslMechanism.ScramSha512, "SCRAM-SHA-512")]
    public async Task Sasl_with_the_right_password_authenticates_every_connection(SaslMechanism mechanism, string name)
    {
        await using var broker = new ScriptedBroker(saslMechanism: name);
        var options = Options(broker.BootstrapServers) with { Sasl = new SaslOptions { Mechanism = mechanism, Username = "alice", Password = "secret" } };

        await using var client = await KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);
        await client.SendAsync(new KafkaClient.Protocol.Messages.MetadataRequest { Topics = [] }, 0, ConnectionPurpose.General, TestContext.Current.CancellationToken);

        broker.AuthenticatedConnections.Should().Be(2, "the bootstrap connection and the broker connection both authenticate");
    }

    [Theory]
    [InlineData(SaslMechanism.Plain, "PLAIN")]
    [InlineData(SaslMechanism.ScramSha256, "SCRAM-SHA-256")]
    public async Task A_wrong_password_is_an_authentication_error_that_does_not_leak_the_password(SaslMechanism mechanism, string name)
    {
        await using var broker = new ScriptedBroker(saslMechanism: name);
        var options = Options(broker.BootstrapServers) with { Sasl = new SaslOptions { Mechanism = mechanism, Username = "alice", Password = "wrong-Pa55word" } };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        var thrown = await act.Should().ThrowAsync<KafkaAuthenticationException>();
        thrown.Which.IsRetriable.Should().BeFalse();
        thrown.Which.ToString().Should().NotContain("wrong-Pa55word");
    }

    [Fact]
    public async Task Oauthbearer_authenticates_with_the_token_from_the_provider()
    {
        await using var broker = new ScriptedBroker(saslMechanism: "OAUTHBEARER", password: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.");
        int calls = 0;
        var options = Options(broker.BootstrapServers) with
        {
            Sasl = new SaslOptions
            {
                Mechanism = SaslMechanism.OAuthBearer,
                OAuthBearerTokenProvider = _ =>
                {
                    Interlocked.Increment(ref calls);
                    return ValueTask.FromResult(new OAuthBearerToken("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", DateTimeOffset.UtcNow.AddHours(1), "alice"));
                },
            },
        };

        await using var client = await KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        broker.AuthenticatedConnections.Should().Be(1);
        calls.Should().Be(1);
    }

    [Fact]
    public async Task Oauthbearer_with_a_rejected_token_is_an_authentication_error()
    {
        await using var broker = new ScriptedBroker(saslMechanism: "OAUTHBEARER", password: "the-right-token");
        var options = Options(broker.BootstrapServers) with
        {
            Sasl = new SaslOptions
            {
                Mechanism = SaslMechanism.OAuthBearer,
                OAuthBearerTokenProvider = _ => ValueTask.FromResult(new OAuthBearerToken("a-wrong-token", DateTimeOffset.UtcNow.AddHours(1), "alice")),
            },
        };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<KafkaAuthenticationException>()).Which.ToString().Should().NotContain("a-wrong-token");
    }

    [Fact]
    public async Task A_mechanism_the_broker_does_not_enable_is_refused_clearly()
    {
        await using var broker = new ScriptedBroker(saslMechanism: "SCRAM-SHA-512");
        var options = Options(broker.BootstrapServers) with { Sasl = new SaslOptions { Mechanism = SaslMechanism.Plain, Username = "alice", Password = "secret" } };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<KafkaAuthenticationException>()).Which.Message.Should().Contain("SCRAM-SHA-512");
    }
}
