using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KafkaClient.Network;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Tests.Sasl;

namespace KafkaClient.Tests.Network;

/// <summary>
/// A minimal single-node broker for connection-level tests: ApiVersions, Metadata, and the SASL
/// handshake (PLAIN or SCRAM), optionally over TLS. Built on the generated codec's server side.
/// </summary>
internal sealed class ScriptedBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2? _certificate;
    private readonly string? _mechanism;
    private readonly string _username;
    private readonly string _password;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public ScriptedBroker(X509Certificate2? certificate = null, string? saslMechanism = null, string username = "alice", string password = "secret")
    {
        _certificate = certificate;
        _mechanism = saslMechanism;
        _username = username;
        _password = password;
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string BootstrapServers => $"localhost:{Port}";

    public int AuthenticatedConnections;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            if (_certificate is not null)
            {
                var ssl = new SslStream(stream);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                stream = ssl;
            }
            TestScramServer? scram = null;
            var lengthBuffer = new byte[4];
            while (!_stop.IsCancellationRequested)
            {
                await stream.ReadExactlyAsync(lengthBuffer, _stop.Token);
                var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(lengthBuffer)];
                await stream.ReadExactlyAsync(frame, _stop.Token);
                var reader = new ProtocolReader(frame);
                var key = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame);
                short version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
                var api = KafkaApis.All.Single(a => a.Key == key);
                bool flexible = api.FirstFlexibleVersion >= 0 && version >= api.FirstFlexibleVersion;
                var header = RequestHeader.Read(ref reader, flexible ? (short)2 : (short)1);
                IKafkaRequest request;
                if (key == ApiKey.ApiVersions && version > ApiVersionsRequest.HighestVersion)
                {
                    request = new ApiVersionsRequest();
                }
                else
                {
                    request = KafkaApis.ReadRequest(key, ref reader, version);
                }
                IProtocolMessage response = request switch
                {
                    ApiVersionsRequest => new ApiVersionsResponse
                    {
                        ApiKeys =
                        [
                            new() { ApiKey = (short)ApiKey.ApiVersions, MinVersion = 0, MaxVersion = 4 },
                            new() { ApiKey = (short)ApiKey.Metadata, MinVersion = 4, MaxVersion = 12 },
                            new() { ApiKey = (short)ApiKey.SaslHandshake, MinVersion = 0, MaxVersion = 1 },
                            new() { ApiKey = (short)ApiKey.SaslAuthenticate, MinVersion = 0, MaxVersion = 2 },
                        ],
                    },
                    MetadataRequest => new MetadataResponse
                    {
                        Brokers = [new() { NodeId = 0, Host = "localhost", Port = Port }],
                        ControllerId = 0,
                        ClusterId = "scripted",
                    },
                    SaslHandshakeRequest handshake => new SaslHandshakeResponse
                    {
                        ErrorCode = handshake.Mechanism == _mechanism ? (short)0 : (short)33,
                        Mechanisms = _mechanism is null ? [] : [_mechanism],
                    },
                    SaslAuthenticateRequest authenticate => Authenticate(authenticate, ref scram),
                    _ => throw new InvalidOperationException($"ScriptedBroker does not answer {key}."),
                };
                var body = new ArrayBufferWriter<byte>();
                var writer = new ProtocolWriter(body);
                var responseHeader = new ResponseHeader { CorrelationId = header.CorrelationId };
                short responseHeaderVersion = request.ResponseHeaderVersion(version);
                writer.WriteInt32(responseHeader.ComputeSize(responseHeaderVersion) + response.ComputeSize(version));
                responseHeader.Write(ref writer, responseHeaderVersion);
                response.Write(ref writer, version);
                writer.Flush();
                await stream.WriteAsync(body.WrittenMemory, _stop.Token);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (System.Security.Authentication.AuthenticationException)
        {
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    private SaslAuthenticateResponse Authenticate(SaslAuthenticateRequest request, ref TestScramServer? scram)
    {
        byte[] bytes = request.AuthBytes.ToArray();
        if (_mechanism == "PLAIN")
        {
            var parts = Encoding.UTF8.GetString(bytes).Split('\0');
            bool ok = parts.Length == 3 && parts[1] == _username && parts[2] == _password;
            if (ok)
            {
                Interlocked.Increment(ref AuthenticatedConnections);
            }
            return ok
                ? new SaslAuthenticateResponse()
                : new SaslAuthenticateResponse { ErrorCode = 58, ErrorMessage = "Authentication failed: Invalid username or password" };
        }
        if (_mechanism == "OAUTHBEARER")
        {
            // RFC 7628 client response: "n,,\x01auth=Bearer <token>\x01\x01"; the password is the token accepted.
            string text = Encoding.UTF8.GetString(bytes);
            bool ok = text.StartsWith("n,,\u0001", StringComparison.Ordinal) && text.Contains($"\u0001auth=Bearer {_password}\u0001", StringComparison.Ordinal);
            if (ok)
            {
                Interlocked.Increment(ref AuthenticatedConnections);
                return new SaslAuthenticateResponse();
            }
            return new SaslAuthenticateResponse { ErrorCode = 58, ErrorMessage = "Authentication failed: invalid token" };
        }
        if (scram is null)
        {
            scram = new TestScramServer(_mechanism == "SCRAM-SHA-512" ? SaslMechanism.ScramSha512 : SaslMechanism.ScramSha256, _username, _password, 4096);
            return new SaslAuthenticateResponse { AuthBytes = scram.HandleClientFirst(bytes) };
        }
        byte[] final = scram.HandleClientFinal(bytes);
        if (!scram.ProofVerified)
        {
            return new SaslAuthenticateResponse { ErrorCode = 58, ErrorMessage = "Authentication failed during authentication due to invalid credentials with SASL mechanism " + _mechanism };
        }
        Interlocked.Increment(ref AuthenticatedConnections);
        return new SaslAuthenticateResponse { AuthBytes = final };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
    }
}
