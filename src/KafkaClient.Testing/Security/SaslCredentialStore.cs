using System.Security.Cryptography;
using System.Text;

namespace KafkaClient.Testing.Security;

/// <summary>
/// A user's SCRAM credential as Kafka stores it (KIP-84): salt, iteration count, StoredKey and
/// ServerKey. The password itself is not kept.
/// </summary>
internal sealed record ScramCredential(byte[] Salt, int Iterations, byte[] StoredKey, byte[] ServerKey);

/// <summary>
/// The SASL users of a cluster: PLAIN passwords and SCRAM credentials per mechanism, built once
/// from <see cref="EmbeddedKafkaClusterOptions.SaslUsers"/>. Immutable, so shared by every connection.
/// </summary>
internal sealed class SaslCredentialStore
{
    /// <summary>Kafka's default (and minimum) SCRAM iteration count.</summary>
    internal const int ScramIterations = 4096;

    /// <summary>The mechanisms every SASL listener enables, in the order the handshake lists them.</summary>
    internal static readonly string[] EnabledMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

    private readonly Dictionary<string, string> _plain = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Mechanism, string User), ScramCredential> _scram = [];

    public SaslCredentialStore(IEnumerable<EmbeddedSaslUser> users)
    {
        foreach (var user in users)
        {
            if (user.Mechanisms.HasFlag(EmbeddedSaslMechanisms.Plain))
            {
                _plain[user.Name] = user.Password;
            }
            if (user.Mechanisms.HasFlag(EmbeddedSaslMechanisms.ScramSha256))
            {
                _scram[("SCRAM-SHA-256", user.Name)] = CreateScramCredential(HashAlgorithmName.SHA256, user.Password, ScramIterations);
            }
            if (user.Mechanisms.HasFlag(EmbeddedSaslMechanisms.ScramSha512))
            {
                _scram[("SCRAM-SHA-512", user.Name)] = CreateScramCredential(HashAlgorithmName.SHA512, user.Password, ScramIterations);
            }
        }
    }

    /// <summary>Whether <paramref name="password"/> is <paramref name="user"/>'s PLAIN password (compared in constant time).</summary>
    public bool CheckPlain(string user, string password)
    {
        if (!_plain.TryGetValue(user, out string? expected))
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(password));
    }

    /// <summary>The user's credential for a SCRAM mechanism, or null.</summary>
    public ScramCredential? Scram(string mechanism, string user) => _scram.GetValueOrDefault((mechanism, user));

    /// <summary>The hash a SCRAM mechanism name stands for.</summary>
    public static HashAlgorithmName ScramHash(string mechanism) =>
        mechanism == "SCRAM-SHA-512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;

    /// <summary>RFC 5802: SaltedPassword = Hi(password, salt, i); StoredKey = H(HMAC(SaltedPassword, "Client Key")); ServerKey = HMAC(SaltedPassword, "Server Key").</summary>
    internal static ScramCredential CreateScramCredential(HashAlgorithmName hash, string password, int iterations)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(32);
        int length = hash == HashAlgorithmName.SHA512 ? SHA512.HashSizeInBytes : SHA256.HashSizeInBytes;
        byte[] salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, hash, length);
        byte[] clientKey = CryptographicOperations.HmacData(hash, salted, "Client Key"u8);
        byte[] storedKey = CryptographicOperations.HashData(hash, clientKey);
        byte[] serverKey = CryptographicOperations.HmacData(hash, salted, "Server Key"u8);
        CryptographicOperations.ZeroMemory(salted);
        CryptographicOperations.ZeroMemory(clientKey);
        return new ScramCredential(salt, iterations, storedKey, serverKey);
    }
}
