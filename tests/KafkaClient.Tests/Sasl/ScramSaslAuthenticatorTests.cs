using System.Security.Cryptography;
using System.Text;
using FluentAssertions;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Network.Sasl;
using Xunit;

namespace KafkaClient.Tests.Sasl;

public sealed class ScramSaslAuthenticatorTests
{
    private const ErrorCode SaslAuthenticationFailed = (ErrorCode)58;
    private const string Secret = "S3cr3t-Pa55word!";

    // RFC 7677 section 3 test vector.
    private const string RfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
    private const string RfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string RfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string RfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    [Fact]
    public async Task Rfc7677_test_vector_produces_the_expected_messages_and_accepts_the_server_signature()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", "pencil", nonceGenerator: () => RfcClientNonce);

        scram.MechanismName.Should().Be("SCRAM-SHA-256");
        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        Encoding.UTF8.GetString(clientFirst).Should().Be("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");

        byte[]? clientFinal = scram.EvaluateChallenge(Encoding.UTF8.GetBytes(RfcServerFirst));
        Encoding.UTF8.GetString(clientFinal!).Should().Be(RfcClientFinal);
        scram.IsComplete.Should().BeFalse();

        scram.EvaluateChallenge(Encoding.UTF8.GetBytes(RfcServerFinal)).Should().BeNull();
        scram.IsComplete.Should().BeTrue();
    }

    [Theory]
    [InlineData(SaslMechanism.ScramSha256)]
    [InlineData(SaslMechanism.ScramSha512)]
    public async Task Full_exchange_with_an_independent_rfc5802_server_succeeds(SaslMechanism mechanism)
    {
        var server = new TestScramServer(mechanism, "alice", "correct horse ☃ battery", iterations: 4096);
        var scram = new ScramSaslAuthenticator(mechanism, "alice", "correct horse ☃ battery");

        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        byte[] serverFirst = server.HandleClientFirst(clientFirst);
        byte[] clientFinal = scram.EvaluateChallenge(serverFirst)!;
        byte[] serverFinal = server.HandleClientFinal(clientFinal);

        server.ProofVerified.Should().BeTrue("the server's own RFC 5802 computation must accept the client's proof");
        scram.EvaluateChallenge(serverFinal).Should().BeNull();
        scram.IsComplete.Should().BeTrue();
    }

    [Fact]
    public async Task ScramSha512_client_final_matches_an_independent_computation()
    {
        const string clientNonce = "fyko+d2lbbFgONRv9qkxdawL";
        const string serverNonce = clientNonce + "3rfcNHYJY1ZVvWVs7j";
        byte[] salt = Convert.FromBase64String("QSXCR+Q6sek8bf92");
        string serverFirst = $"r={serverNonce},s={Convert.ToBase64String(salt)},i=4096";

        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha512, "user", "pencil", nonceGenerator: () => clientNonce);
        scram.MechanismName.Should().Be("SCRAM-SHA-512");
        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        string clientFinal = Encoding.UTF8.GetString(scram.EvaluateChallenge(Encoding.UTF8.GetBytes(serverFirst))!);

        // RFC 5802 section 3, computed here with HMACSHA512 instances and a hand-written Hi().
        string authMessage = $"n=user,r={clientNonce},{serverFirst},c=biws,r={serverNonce}";
        byte[] saltedPassword = TestScramServer.Hi(HashAlgorithmName.SHA512, Encoding.UTF8.GetBytes("pencil"), salt, 4096);
        byte[] clientKey = TestScramServer.Hmac(HashAlgorithmName.SHA512, saltedPassword, "Client Key"u8.ToArray());
        byte[] storedKey = SHA512.Create().ComputeHash(clientKey);
        byte[] clientSignature = TestScramServer.Hmac(HashAlgorithmName.SHA512, storedKey, Encoding.UTF8.GetBytes(authMessage));
        byte[] proof = clientKey.Zip(clientSignature, (a, b) => (byte)(a ^ b)).ToArray();
        byte[] serverKey = TestScramServer.Hmac(HashAlgorithmName.SHA512, saltedPassword, "Server Key"u8.ToArray());
        byte[] serverSignature = TestScramServer.Hmac(HashAlgorithmName.SHA512, serverKey, Encoding.UTF8.GetBytes(authMessage));

        Encoding.UTF8.GetString(clientFirst).Should().Be($"n,,n=user,r={clientNonce}");
        clientFinal.Should().Be($"c=biws,r={serverNonce},p={Convert.ToBase64String(proof)}");
        scram.EvaluateChallenge(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature))).Should().BeNull();
        scram.IsComplete.Should().BeTrue();
    }

    [Theory]
    [InlineData(SaslMechanism.ScramSha256)]
    [InlineData(SaslMechanism.ScramSha512)]
    public async Task Mismatched_server_signature_is_rejected(SaslMechanism mechanism)
    {
        var server = new TestScramServer(mechanism, "alice", Secret, iterations: 4096);
        var scram = new ScramSaslAuthenticator(mechanism, "alice", Secret);
        byte[] serverFirst = server.HandleClientFirst(await scram.CreateInitialResponseAsync(CancellationToken.None));
        byte[] serverFinal = server.HandleClientFinal(scram.EvaluateChallenge(serverFirst)!);

        // Flip one bit of the signature.
        byte[] signature = Convert.FromBase64String(Encoding.ASCII.GetString(serverFinal)[2..]);
        signature[^1] ^= 1;
        byte[] forged = Encoding.ASCII.GetBytes("v=" + Convert.ToBase64String(signature));

        Action act = () => scram.EvaluateChallenge(forged);
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == SaslAuthenticationFailed && e.Message.Contains("server signature") && !e.Message.Contains(Secret));
        scram.IsComplete.Should().BeFalse();

        // The exchange is over: the genuine signature is no longer accepted either.
        Action again = () => scram.EvaluateChallenge(serverFinal);
        again.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public async Task Server_signature_of_the_wrong_length_is_rejected()
    {
        var scram = await AtServerFinalAsync();
        Action act = () => scram.EvaluateChallenge("v=AAAA"u8);
        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(SaslAuthenticationFailed);
    }

    [Theory]
    [InlineData("r=someoneElsesNonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")]
    [InlineData("r=XrOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")] // server added nothing
    public async Task Server_nonce_that_does_not_extend_the_client_nonce_is_rejected(string serverFirst)
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret, nonceGenerator: () => RfcClientNonce);
        await scram.CreateInitialResponseAsync(CancellationToken.None);

        Action act = () => scram.EvaluateChallenge(Encoding.UTF8.GetBytes(serverFirst));
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == SaslAuthenticationFailed && e.Message.Contains("nonce"));
        scram.IsComplete.Should().BeFalse();
    }

    [Theory]
    [InlineData(SaslMechanism.ScramSha256, 4095)]
    [InlineData(SaslMechanism.ScramSha512, 4095)]
    [InlineData(SaslMechanism.ScramSha256, 1)]
    [InlineData(SaslMechanism.ScramSha512, 0)]
    public async Task Iteration_count_below_4096_is_rejected(SaslMechanism mechanism, int iterations)
    {
        var scram = new ScramSaslAuthenticator(mechanism, "user", Secret, nonceGenerator: () => "abc");
        await scram.CreateInitialResponseAsync(CancellationToken.None);

        Action act = () => scram.EvaluateChallenge(Encoding.UTF8.GetBytes($"r=abcdef,s=QSXCR+Q6sek8bf92,i={iterations}"));
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == SaslAuthenticationFailed && e.Message.Contains("4096"));
    }

    [Theory]
    [InlineData("m=must-understand,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096")]
    [InlineData("r=abcdef,i=4096")]
    [InlineData("s=QSXCR+Q6sek8bf92,r=abcdef,i=4096")]
    [InlineData("r=abcdef,s=not*base64,i=4096")]
    [InlineData("r=abcdef,s=,i=4096")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=-5000")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999999")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92")]
    [InlineData("r=abc def,s=QSXCR+Q6sek8bf92,i=4096")]
    [InlineData("")]
    public async Task Malformed_server_first_message_is_rejected(string serverFirst)
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret, nonceGenerator: () => "abc");
        await scram.CreateInitialResponseAsync(CancellationToken.None);

        Action act = () => scram.EvaluateChallenge(Encoding.UTF8.GetBytes(serverFirst));
        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(SaslAuthenticationFailed);
    }

    [Fact]
    public async Task Server_first_that_is_not_utf8_is_rejected()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret, nonceGenerator: () => "abc");
        await scram.CreateInitialResponseAsync(CancellationToken.None);

        Action act = () => scram.EvaluateChallenge(new byte[] { (byte)'r', (byte)'=', 0xFF, 0xFE });
        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(SaslAuthenticationFailed);
    }

    [Fact]
    public async Task Trailing_server_first_extensions_are_ignored()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", "pencil", nonceGenerator: () => RfcClientNonce);
        await scram.CreateInitialResponseAsync(CancellationToken.None);

        // An unknown trailing extension changes the AuthMessage, so only check a client-final is produced.
        byte[]? clientFinal = scram.EvaluateChallenge(Encoding.UTF8.GetBytes(RfcServerFirst + ",x=whatever"));
        Encoding.UTF8.GetString(clientFinal!).Should().StartWith("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=");
    }

    [Fact]
    public async Task Server_error_attribute_fails_with_the_error_value()
    {
        var scram = await AtServerFinalAsync();

        Action act = () => scram.EvaluateChallenge("e=invalid-proof"u8);
        act.Should().Throw<KafkaException>()
            .Which.Should().Match<KafkaException>(e => e.ErrorCode == SaslAuthenticationFailed && e.Message.Contains("invalid-proof") && !e.Message.Contains("pencil"));
        scram.IsComplete.Should().BeFalse();
    }

    [Theory]
    [InlineData("")]
    [InlineData("x=1")]
    [InlineData("v=***")]
    public async Task Malformed_server_final_message_is_rejected(string serverFinal)
    {
        var scram = await AtServerFinalAsync();
        Action act = () => scram.EvaluateChallenge(Encoding.UTF8.GetBytes(serverFinal));
        act.Should().Throw<KafkaException>().Which.ErrorCode.Should().Be(SaslAuthenticationFailed);
    }

    [Theory]
    [InlineData("user", "n=user")]
    [InlineData("a=b", "n=a=3Db")]
    [InlineData("a,b", "n=a=2Cb")]
    [InlineData("=,=2C", "n==3D=2C=3D2C")]
    [InlineData("Ünïcødé user", "n=Ünïcødé user")]
    public async Task User_name_is_escaped_and_otherwise_sent_as_is(string username, string expected)
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, username, Secret, nonceGenerator: () => "nonce");
        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        Encoding.UTF8.GetString(clientFirst).Should().Be($"n,,{expected},r=nonce");
        ScramSaslAuthenticator.EscapeUsername(username).Should().Be(expected[2..]);
    }

    [Fact]
    public async Task Extensions_are_appended_to_the_client_first_message_in_key_order()
    {
        var extensions = new Dictionary<string, string> { ["tokenauth"] = "true", ["abc"] = "x=y" };
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha512, "tokenid", Secret, extensions, () => "nonce");
        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        Encoding.UTF8.GetString(clientFirst).Should().Be("n,,n=tokenid,r=nonce,abc=x=y,tokenauth=true");
    }

    [Fact]
    public async Task Extensions_take_part_in_the_auth_message()
    {
        var extensions = new Dictionary<string, string> { ["tokenauth"] = "true" };
        var server = new TestScramServer(SaslMechanism.ScramSha256, "tokenid", Secret, iterations: 8192);
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "tokenid", Secret, extensions);

        byte[] serverFirst = server.HandleClientFirst(await scram.CreateInitialResponseAsync(CancellationToken.None));
        byte[] serverFinal = server.HandleClientFinal(scram.EvaluateChallenge(serverFirst)!);
        server.ProofVerified.Should().BeTrue();
        scram.EvaluateChallenge(serverFinal).Should().BeNull();
        scram.IsComplete.Should().BeTrue();
    }

    [Theory]
    [InlineData("n", "x")]
    [InlineData("token-auth", "x")]
    [InlineData("tokenauth", "a,b")]
    [InlineData("tokenauth", "a\nb")]
    public void Malformed_extensions_are_rejected(string key, string value)
    {
        var extensions = new Dictionary<string, string> { [key] = value };
        Action act = () => _ = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret, extensions);
        act.Should().Throw<ArgumentException>();
    }

    [Fact]
    public async Task Default_nonce_is_32_random_alphanumerics()
    {
        var first = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret);
        var second = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret);
        string a = Encoding.UTF8.GetString(await first.CreateInitialResponseAsync(CancellationToken.None))["n,,n=user,r=".Length..];
        string b = Encoding.UTF8.GetString(await second.CreateInitialResponseAsync(CancellationToken.None))["n,,n=user,r=".Length..];

        a.Should().HaveLength(32).And.MatchRegex("^[A-Za-z0-9]+$");
        b.Should().HaveLength(32).And.NotBe(a);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a,b")]
    [InlineData("a b")]
    public async Task Unusable_injected_nonce_is_refused(string nonce)
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret, nonceGenerator: () => nonce);
        Func<Task> act = async () => await scram.CreateInitialResponseAsync(CancellationToken.None);
        await act.Should().ThrowAsync<InvalidOperationException>();
    }

    [Fact]
    public async Task Calls_out_of_order_are_refused()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", Secret);
        Action early = () => scram.EvaluateChallenge("r=x"u8);
        early.Should().Throw<InvalidOperationException>();

        await scram.CreateInitialResponseAsync(CancellationToken.None);
        Func<Task> twice = async () => await scram.CreateInitialResponseAsync(CancellationToken.None);
        await twice.Should().ThrowAsync<InvalidOperationException>();
    }

    [Fact]
    public void Constructor_refuses_bad_arguments()
    {
        Action emptyUser = () => _ = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "", Secret);
        Action notScram = () => _ = new ScramSaslAuthenticator(SaslMechanism.Plain, "user", Secret);
        emptyUser.Should().Throw<ArgumentException>();
        notScram.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public async Task Password_appears_in_no_message_or_exception()
    {
        var messages = new List<string>();
        var server = new TestScramServer(SaslMechanism.ScramSha256, "alice", Secret, iterations: 4096);
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "alice", Secret);
        byte[] clientFirst = await scram.CreateInitialResponseAsync(CancellationToken.None);
        byte[] clientFinal = scram.EvaluateChallenge(server.HandleClientFirst(clientFirst))!;
        messages.Add(Encoding.UTF8.GetString(clientFirst));
        messages.Add(Encoding.UTF8.GetString(clientFinal));
        messages.Add(scram.ToString()!);
        messages.Add(scram.CreateFailure("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256").Message);

        foreach (string serverFinal in new[] { "e=other-error", "v=AAAA", "garbage" })
        {
            var fresh = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "alice", Secret);
            var freshServer = new TestScramServer(SaslMechanism.ScramSha256, "alice", Secret, iterations: 4096);
            fresh.EvaluateChallenge(freshServer.HandleClientFirst(await fresh.CreateInitialResponseAsync(CancellationToken.None)));
            try
            {
                fresh.EvaluateChallenge(Encoding.UTF8.GetBytes(serverFinal));
            }
            catch (KafkaException e)
            {
                messages.Add(e.ToString());
            }
        }

        messages.Should().HaveCount(7).And.OnlyContain(m => !m.Contains(Secret));
    }

    [Fact]
    public void Broker_rejection_becomes_an_authentication_failure()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha512, "user", Secret);
        KafkaException failure = scram.CreateFailure("Authentication failed\u0000 due to invalid credentials");
        failure.ErrorCode.Should().Be(SaslAuthenticationFailed);
        failure.IsRetriable.Should().BeFalse();
        // EndWith: the error layer may prefix the protocol name of the code.
        failure.Message.Should().EndWith("SASL authentication with mechanism SCRAM-SHA-512 failed: Authentication failed? due to invalid credentials.");
    }

    private static async Task<ScramSaslAuthenticator> AtServerFinalAsync()
    {
        var scram = new ScramSaslAuthenticator(SaslMechanism.ScramSha256, "user", "pencil", nonceGenerator: () => RfcClientNonce);
        await scram.CreateInitialResponseAsync(CancellationToken.None);
        scram.EvaluateChallenge(Encoding.UTF8.GetBytes(RfcServerFirst));
        return scram;
    }
}

/// <summary>
/// The server side of RFC 5802, written independently of the production code (HMAC instances and a
/// hand-written Hi), for checking the client against.
/// </summary>
internal sealed class TestScramServer
{
    private readonly HashAlgorithmName _hash;
    private readonly string _username;
    private readonly byte[] _salt = RandomNumberGenerator.GetBytes(16);
    private readonly int _iterations;
    private readonly byte[] _storedKey;
    private readonly byte[] _serverKey;
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private string _nonce = "";

    public TestScramServer(SaslMechanism mechanism, string username, string password, int iterations)
    {
        _hash = mechanism == SaslMechanism.ScramSha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;
        _username = username;
        _iterations = iterations;
        byte[] salted = Hi(_hash, Encoding.UTF8.GetBytes(password), _salt, iterations);
        byte[] clientKey = Hmac(_hash, salted, Encoding.ASCII.GetBytes("Client Key"));
        _storedKey = _hash == HashAlgorithmName.SHA512 ? SHA512.Create().ComputeHash(clientKey) : SHA256.Create().ComputeHash(clientKey);
        _serverKey = Hmac(_hash, salted, Encoding.ASCII.GetBytes("Server Key"));
    }

    public bool ProofVerified { get; private set; }

    public byte[] HandleClientFirst(byte[] message)
    {
        string text = Encoding.UTF8.GetString(message);
        text.Should().StartWith("n,,");
        _clientFirstBare = text[3..];
        string[] parts = _clientFirstBare.Split(',');
        parts[0].Should().Be("n=" + _username.Replace("=", "=3D").Replace(",", "=2C"));
        _nonce = parts[1][2..] + "ServerPart" + Guid.NewGuid().ToString("N");
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_salt)},i={_iterations}";
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    public byte[] HandleClientFinal(byte[] message)
    {
        string text = Encoding.UTF8.GetString(message);
        int proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        string withoutProof = text[..proofAt];
        withoutProof.Should().Be($"c=biws,r={_nonce}");
        byte[] proof = Convert.FromBase64String(text[(proofAt + 3)..]);

        byte[] authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        byte[] clientSignature = Hmac(_hash, _storedKey, authMessage);
        byte[] clientKey = proof.Zip(clientSignature, (a, b) => (byte)(a ^ b)).ToArray();
        byte[] storedKey = _hash == HashAlgorithmName.SHA512 ? SHA512.Create().ComputeHash(clientKey) : SHA256.Create().ComputeHash(clientKey);
        ProofVerified = storedKey.SequenceEqual(_storedKey);
        if (!ProofVerified)
        {
            return "e=invalid-proof"u8.ToArray();
        }

        return Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(Hmac(_hash, _serverKey, authMessage)));
    }

    public static byte[] Hmac(HashAlgorithmName hash, byte[] key, byte[] data)
    {
        using HMAC hmac = hash == HashAlgorithmName.SHA512 ? new HMACSHA512(key) : new HMACSHA256(key);
        return hmac.ComputeHash(data);
    }

    // RFC 5802 Hi(str, salt, i): U1 = HMAC(str, salt + INT(1)), Ui = HMAC(str, Ui-1), result = U1 XOR ... XOR Ui.
    public static byte[] Hi(HashAlgorithmName hash, byte[] password, byte[] salt, int iterations)
    {
        byte[] u = Hmac(hash, password, [.. salt, 0, 0, 0, 1]);
        byte[] result = (byte[])u.Clone();
        for (int i = 1; i < iterations; i++)
        {
            u = Hmac(hash, password, u);
            for (int j = 0; j < result.Length; j++)
            {
                result[j] ^= u[j];
            }
        }

        return result;
    }
}
