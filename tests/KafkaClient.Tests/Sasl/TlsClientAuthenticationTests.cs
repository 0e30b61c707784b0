using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FluentAssertions;
using KafkaClient.Network;
using Xunit;

namespace KafkaClient.Tests.Sasl;

public sealed class TlsClientAuthenticationTests : IDisposable
{
    private const string BrokerHost = "broker.test";

    private readonly X509Certificate2 _ca = TestCertificates.CreateAuthority("CN=KafkaClient Test CA");
    private readonly X509Certificate2 _otherCa = TestCertificates.CreateAuthority("CN=Some Other CA");
    private readonly X509Certificate2 _server;
    private readonly X509Certificate2 _serverForOtherHost;
    private readonly X509Certificate2 _serverFromOtherCa;

    public TlsClientAuthenticationTests()
    {
        _server = TestCertificates.CreateServer(_ca, BrokerHost);
        _serverForOtherHost = TestCertificates.CreateServer(_ca, "other.test");
        _serverFromOtherCa = TestCertificates.CreateServer(_otherCa, BrokerHost);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        _server.Dispose();
        _serverForOtherHost.Dispose();
        _serverFromOtherCa.Dispose();
    }

    [Fact]
    public void Default_options_keep_the_platform_validation()
    {
        SslClientAuthenticationOptions ssl = TlsClientAuthentication.CreateOptions(new TlsOptions { Enabled = true }, BrokerHost);

        ssl.TargetHost.Should().Be(BrokerHost);
        ssl.RemoteCertificateValidationCallback.Should().BeNull("the platform's own validation applies");
        ssl.CertificateRevocationCheckMode.Should().Be(X509RevocationMode.NoCheck);
        ssl.EnabledSslProtocols.Should().Be(SslProtocols.None);
        ssl.ClientCertificateContext.Should().BeNull();
    }

    [Fact]
    public void Options_are_carried_over()
    {
        var tls = new TlsOptions
        {
            Enabled = true,
            TargetHost = "proxy.example",
            CheckCertificateRevocation = true,
            EnabledSslProtocols = SslProtocols.Tls13,
        };
        SslClientAuthenticationOptions ssl = TlsClientAuthentication.CreateOptions(tls, "10.0.0.1");

        ssl.TargetHost.Should().Be("proxy.example");
        ssl.CertificateRevocationCheckMode.Should().Be(X509RevocationMode.Online);
        ssl.EnabledSslProtocols.Should().Be(SslProtocols.Tls13);
    }

    [Fact]
    public void Custom_ca_chain_evaluation_accepts_a_certificate_it_signed()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };

        // The platform, knowing nothing of the CA, reports a chain error; the custom trust clears it.
        SslPolicyErrors errors = TlsClientAuthentication.EvaluateServerCertificate(
            tls, _server, chain: null, SslPolicyErrors.RemoteCertificateChainErrors, out X509Chain? chain);
        using (chain)
        {
            errors.Should().Be(SslPolicyErrors.None);
            chain!.ChainPolicy.TrustMode.Should().Be(X509ChainTrustMode.CustomRootTrust);
            chain.ChainElements.Count.Should().Be(2);
            chain.ChainElements[1].Certificate.Thumbprint.Should().Be(_ca.Thumbprint);
        }

        TlsClientAuthentication.ValidateServerCertificate(tls, this, _server, null, SslPolicyErrors.RemoteCertificateChainErrors)
            .Should().BeTrue();
        // The configured CA survives repeated validations.
        TlsClientAuthentication.ValidateServerCertificate(tls, this, _server, null, SslPolicyErrors.RemoteCertificateChainErrors)
            .Should().BeTrue();
    }

    [Fact]
    public void Custom_ca_chain_evaluation_rejects_a_certificate_from_another_ca()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };

        SslPolicyErrors errors = TlsClientAuthentication.EvaluateServerCertificate(
            tls, _serverFromOtherCa, chain: null, SslPolicyErrors.None, out X509Chain? chain);
        chain?.Dispose();

        errors.Should().Be(SslPolicyErrors.RemoteCertificateChainErrors);
        TlsClientAuthentication.ValidateServerCertificate(tls, this, _serverFromOtherCa, null, SslPolicyErrors.None).Should().BeFalse();
    }

    [Fact]
    public void Custom_ca_does_not_excuse_a_host_name_mismatch()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };
        TlsClientAuthentication.ValidateServerCertificate(tls, this, _server, null, SslPolicyErrors.RemoteCertificateNameMismatch)
            .Should().BeFalse();
        TlsClientAuthentication.ValidateServerCertificate(tls with { VerifyHostName = false }, this, _server, null, SslPolicyErrors.RemoteCertificateNameMismatch)
            .Should().BeTrue();
    }

    [Fact]
    public void Missing_certificate_is_rejected()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };
        TlsClientAuthentication.ValidateServerCertificate(tls, this, null, null, SslPolicyErrors.None).Should().BeFalse();
    }

    [Fact]
    public void Escape_hatch_sees_the_computed_errors_and_has_the_last_word()
    {
        SslPolicyErrors seen = (SslPolicyErrors)(-1);
        X509Chain? seenChain = null;
        var tls = new TlsOptions
        {
            Enabled = true,
            CaCertificates = [_ca],
            ServerCertificateValidation = (_, _, chain, errors) =>
            {
                seen = errors;
                seenChain = chain;
                return true;
            },
        };

        TlsClientAuthentication.ValidateServerCertificate(tls, this, _serverFromOtherCa, null, SslPolicyErrors.None).Should().BeTrue();
        seen.Should().Be(SslPolicyErrors.RemoteCertificateChainErrors);
        seenChain.Should().NotBeNull();
    }

    [Fact]
    public void Client_certificates_without_a_private_key_are_refused()
    {
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(_server.RawData);
        var tls = new TlsOptions { Enabled = true, ClientCertificates = [publicOnly] };
        Action act = () => TlsClientAuthentication.CreateOptions(tls, BrokerHost);
        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain("private key");
    }

    [Fact]
    public async Task Handshake_succeeds_when_the_signing_ca_is_configured()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };
        (await HandshakeAsync(_server, tls)).Should().BeNull();
    }

    [Fact]
    public async Task Handshake_fails_without_the_ca_configured()
    {
        var tls = new TlsOptions { Enabled = true };
        (await HandshakeAsync(_server, tls)).Should().BeOfType<AuthenticationException>();
    }

    [Fact]
    public async Task Handshake_fails_when_another_ca_is_configured()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_otherCa] };
        (await HandshakeAsync(_server, tls)).Should().BeOfType<AuthenticationException>();
    }

    [Fact]
    public async Task Handshake_fails_for_a_certificate_issued_to_another_host()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca] };
        (await HandshakeAsync(_serverForOtherHost, tls)).Should().BeOfType<AuthenticationException>();
    }

    [Fact]
    public async Task Target_host_override_is_what_the_certificate_is_checked_against()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca], TargetHost = "other.test" };
        (await HandshakeAsync(_serverForOtherHost, tls)).Should().BeNull();
    }

    [Fact]
    public async Task Host_name_verification_can_be_turned_off()
    {
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca], VerifyHostName = false };
        (await HandshakeAsync(_serverForOtherHost, tls)).Should().BeNull();
    }

    [Fact]
    public async Task Escape_hatch_can_accept_an_untrusted_certificate()
    {
        SslPolicyErrors seen = SslPolicyErrors.None;
        var tls = new TlsOptions
        {
            Enabled = true,
            ServerCertificateValidation = (_, certificate, _, errors) =>
            {
                seen = errors;
                return certificate is X509Certificate2 c && c.Thumbprint == _serverFromOtherCa.Thumbprint;
            },
        };
        (await HandshakeAsync(_serverFromOtherCa, tls)).Should().BeNull();
        seen.Should().HaveFlag(SslPolicyErrors.RemoteCertificateChainErrors);
    }

    [Fact]
    public async Task Client_certificate_is_presented_for_mutual_tls()
    {
        using X509Certificate2 client = TestCertificates.CreateClient(_ca, "CN=kafka-client");
        var tls = new TlsOptions { Enabled = true, CaCertificates = [_ca], ClientCertificates = [client] };

        X509Certificate? presented = null;
        (await HandshakeAsync(_server, tls, requireClientCertificate: true, onServerAuthenticated: s => presented = s.RemoteCertificate))
            .Should().BeNull();
        presented.Should().NotBeNull();
        new X509Certificate2Collection { presented! }[0].Thumbprint.Should().Be(client.Thumbprint);
    }

    /// <summary>Runs a TLS handshake over loopback; returns the client's exception, or null on success.</summary>
    private static async Task<Exception?> HandshakeAsync(
        X509Certificate2 serverCertificate,
        TlsOptions tls,
        bool requireClientCertificate = false,
        Action<SslStream>? onServerAuthenticated = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        Task server = Task.Run(async () =>
        {
            using TcpClient accepted = await listener.AcceptTcpClientAsync(timeout.Token);
            await using var stream = new SslStream(accepted.GetStream());
            try
            {
                await stream.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificate = serverCertificate,
                        ClientCertificateRequired = requireClientCertificate,
                        RemoteCertificateValidationCallback = (_, certificate, _, _) => !requireClientCertificate || certificate is not null,
                    },
                    timeout.Token);
                onServerAuthenticated?.Invoke(stream);
                // Complete one round trip so both sides finish the handshake (TLS 1.3 sends tickets late).
                var buffer = new byte[1];
                await stream.ReadExactlyAsync(buffer, timeout.Token);
                await stream.WriteAsync(buffer, timeout.Token);
            }
            catch (Exception) when (!timeout.IsCancellationRequested)
            {
                // The client rejected us; its side reports why.
            }
        });

        Exception? failure = null;
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            await using var stream = new SslStream(client.GetStream());
            try
            {
                await stream.AuthenticateAsClientAsync(TlsClientAuthentication.CreateOptions(tls, BrokerHost), timeout.Token);
                await stream.WriteAsync(new byte[] { 42 }, timeout.Token);
                var echo = new byte[1];
                await stream.ReadExactlyAsync(echo, timeout.Token);
                echo[0].Should().Be(42);
            }
            catch (AuthenticationException ex)
            {
                failure = ex;
            }
        }

        await server;
        return failure;
    }
}
