using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafkaClient.Network;

/// <summary>
/// Turns <see cref="TlsOptions"/> into the <see cref="SslClientAuthenticationOptions"/> a connection
/// hands to <see cref="SslStream.AuthenticateAsClientAsync(SslClientAuthenticationOptions, CancellationToken)"/>,
/// including validation of the broker certificate against custom certificate authorities.
/// </summary>
internal static class TlsClientAuthentication
{
    /// <summary>The TLS Web Server Authentication extended key usage (id-kp-serverAuth).</summary>
    private const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>Builds the options for a TLS connection to <paramref name="brokerHost"/>.</summary>
    /// <param name="options">The user's TLS settings.</param>
    /// <param name="brokerHost">The host name the broker is reached by; used unless <see cref="TlsOptions.TargetHost"/> overrides it.</param>
    /// <exception cref="ArgumentException"><see cref="TlsOptions.ClientCertificates"/> has no certificate with a private key.</exception>
    public static SslClientAuthenticationOptions CreateOptions(TlsOptions options, string brokerHost)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(brokerHost);

        string targetHost = string.IsNullOrEmpty(options.TargetHost) ? brokerHost : options.TargetHost;
        var result = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = options.EnabledSslProtocols,
            CertificateRevocationCheckMode = options.CheckCertificateRevocation
                ? X509RevocationMode.Online
                : X509RevocationMode.NoCheck,
        };

        if (options.ClientCertificates is { Count: > 0 } clientCertificates)
        {
            result.ClientCertificateContext = CreateClientCertificateContext(clientCertificates);
        }

        bool customTrust = options.CaCertificates is { Count: > 0 };
        if (customTrust || options.ServerCertificateValidation is not null || !options.VerifyHostName)
        {
            result.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                ValidateServerCertificate(options, sender, certificate, chain, errors);
        }

        return result;
    }

    /// <summary>
    /// The validation installed when <see cref="TlsOptions"/> asks for more than the platform default:
    /// re-evaluates the chain against <see cref="TlsOptions.CaCertificates"/> when given, drops the
    /// host name verdict when <see cref="TlsOptions.VerifyHostName"/> is off, then lets
    /// <see cref="TlsOptions.ServerCertificateValidation"/> decide, or accepts only an error-free result.
    /// </summary>
    internal static bool ValidateServerCertificate(
        TlsOptions options,
        object sender,
        X509Certificate? certificate,
        X509Chain? chain,
        SslPolicyErrors errors)
    {
        X509Chain? customChain = null;
        try
        {
            errors = EvaluateServerCertificate(options, certificate, chain, errors, out customChain);
            return options.ServerCertificateValidation is { } callback
                ? callback(sender, certificate, customChain ?? chain, errors)
                : errors == SslPolicyErrors.None;
        }
        finally
        {
            // Chain element certificates are left to their finalizers: on some platforms they are the
            // very instances passed in (the broker certificate, the configured authorities).
            customChain?.Dispose();
        }
    }

    /// <summary>
    /// Computes the <see cref="SslPolicyErrors"/> the options call for, given the platform's verdict
    /// <paramref name="errors"/>. With <see cref="TlsOptions.CaCertificates"/> the chain verdict is
    /// replaced by a chain built with <see cref="X509ChainTrustMode.CustomRootTrust"/> over exactly
    /// those certificates (returned in <paramref name="customChain"/>, which the caller disposes).
    /// </summary>
    internal static SslPolicyErrors EvaluateServerCertificate(
        TlsOptions options,
        X509Certificate? certificate,
        X509Chain? chain,
        SslPolicyErrors errors,
        out X509Chain? customChain)
    {
        customChain = null;
        if (!options.VerifyHostName)
        {
            errors &= ~SslPolicyErrors.RemoteCertificateNameMismatch;
        }

        if (certificate is null)
        {
            return errors | SslPolicyErrors.RemoteCertificateNotAvailable;
        }

        if (options.CaCertificates is not { Count: > 0 } authorities)
        {
            return errors;
        }

        using X509Certificate2? copy = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        X509Certificate2 leaf = copy ?? (X509Certificate2)certificate;
        customChain = new X509Chain();
        X509ChainPolicy policy = customChain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(authorities);
        policy.RevocationMode = options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(new Oid(ServerAuthenticationOid));
        if (chain is not null)
        {
            // Intermediates the broker sent: the platform puts them in the extra store and the chain it built.
            policy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            for (int i = 1; i < chain.ChainElements.Count; i++)
            {
                policy.ExtraStore.Add(chain.ChainElements[i].Certificate);
            }
        }

        bool trusted = customChain.Build(leaf);
        errors &= ~SslPolicyErrors.RemoteCertificateChainErrors;
        if (!trusted)
        {
            errors |= SslPolicyErrors.RemoteCertificateChainErrors;
        }

        return errors;
    }

    private static SslStreamCertificateContext CreateClientCertificateContext(X509Certificate2Collection certificates)
    {
        X509Certificate2? leaf = null;
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 certificate in certificates)
        {
            if (leaf is null && certificate.HasPrivateKey)
            {
                leaf = certificate;
            }
            else
            {
                intermediates.Add(certificate);
            }
        }

        if (leaf is null)
        {
            throw new ArgumentException(
                "TlsOptions.ClientCertificates must contain a certificate with its private key.",
                nameof(certificates));
        }

        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }
}
