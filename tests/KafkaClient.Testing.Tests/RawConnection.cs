using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using FluentAssertions;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Tests;

/// <summary>
/// A client socket that writes request frames by hand and reads frames back, for what a real
/// client never does (skipping authentication, bare SASL tokens, half-written responses).
/// </summary>
internal sealed class RawConnection : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);
    private readonly NetworkStream _stream;
    private readonly CancellationToken _cancellationToken;
    private int _correlationId;

    private RawConnection(Socket socket, CancellationToken cancellationToken)
    {
        _stream = new NetworkStream(socket, ownsSocket: true);
        _cancellationToken = cancellationToken;
    }

    public static async Task<RawConnection> OpenAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port, cancellationToken);
        return new RawConnection(socket, cancellationToken);
    }

    /// <summary>Writes one request frame with the right header version.</summary>
    public async Task SendAsync(ApiKey apiKey, short version, IKafkaRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new ProtocolWriter(buffer);
        var header = new RequestHeader { RequestApiKey = (short)apiKey, RequestApiVersion = version, CorrelationId = ++_correlationId, ClientId = "raw" };
        short headerVersion = request.RequestHeaderVersion(version);
        writer.WriteInt32(header.ComputeSize(headerVersion) + request.ComputeSize(version));
        header.Write(ref writer, headerVersion);
        request.Write(ref writer, version);
        writer.Flush();
        await _stream.WriteAsync(buffer.WrittenMemory, _cancellationToken);
    }

    /// <summary>Writes a bare, size-prefixed SASL token (after SaslHandshake v0).</summary>
    public async Task SendTokenAsync(byte[] token)
    {
        var frame = new byte[4 + token.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, token.Length);
        token.CopyTo(frame, 4);
        await _stream.WriteAsync(frame, _cancellationToken);
    }

    /// <summary>The next frame's bytes, or null when the broker closed the connection first.</summary>
    public async Task<byte[]?> ReadFrameAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken);
        deadline.CancelAfter(ReadTimeout);
        var prefix = new byte[4];
        try
        {
            await _stream.ReadExactlyAsync(prefix, deadline.Token);
            var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(prefix)];
            await _stream.ReadExactlyAsync(frame, deadline.Token);
            return frame;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return null;
        }
    }

    /// <summary>Decodes a response frame: header (v0 or, for flexible versions, v1), then the body.</summary>
    public static T Read<T>(byte[]? frame, short version, short headerVersion = 0)
        where T : IKafkaResponse<T>
    {
        frame.Should().NotBeNull("a response was expected before the connection closed");
        var reader = new ProtocolReader(frame);
        ResponseHeader.Read(ref reader, headerVersion);
        return T.Read(ref reader, version);
    }

    public void Dispose() => _stream.Dispose();
}
