using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
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
    private readonly Socket _socket;
    private readonly int _brokerId;
    private readonly ClusterState _cluster;
    private readonly ApiHandlerRegistry _handlers;
    private readonly ILogger _logger;
    private readonly string _id;
    private readonly string _clientHost;

    public BrokerConnection(Socket socket, int brokerId, ClusterState cluster, ApiHandlerRegistry handlers, ILogger logger)
    {
        _socket = socket;
        _brokerId = brokerId;
        _cluster = cluster;
        _handlers = handlers;
        _logger = logger;
        _id = $"broker {brokerId} <- {socket.RemoteEndPoint}";
        _clientHost = socket.RemoteEndPoint is System.Net.IPEndPoint ip ? "/" + ip.Address : "";
    }

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
        NetworkStream stream;
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
        await using var _ = stream.ConfigureAwait(false);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var frames = new List<byte[]>();
        Log.ConnectionOpened(_logger, _id);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                frames.Clear();
                bool corrupt = false;
                while (TryReadFrame(ref buffer, out byte[]? frame, out corrupt))
                {
                    frames.Add(frame!);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                foreach (byte[] frame in frames)
                {
                    ValueTask<bool> handled = ProcessAsync(frame, writer, cancellationToken);
                    if (!handled.IsCompleted)
                    {
                        // Do not hold earlier responses back while this one waits (a long-poll fetch).
                        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                    if (!await handled.ConfigureAwait(false))
                    {
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

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte[]? frame, out bool corrupt)
    {
        frame = null;
        corrupt = false;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        int length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length < 8 || length > _cluster.Options.MaxRequestSize)
        {
            Log.BadFrame(_logger, _id, length);
            corrupt = true;
            return false;
        }
        if (buffer.Length < 4L + length)
        {
            return false;
        }
        frame = buffer.Slice(4, length).ToArray();
        buffer = buffer.Slice(4L + length);
        return true;
    }

    /// <summary>Handles one request frame and writes its response; false closes the connection.</summary>
    private async ValueTask<bool> ProcessAsync(byte[] frame, PipeWriter writer, CancellationToken cancellationToken)
    {
        short apiKey = BinaryPrimitives.ReadInt16BigEndian(frame);
        short version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
        int correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
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

        var descriptor = KafkaApis.All.First(d => d.Key == (ApiKey)apiKey);
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

        var context = new RequestContext
        {
            BrokerId = _brokerId,
            Cluster = _cluster,
            Header = header,
            ConnectionId = _id,
            ClientHost = _clientHost,
        };
        IKafkaResponse? response;
        var receivedAt = _cluster.Options.TimeProvider.GetUtcNow();
        if (_cluster.Faults.TryTake((ApiKey)apiKey, _brokerId, out var fault))
        {
            if (fault.CloseConnection)
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
        if (response is not null)
        {
            short responseHeaderVersion = apiKey == (short)ApiKey.ApiVersions || !flexible ? (short)0 : (short)1;
            if (!TryWrite(writer, correlationId, responseHeaderVersion, response, version))
            {
                return false;
            }
        }
        return !context.CloseConnection;
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
}
