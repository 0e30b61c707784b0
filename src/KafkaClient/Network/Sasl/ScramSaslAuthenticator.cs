using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KafkaClient.Errors;

namespace KafkaClient.Network.Sasl;

/// <summary>
/// SASL <c>SCRAM-SHA-256</c> / <c>SCRAM-SHA-512</c> (RFC 5802, RFC 7677) as Kafka uses them (KIP-84):
/// no channel binding (gs2 header <c>n,,</c>), the user name escaped but otherwise used as it is
/// (no SASLprep, like Kafka's Java client; the password is likewise its plain UTF-8 bytes), and at
/// least 4096 iterations required of the broker.
/// </summary>
/// <remarks>
/// Exchange: client-first <c>n,,n=user,r=cnonce[,ext]</c>; server-first <c>r=cnonce+snonce,s=salt,i=n</c>;
/// client-final <c>c=biws,r=cnonce+snonce,p=proof</c>; server-final <c>v=signature</c> or <c>e=error</c>.
/// </remarks>
internal sealed class ScramSaslAuthenticator : ISaslAuthenticator
{
    /// <summary>The fewest PBKDF2 iterations accepted from a broker (Kafka's <c>ScramMechanism</c> minimum).</summary>
    public const int MinIterations = 4096;

    /// <summary>Length of generated client nonces.</summary>
    internal const int NonceLength = 32;

    private const string Gs2Header = "n,,";

    /// <summary>The <c>c=</c> attribute: base64 of <see cref="Gs2Header"/> (no channel binding).</summary>
    private const string ChannelBinding = "biws";
    private const string NonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static readonly byte[] ClientKeyLabel = "Client Key"u8.ToArray();
    private static readonly byte[] ServerKeyLabel = "Server Key"u8.ToArray();

    private readonly HashAlgorithmName _hash;
    private readonly int _hashLength;
    private readonly string _username;
    private readonly string _password;
    private readonly string _extensions;
    private readonly Func<string> _nonceGenerator;

    private State _state;
    private string? _clientNonce;
    private string? _clientFirstBare;
    private byte[]? _expectedServerSignature;

    /// <summary>Creates the authenticator.</summary>
    /// <param name="mechanism"><see cref="SaslMechanism.ScramSha256"/> or <see cref="SaslMechanism.ScramSha512"/>.</param>
    /// <param name="username">The user name (or delegation token id).</param>
    /// <param name="password">The password (or delegation token HMAC).</param>
    /// <param name="extensions">SCRAM extensions for the client-first message, e.g. <c>tokenauth=true</c>.</param>
    /// <param name="nonceGenerator">Produces the client nonce; tests inject a fixed one. Default: 32 random alphanumerics.</param>
    /// <exception cref="ArgumentException">An argument is empty or an extension is malformed.</exception>
    public ScramSaslAuthenticator(
        SaslMechanism mechanism,
        string username,
        string password,
        IReadOnlyDictionary<string, string>? extensions = null,
        Func<string>? nonceGenerator = null)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        (MechanismName, _hash, _hashLength) = mechanism switch
        {
            SaslMechanism.ScramSha256 => ("SCRAM-SHA-256", HashAlgorithmName.SHA256, SHA256.HashSizeInBytes),
            SaslMechanism.ScramSha512 => ("SCRAM-SHA-512", HashAlgorithmName.SHA512, SHA512.HashSizeInBytes),
            _ => throw new ArgumentOutOfRangeException(nameof(mechanism), mechanism, "Not a SCRAM mechanism."),
        };

        if (username.Length == 0)
        {
            throw new ArgumentException("The SCRAM user name must not be empty.", nameof(username));
        }

        _username = username;
        _password = password;
        _extensions = FormatExtensions(extensions);
        _nonceGenerator = nonceGenerator ?? GenerateNonce;
    }

    private enum State
    {
        Initial,
        AwaitingServerFirst,
        AwaitingServerFinal,
        Complete,
        Failed,
    }

    /// <inheritdoc />
    public string MechanismName { get; }

    /// <inheritdoc />
    public bool IsComplete => _state == State.Complete;

    /// <summary>
    /// Escapes a user name for the <c>n=</c> attribute (RFC 5802 <c>saslname</c>): <c>=</c> becomes
    /// <c>=3D</c> and <c>,</c> becomes <c>=2C</c>. Nothing else is changed, as in Kafka's Java client.
    /// </summary>
    internal static string EscapeUsername(string username)
        => username.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    /// <inheritdoc />
    public ValueTask<byte[]> CreateInitialResponseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_state != State.Initial)
        {
            throw new InvalidOperationException("The SCRAM client-first message has already been created.");
        }

        string nonce = _nonceGenerator();
        if (nonce.Length == 0 || !IsPrintable(nonce))
        {
            throw new InvalidOperationException("The SCRAM client nonce must be non-empty printable ASCII without commas.");
        }

        _clientNonce = nonce;
        _clientFirstBare = "n=" + EscapeUsername(_username) + ",r=" + nonce + _extensions;
        _state = State.AwaitingServerFirst;
        return ValueTask.FromResult(Encoding.UTF8.GetBytes(Gs2Header + _clientFirstBare));
    }

    /// <inheritdoc />
    public byte[]? EvaluateChallenge(ReadOnlySpan<byte> serverMessage)
    {
        if (_state is not (State.AwaitingServerFirst or State.AwaitingServerFinal))
        {
            throw new InvalidOperationException(_state == State.Initial
                ? "CreateInitialResponseAsync must be called before EvaluateChallenge."
                : "The SCRAM exchange is already over.");
        }

        try
        {
            return _state == State.AwaitingServerFirst
                ? HandleServerFirst(serverMessage)
                : HandleServerFinal(serverMessage);
        }
        catch
        {
            // Any failure ends the exchange; it cannot be continued.
            _state = State.Failed;
            Forget();
            throw;
        }
    }

    /// <inheritdoc />
    public KafkaException CreateFailure(string? brokerErrorMessage)
    {
        _state = State.Failed;
        Forget();
        return SaslErrors.BrokerRejected(MechanismName, brokerErrorMessage);
    }

    private byte[] HandleServerFirst(ReadOnlySpan<byte> serverMessage)
    {
        string serverFirst = DecodeUtf8(serverMessage, "server-first");
        // r=, s=, i= in this order; a leading m= is a mandatory extension we cannot honour; trailing
        // extensions are ignored (they still take part in the AuthMessage).
        string[] parts = serverFirst.Split(',');
        if (parts[0].StartsWith("m=", StringComparison.Ordinal))
        {
            throw Error("the broker requires an unsupported mandatory extension");
        }

        string serverNonce = Attribute(parts, 0, 'r', "server-first");
        string saltText = Attribute(parts, 1, 's', "server-first");
        string iterationText = Attribute(parts, 2, 'i', "server-first");

        if (!IsPrintable(serverNonce))
        {
            throw Error("the server nonce contains invalid characters");
        }

        string clientNonce = _clientNonce!;
        if (serverNonce.Length <= clientNonce.Length || !serverNonce.StartsWith(clientNonce, StringComparison.Ordinal))
        {
            throw Error("the server nonce does not extend the client nonce");
        }

        byte[] salt;
        try
        {
            salt = Convert.FromBase64String(saltText);
        }
        catch (FormatException)
        {
            throw Error("the salt is not valid base64");
        }

        if (salt.Length == 0)
        {
            throw Error("the salt is empty");
        }

        // NumberStyles.None: digits only, no sign or white space.
        if (!int.TryParse(iterationText, NumberStyles.None, CultureInfo.InvariantCulture, out int iterations))
        {
            throw Error("the iteration count is not a valid number");
        }

        if (iterations < MinIterations)
        {
            throw Error(string.Create(CultureInfo.InvariantCulture, $"the iteration count {iterations} is below the minimum of {MinIterations}"));
        }

        string clientFinalWithoutProof = "c=" + ChannelBinding + ",r=" + serverNonce;
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof);

        byte[] passwordBytes = Encoding.UTF8.GetBytes(_password);
        byte[] saltedPassword = Rfc2898DeriveBytes.Pbkdf2(passwordBytes, salt, iterations, _hash, _hashLength);
        byte[] clientKey = CryptographicOperations.HmacData(_hash, saltedPassword, ClientKeyLabel);
        byte[] storedKey = CryptographicOperations.HashData(_hash, clientKey);
        byte[] clientSignature = CryptographicOperations.HmacData(_hash, storedKey, authMessage);
        byte[] clientProof = new byte[_hashLength];
        for (int i = 0; i < clientProof.Length; i++)
        {
            clientProof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        byte[] serverKey = CryptographicOperations.HmacData(_hash, saltedPassword, ServerKeyLabel);
        _expectedServerSignature = CryptographicOperations.HmacData(_hash, serverKey, authMessage);

        string clientFinal = clientFinalWithoutProof + ",p=" + Convert.ToBase64String(clientProof);

        CryptographicOperations.ZeroMemory(passwordBytes);
        CryptographicOperations.ZeroMemory(saltedPassword);
        CryptographicOperations.ZeroMemory(clientKey);
        CryptographicOperations.ZeroMemory(storedKey);
        CryptographicOperations.ZeroMemory(clientSignature);
        CryptographicOperations.ZeroMemory(clientProof);
        CryptographicOperations.ZeroMemory(serverKey);

        _state = State.AwaitingServerFinal;
        return Encoding.UTF8.GetBytes(clientFinal);
    }

    private byte[]? HandleServerFinal(ReadOnlySpan<byte> serverMessage)
    {
        string serverFinal = DecodeUtf8(serverMessage, "server-final");
        string first = serverFinal.Split(',')[0];
        if (first.StartsWith("e=", StringComparison.Ordinal))
        {
            throw Error("the broker reported error '" + SaslErrors.Sanitize(first[2..], 64) + "'");
        }

        if (!first.StartsWith("v=", StringComparison.Ordinal))
        {
            throw Error("the server-final message has neither a verifier nor an error");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(first[2..]);
        }
        catch (FormatException)
        {
            throw Error("the server signature is not valid base64");
        }

        if (!CryptographicOperations.FixedTimeEquals(signature, _expectedServerSignature))
        {
            throw Error("the server signature is invalid; the broker did not prove it knows the credentials");
        }

        Forget();
        _state = State.Complete;
        return null;
    }

    private void Forget()
    {
        if (_expectedServerSignature is not null)
        {
            CryptographicOperations.ZeroMemory(_expectedServerSignature);
            _expectedServerSignature = null;
        }
    }

    private string Attribute(string[] parts, int index, char name, string messageName)
    {
        if (index >= parts.Length || parts[index].Length < 2 || parts[index][0] != name || parts[index][1] != '=')
        {
            throw Error($"the {messageName} message lacks the '{name}=' attribute where expected");
        }

        return parts[index][2..];
    }

    private string DecodeUtf8(ReadOnlySpan<byte> bytes, string messageName)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"the {messageName} message is not valid UTF-8");
        }
    }

    private KafkaException Error(string reason)
        => SaslErrors.AuthenticationFailed($"SASL/{MechanismName} authentication failed: {reason}.");

    // RFC 5802 printable: %x21-2B / %x2D-7E (visible ASCII except ',').
    private static bool IsPrintable(string value)
    {
        foreach (char c in value)
        {
            if (c < 0x21 || c > 0x7E || c == ',')
            {
                return false;
            }
        }

        return true;
    }

    private static string GenerateNonce() => RandomNumberGenerator.GetString(NonceAlphabet, NonceLength);

    private static string FormatExtensions(IReadOnlyDictionary<string, string>? extensions)
    {
        if (extensions is null || extensions.Count == 0)
        {
            return string.Empty;
        }

        var builder = new StringBuilder();
        foreach ((string key, string value) in extensions.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            // Single letters are SCRAM's own attributes (n, r, c, p, ...); extension names are longer.
            if (key is null || key.Length < 2 || !key.All(char.IsAsciiLetter))
            {
                throw new ArgumentException("SCRAM extension names must be two or more ASCII letters.", nameof(extensions));
            }

            if (value is null || value.Contains(',', StringComparison.Ordinal) || value.Any(char.IsControl))
            {
                throw new ArgumentException($"The value of SCRAM extension '{key}' must not contain commas or control characters.", nameof(extensions));
            }

            builder.Append(',').Append(key).Append('=').Append(value);
        }

        return builder.ToString();
    }
}
