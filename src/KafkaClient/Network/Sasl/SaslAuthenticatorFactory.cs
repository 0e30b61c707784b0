namespace KafkaClient.Network.Sasl;

/// <summary>Creates the <see cref="ISaslAuthenticator"/> for a <see cref="SaslOptions"/>.</summary>
internal static class SaslAuthenticatorFactory
{
    /// <summary>
    /// Checks <paramref name="options"/> and throws when they cannot work, naming the property at
    /// fault but never a secret value. Call it when the client is configured so mistakes surface early.
    /// </summary>
    /// <exception cref="ArgumentException">A property required by the mechanism is missing or malformed.</exception>
    public static void Validate(SaslOptions options) => _ = Create(options);

    /// <summary>Creates a fresh authenticator for one exchange.</summary>
    /// <exception cref="ArgumentException">A property required by the mechanism is missing or malformed.</exception>
    public static ISaslAuthenticator Create(SaslOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        switch (options.Mechanism)
        {
            case SaslMechanism.Plain:
                RequireCredentials(options);
                if (options.Extensions is { Count: > 0 })
                {
                    throw new ArgumentException("SASL extensions are not supported with PLAIN.", nameof(options));
                }

                return new PlainSaslAuthenticator(options.Username!, options.Password!);

            case SaslMechanism.ScramSha256:
            case SaslMechanism.ScramSha512:
                RequireCredentials(options);
                return new ScramSaslAuthenticator(options.Mechanism, options.Username!, options.Password!, options.Extensions);

            case SaslMechanism.OAuthBearer:
                if (options.OAuthBearerTokenProvider is null)
                {
                    throw new ArgumentException("SaslOptions.OAuthBearerTokenProvider is required for OAUTHBEARER.", nameof(options));
                }

                return new OAuthBearerSaslAuthenticator(options.OAuthBearerTokenProvider, options.Extensions);

            default:
                throw new ArgumentException($"Unknown SASL mechanism {options.Mechanism}.", nameof(options));
        }
    }

    private static void RequireCredentials(SaslOptions options)
    {
        if (string.IsNullOrEmpty(options.Username))
        {
            throw new ArgumentException($"SaslOptions.Username is required for {options.Mechanism}.", nameof(options));
        }

        if (options.Password is null)
        {
            throw new ArgumentException($"SaslOptions.Password is required for {options.Mechanism}.", nameof(options));
        }
    }
}
