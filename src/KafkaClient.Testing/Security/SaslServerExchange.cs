using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KafkaClient.Testing.Security;

/// <summary>The broker's answer to one SASL token: a challenge to send back, whether the exchange is over, or why it failed.</summary>
/// <param name="Challenge">The bytes to send to the client (empty when there is nothing to say).</param>
/// <param name="AuthenticatedUser">The user name once the exchange succeeded; null while it goes on or after a failure.</param>
/// <param name="Failure">The message for SASL_AUTHENTICATION_FAILED, or null.</param>
internal readonly record struct SaslStep(byte[] Challenge, string? AuthenticatedUser, string? Failure)
{
    public static SaslStep Continue(byte[] challenge) => new(challenge, null, null);

    public static SaslStep Succeeded(byte[] finalMessage, string user) => new(finalMessage, user, null);

    public static SaslStep Failed(string message) => new([], null, message);
}

/// <summary>The server side of one SASL mechanism for one connection.</summary>
internal interface ISaslServerExchange
{
    /// <summary>Evaluates the client's next token.</summary>
    SaslStep Evaluate(ReadOnlySpan<byte> response);
}

/// <summary>Creates the exchange for a mechanism named in SaslHandshake.</summary>
internal static class SaslServerExchange
{
    public static ISaslServerExchange Create(string mechanism, SaslCredentialStore credentials) => mechanism switch
    {
        "PLAIN" => new PlainServerExchange(credentials),
        "SCRAM-SHA-256" or "SCRAM-SHA-512" => new ScramServerExchange(mechanism, credentials),
        _ => throw new ArgumentOutOfRangeException(nameof(mechanism), mechanism, "Not an enabled mechanism."),
    };
}

/// <summary>
/// PLAIN (RFC 4616): one message <c>authzid NUL authcid NUL password</c>. As Kafka's
/// <c>PlainSaslServer</c>, the authorization id must be empty or the user name itself.
/// </summary>
internal sealed class PlainServerExchange(SaslCredentialStore credentials) : ISaslServerExchange
{
    /// <summary>Kafka's message for a wrong user or password.</summary>
    internal const string InvalidCredentials = "Authentication failed: Invalid username or password";

    public SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(response);
        }
        catch (DecoderFallbackException)
        {
            return SaslStep.Failed("Authentication failed: the PLAIN message is not valid UTF-8");
        }
        string[] parts = text.Split('\0');
        if (parts.Length != 3)
        {
            return SaslStep.Failed("Invalid SASL/PLAIN response: expected 3 tokens, got " + parts.Length.ToString(CultureInfo.InvariantCulture));
        }
        string authorizationId = parts[0];
        string user = parts[1];
        string password = parts[2];
        if (user.Length == 0)
        {
            return SaslStep.Failed("Authentication failed: username not specified");
        }
        if (password.Length == 0)
        {
            return SaslStep.Failed("Authentication failed: password not specified");
        }
        if (!credentials.CheckPlain(user, password))
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        if (authorizationId.Length > 0 && authorizationId != user)
        {
            return SaslStep.Failed("Authentication failed: Client requested an authorization id that is different from username");
        }
        return SaslStep.Succeeded([], user);
    }
}

/// <summary>
/// SCRAM-SHA-256/512 (RFC 5802) as Kafka's <c>ScramSaslServer</c>: no channel binding (gs2 header
/// <c>n,,</c> or <c>n,a=user,</c>), the client nonce extended with 32 random characters, the
/// stored salt and iteration count, proof checked against StoredKey, and the server signature
/// in the final message. Delegation tokens (<c>tokenauth</c>) are not supported.
/// </summary>
internal sealed class ScramServerExchange : ISaslServerExchange
{
    private const string NonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private readonly string _mechanism;
    private readonly SaslCredentialStore _credentials;
    private readonly HashAlgorithmName _hash;
    private string? _user;
    private string? _gs2Header;
    private string? _clientFirstBare;
    private string? _serverFirst;
    private string? _nonce;
    private ScramCredential? _credential;

    public ScramServerExchange(string mechanism, SaslCredentialStore credentials)
    {
        _mechanism = mechanism;
        _credentials = credentials;
        _hash = SaslCredentialStore.ScramHash(mechanism);
    }

    /// <summary>Kafka's message for any SCRAM failure (it does not say whether the user or the password was wrong).</summary>
    private string InvalidCredentials => "Authentication failed during authentication due to invalid credentials with SASL mechanism " + _mechanism;

    public SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(response);
        }
        catch (DecoderFallbackException)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        return _serverFirst is null ? ClientFirst(text) : ClientFinal(text);
    }

    private SaslStep ClientFirst(string message)
    {
        // gs2-header: "n," [ "a=" authzid ] ","; only "n" (no channel binding), as Kafka.
        if (!message.StartsWith("n,", StringComparison.Ordinal))
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        int headerEnd = message.IndexOf(',', 2);
        if (headerEnd < 0)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        string authorizationId = message[2..headerEnd];
        _gs2Header = message[..(headerEnd + 1)];
        _clientFirstBare = message[(headerEnd + 1)..];
        string[] attributes = _clientFirstBare.Split(',');
        if (attributes.Length < 2 || !attributes[0].StartsWith("n=", StringComparison.Ordinal) || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        string user = Unescape(attributes[0][2..]);
        string clientNonce = attributes[1][2..];
        if (clientNonce.Length == 0 || attributes.Skip(2).Any(a => a.StartsWith("tokenauth=", StringComparison.Ordinal)))
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        if (authorizationId.Length > 0 && (!authorizationId.StartsWith("a=", StringComparison.Ordinal) || Unescape(authorizationId[2..]) != user))
        {
            return SaslStep.Failed("Authentication failed: Client requested an authorization id that is different from username");
        }
        _credential = _credentials.Scram(_mechanism, user);
        if (_credential is null)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        _user = user;
        _nonce = clientNonce + NewNonce();
        _serverFirst = "r=" + _nonce + ",s=" + Convert.ToBase64String(_credential.Salt) + ",i=" + _credential.Iterations.ToString(CultureInfo.InvariantCulture);
        return SaslStep.Continue(Encoding.UTF8.GetBytes(_serverFirst));
    }

    private SaslStep ClientFinal(string message)
    {
        // c=<base64 gs2 header>,r=<nonce>[,extensions],p=<proof>
        int proofAt = message.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        string withoutProof = message[..proofAt];
        string[] attributes = withoutProof.Split(',');
        if (attributes.Length < 2
            || attributes[0] != "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header!))
            || attributes[1] != "r=" + _nonce)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        byte[] proof;
        try
        {
            proof = Convert.FromBase64String(message[(proofAt + 3)..]);
        }
        catch (FormatException)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        var credential = _credential!;
        if (proof.Length != credential.StoredKey.Length)
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        byte[] clientSignature = CryptographicOperations.HmacData(_hash, credential.StoredKey, authMessage);
        byte[] clientKey = new byte[proof.Length];
        for (int i = 0; i < clientKey.Length; i++)
        {
            clientKey[i] = (byte)(proof[i] ^ clientSignature[i]);
        }
        if (!CryptographicOperations.FixedTimeEquals(CryptographicOperations.HashData(_hash, clientKey), credential.StoredKey))
        {
            return SaslStep.Failed(InvalidCredentials);
        }
        byte[] serverSignature = CryptographicOperations.HmacData(_hash, credential.ServerKey, authMessage);
        return SaslStep.Succeeded(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)), _user!);
    }

    /// <summary>RFC 5802 saslname: <c>=2C</c> is a comma, <c>=3D</c> an equals sign.</summary>
    private static string Unescape(string name) =>
        name.Replace("=2C", ",", StringComparison.Ordinal).Replace("=3D", "=", StringComparison.Ordinal);

    private static string NewNonce() => RandomNumberGenerator.GetString(NonceAlphabet, 32);
}
