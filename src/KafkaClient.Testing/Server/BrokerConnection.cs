using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Diagnostics;
using KafkaClient.Testing.State;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Testing.Server;

/// <summary>
/// One client connection to one broker: reads 4-byte framed requests, decodes header and body
/// with the codec, dispatches to the registered handler, and writes responses in request order
/// (Kafka handles one request per connection at a time). Responses of requests that completed
/// synchronously are coalesced into one flush.
/// </summary>
internal sealed class BrokerConnection
{
    /// <summary>How long a client may take to complete the TLS handshake.</summary>
    private static readonly TimeSpan TlsHandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly int _brokerId;
    private readonly ClusterState _cluster;
    private readonly ApiHandlerRegistry _handlers;
    private readonly ILogger _logger;
    private readonly string _id;
    private readonly string _clientHost;
    private readonly ListenerSecurity _security;
    private readonly ConnectionSession _session;

    public BrokerConnection(Socket socket, int brokerId, ClusterState cluster, ApiHandlerRegistry handlers, ListenerSecurity security, ILogger logger)
    {
        _socket = socket;
        _brokerId = brokerId;
        _cluster = cluster;
        _handlers = handlers;
        _logger = logger;
        _id = $"broker {brokerId} <- {socket.RemoteEndPoint}";
        string address = socket.RemoteEndPoint is System.Net.IPEndPoint ip ? ip.Address.ToString() : "";
        _clientHost = address.Length > 0 ? "/" + address : "";
        _security = security;
        _session = new ConnectionSession(security.Sasl, address);
    }

    /// <summary>The connection's authentication state (tests read the principal).</summary>
    public ConnectionSession Session => _session;

    /// <summary>Closes the socket; the loop ends.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = new NetworkStream(_socket, ownsSocket: true);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Aborted (broker stopping) between accept and the start of this loop.
            _socket.Dispose();
            return;
        }
        if (_security.Tls is { } tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TlsHandshakeTimeout);
                await ssl.AuthenticateAsServerAsync(tls, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
                Log.TlsHandshakeFailed(_logger, _id, ex);
                await ssl.DisposeAsync().ConfigureAwait(false);
                Abort();
                return;
            }
            stream = ssl;
        }
        await using var _ = stream.ConfigureAwait(false);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var frames = new List<RequestFrame>();
        Log.ConnectionOpened(_logger, _id);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                frames.Clear();
                bool corrupt = false;
                while (TryReadFrame(ref buffer, out RequestFrame frame, out corrupt))
                {
                    frames.Add(frame);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                for (int i = 0; i < frames.Count; i++)
                {
                    bool keepOpen;
                    try
                    {
                        ValueTask<bool> handled = ProcessAsync(frames[i].Memory, writer, cancellationToken);
                        if (!handled.IsCompleted)
                        {
                            // Do not hold earlier responses back while this one waits (a long-poll fetch).
                            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                        }
                        keepOpen = await handled.ConfigureAwait(false);
                    }
                    finally
                    {
                        frames[i].Return();
                    }
                    if (!keepOpen)
                    {
                        for (int j = i + 1; j < frames.Count; j++)
                        {
                            frames[j].Return();
                        }
                        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                        return;
                    }
                }
                if (frames.Count > 0)
                {
                    FlushResult flushed = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (flushed.IsCompleted)
                    {
                        return;
                    }
                }
                if (corrupt || result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            Log.ConnectionClosed(_logger, _id);
            await reader.CompleteAsync().ConfigureAwait(false);
            try
            {
                await writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            Abort();
        }
    }

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out RequestFrame frame, out bool corrupt)
    {
        frame = default;
        corrupt = false;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        int length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        // A bare SASL token (after SaslHandshake v0) may be shorter than any request header.
        int minimum = _session.State == SaslState.AwaitingRawToken ? 0 : 8;
        if (length < minimum || length > _cluster.Options.MaxRequestSize)
        {
            Log.BadFrame(_logger, _id, length);
            corrupt = true;
            return false;
        }
        if (buffer.Length < 4L + length)
        {
            return false;
        }
        var body = buffer.Slice(4, length);
        frame = RequestFrame.Copy(body, pooled: IsProduce(body) && _session.State != SaslState.AwaitingRawToken);
        buffer = buffer.Slice(4L + length);
        return true;
    }

    private static bool IsProduce(ReadOnlySequence<byte> body)
    {
        Span<byte> key = stackalloc byte[2];
        body.Slice(0, 2).CopyTo(key);
        return BinaryPrimitives.ReadInt16BigEndian(key) == (short)ApiKey.Produce;
    }

    /// <summary>Handles one request frame and writes its response; false closes the connection.</summary>
    private async ValueTask<bool> ProcessAsync(ReadOnlyMemory<byte> frame, PipeWriter writer, CancellationToken cancellationToken)
    {
        if (_session.State == SaslState.AwaitingRawToken)
        {
            return ProcessRawSaslToken(frame.ToArray(), writer);
        }
        short apiKey = BinaryPrimitives.ReadInt16BigEndian(frame.Span);
        short version = BinaryPrimitives.ReadInt16BigEndian(frame.Span[2..]);
        int correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.Span[4..]);
        IApiHandler? handler = _handlers.Get(apiKey);
        if (handler is null)
        {
            Log.UnsupportedApi(_logger, _id, apiKey, version);
            return false;
        }
        if (version < handler.MinVersion || version > handler.MaxVersion)
        {
            if (apiKey == (short)ApiKey.ApiVersions)
            {
                // Real brokers answer an ApiVersions version they do not know with a v0 body listing
                // their ranges, so the client can retry with a version both sides speak.
                var fallback = new ApiVersionsResponse
                {
                    ErrorCode = (short)ErrorCode.UnsupportedVersion,
                    ApiKeys = Handlers.ApiVersionsHandler.ListApis(_handlers),
                };
                return TryWrite(writer, correlationId, 0, fallback, 0);
            }
            Log.UnsupportedApi(_logger, _id, apiKey, version);
            return false;
        }

        var descriptor = handler.Descriptor;
        bool flexible = descriptor.FirstFlexibleVersion >= 0 && version >= descriptor.FirstFlexibleVersion;
        RequestHeader header;
        IKafkaRequest request;
        try
        {
            var reader = new ProtocolReader(frame);
            header = RequestHeader.Read(ref reader, flexible ? (short)2 : (short)1);
            request = KafkaApis.ReadRequest((ApiKey)apiKey, ref reader, version);
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            Log.MalformedRequest(_logger, _id, apiKey, version, ex);
            return false;
        }

        if (!_session.Allows((ApiKey)apiKey))
        {
            // Kafka's SaslServerAuthenticator: any other request before authentication is an
            // IllegalSaslStateException, and the connection is closed.
            Log.RequestBeforeAuthentication(_logger, _id, apiKey, _session.State.ToString());
            return false;
        }

        var context = new RequestContext
        {
            BrokerId = _brokerId,
            Cluster = _cluster,
            Header = header,
            ConnectionId = _id,
            ClientHost = _clientHost,
            Session = _session,
        };
        if (_cluster.Faults.IsCutOff(header.ClientId))
        {
            return false;
        }
        IKafkaResponse? response;
        var faults = _cluster.Faults;
        var receivedAt = _cluster.Options.TimeProvider.GetUtcNow();
        if (faults.TryTake((ApiKey)apiKey, _brokerId, out var fault, FaultKind.Error, FaultKind.Disconnect))
        {
            if (fault.Kind == FaultKind.Disconnect)
            {
                Observe(header, request, null, receivedAt);
                return false;
            }
            if (fault.Delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(fault.Delay, _cluster.Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return false;
                }
            }
            response = handler.ErrorResponse(context, request, fault.Error);
        }
        else
        {
            try
            {
                response = await handler.HandleAsync(context, request, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(_logger, _id, apiKey, version, ex);
                response = handler.ErrorResponse(context, request, ErrorCode.UnknownServerError);
            }
        }
        Observe(header, request, response, receivedAt);
        if (response is null)
        {
            return !context.CloseConnection;
        }
        var time = _cluster.Options.TimeProvider;
        if (faults.TryTake((ApiKey)apiKey, _brokerId, out var latency, FaultKind.Latency))
        {
            // The connection loop flushes earlier responses before awaiting this one.
            await Task.Delay(latency.Delay, time, cancellationToken).ConfigureAwait(false);
        }
        TimeSpan throttle = TimeSpan.Zero;
        if (faults.TryTake((ApiKey)apiKey, _brokerId, out var throttled, FaultKind.Throttle) && ThrottleTime.TrySet(response, throttled.Delay))
        {
            throttle = throttled.Delay;
        }
        short responseHeaderVersion = apiKey == (short)ApiKey.ApiVersions || !flexible ? (short)0 : (short)1;
        if (faults.TryTake((ApiKey)apiKey, _brokerId, out _, FaultKind.DropMidResponse))
        {
            WritePart(writer, correlationId, responseHeaderVersion, response, version);
            return false;
        }
        if (!TryWrite(writer, correlationId, responseHeaderVersion, response, version))
        {
            return false;
        }
        if (throttle > TimeSpan.Zero)
        {
            // KIP-219: the response goes out at once and the broker then mutes the connection (reads
            // nothing more from it) for the throttle time.
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            await Task.Delay(throttle, time, cancellationToken).ConfigureAwait(false);
        }
        return !context.CloseConnection;
    }

    /// <summary>
    /// Writes the size prefix and about half of a response frame (never all of it), for the
    /// drop-mid-response fault; the caller then closes the connection.
    /// </summary>
    private static void WritePart(PipeWriter output, int correlationId, short headerVersion, IKafkaResponse response, short version)
    {
        var frame = new ArrayBufferWriter<byte>();
        var header = new ResponseHeader { CorrelationId = correlationId };
        var writer = new ProtocolWriter(frame);
        writer.WriteInt32(header.ComputeSize(headerVersion) + response.ComputeSize(version));
        header.Write(ref writer, headerVersion);
        response.Write(ref writer, version);
        writer.Flush();
        int part = 4 + ((frame.WrittenCount - 4) / 2);
        output.Write(frame.WrittenSpan[..part]);
    }

    /// <summary>
    /// A bare SASL token after SaslHandshake v0 (KIP-43): the answer is a bare, size-prefixed
    /// token (empty for PLAIN); a failure closes the connection without an answer, as Kafka does.
    /// </summary>
    private bool ProcessRawSaslToken(byte[] token, PipeWriter writer)
    {
        var step = _session.Exchange!.Evaluate(token);
        if (step.Failure is not null)
        {
            Log.SaslFailed(_logger, _id, _session.Mechanism ?? "", step.Failure);
            return false;
        }
        if (step.AuthenticatedUser is { } user)
        {
            _session.Authenticated(user);
        }
        var span = writer.GetSpan(4 + step.Challenge.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, step.Challenge.Length);
        step.Challenge.CopyTo(span[4..]);
        writer.Advance(4 + step.Challenge.Length);
        return true;
    }

    private void Observe(RequestHeader header, IKafkaRequest request, IKafkaResponse? response, DateTimeOffset receivedAt)
    {
        if (_cluster.RequestHandled is not { } observer)
        {
            return;
        }
        try
        {
            observer(new EmbeddedRequestEventArgs { BrokerId = _brokerId, Header = header, Request = request, Response = response, ReceivedAt = receivedAt });
        }
#pragma warning disable CA1031 // A test's observer must not break the broker.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(_logger, _id, header.RequestApiKey, header.RequestApiVersion, ex);
        }
    }

    private bool TryWrite(PipeWriter output, int correlationId, short headerVersion, IKafkaResponse response, short version)
    {
        try
        {
            var header = new ResponseHeader { CorrelationId = correlationId };
            int size = header.ComputeSize(headerVersion) + response.ComputeSize(version);
            var writer = new ProtocolWriter(output);
            writer.WriteInt32(size);
            header.Write(ref writer, headerVersion);
            response.Write(ref writer, version);
            writer.Flush();
            return true;
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            // Part of the frame may be in the pipe: the stream is unusable.
            Log.ResponseFailed(_logger, _id, (short)response.ApiKey, version, ex);
            return false;
        }
    }

    /// <summary>
    /// One request's bytes (without the size prefix). Produce requests, the only large ones, are
    /// copied into a pooled buffer that is returned once the request is handled: the Produce handler
    /// copies each batch into the log, and a <see cref="EmbeddedKafkaCluster.RequestHandled"/>
    /// observer sees the request before the buffer goes back. Every other request gets its own
    /// array, because handlers keep parts of it (group metadata, SASL tokens).
    /// </summary>
    private readonly struct RequestFrame
    {
        private readonly byte[] _array;
        private readonly int _length;
        private readonly bool _pooled;

        private RequestFrame(byte[] array, int length, bool pooled)
        {
            _array = array;
            _length = length;
            _pooled = pooled;
        }

        public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

        public static RequestFrame Copy(ReadOnlySequence<byte> body, bool pooled)
        {
            int length = (int)body.Length;
            if (!pooled)
            {
                return new RequestFrame(body.ToArray(), length, pooled: false);
            }
            byte[] array = ArrayPool<byte>.Shared.Rent(length);
            body.CopyTo(array);
            return new RequestFrame(array, length, pooled: true);
        }

        public void Return()
        {
            if (_pooled)
            {
                ArrayPool<byte>.Shared.Return(_array);
            }
        }
    }
}
