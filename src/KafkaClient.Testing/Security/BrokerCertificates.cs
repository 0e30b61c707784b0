using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafkaClient.Testing.Security;

/// <summary>
/// The TLS identity of a cluster, generated at start: a self-signed certificate authority and
/// one broker certificate it issued for <c>localhost</c>, <c>127.0.0.1</c>, <c>::1</c> and the
/// configured host, shared by every broker (as a wildcard certificate would be). ECDSA P-256
/// keys, generated in a few milliseconds. Validity uses the real clock, not the cluster's
/// <see cref="TimeProvider"/>: clients check it against theirs.
/// </summary>
internal sealed class BrokerCertificates : IDisposable
{
    private readonly X509Certificate2 _broker;

    private BrokerCertificates(X509Certificate2 authority, X509Certificate2 broker)
    {
        Authority = authority;
        _broker = broker;
        AuthorityPem = authority.ExportCertificatePem();
        ServerOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(broker, [authority], offline: true),
            ClientCertificateRequired = false,
        };
    }

    /// <summary>The certificate authority (public part only).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The certificate authority in PEM (<c>-----BEGIN CERTIFICATE-----</c>).</summary>
    public string AuthorityPem { get; }

    /// <summary>What every broker's <see cref="SslStream"/> authenticates with.</summary>
    public SslServerAuthenticationOptions ServerOptions { get; }

    public static BrokerCertificates Create(string host)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset notBefore = now.AddDays(-1);
        DateTimeOffset notAfter = now.AddYears(2);

        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=KafkaClient.Testing embedded cluster CA, O=KafkaClient", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var authorityKeyId = new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false);
        authorityRequest.CertificateExtensions.Add(authorityKeyId);
        using var authorityWithKey = authorityRequest.CreateSelfSigned(notBefore, notAfter.AddDays(1));

        using var brokerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var brokerRequest = new CertificateRequest("CN=localhost, O=KafkaClient", brokerKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        if (IPAddress.TryParse(host, out var ip))
        {
            if (!ip.Equals(IPAddress.Loopback) && !ip.Equals(IPAddress.IPv6Loopback))
            {
                names.AddIpAddress(ip);
            }
        }
        else if (!string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            names.AddDnsName(host);
        }
        brokerRequest.CertificateExtensions.Add(names.Build());
        brokerRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        brokerRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        brokerRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        brokerRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(brokerRequest.PublicKey, false));
        brokerRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(authorityKeyId));
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = brokerRequest.Create(authorityWithKey, notBefore, notAfter, serial);
        using var issuedWithKey = issued.CopyWithPrivateKey(brokerKey);

        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        var broker = X509CertificateLoader.LoadPkcs12(issuedWithKey.Export(X509ContentType.Pkcs12), null);
        var authority = X509CertificateLoader.LoadCertificate(authorityWithKey.Export(X509ContentType.Cert));
        return new BrokerCertificates(authority, broker);
    }

    public void Dispose()
    {
        _broker.Dispose();
        Authority.Dispose();
    }
}
