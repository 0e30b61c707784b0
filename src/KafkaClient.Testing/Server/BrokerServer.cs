using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using KafkaClient.Testing.Diagnostics;
using KafkaClient.Testing.State;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Testing.Server;

/// <summary>
/// One broker's TCP listener: accepts connections and runs a <see cref="BrokerConnection"/> for
/// each. Stopping closes the listener (the port then refuses connections) and every connection.
/// </summary>
internal sealed class BrokerServer
{
    private readonly ClusterState _cluster;
    private readonly ApiHandlerRegistry _handlers;
    private readonly ILogger _logger;
    private readonly ListenerSecurity _security;
    private readonly ConcurrentDictionary<BrokerConnection, Task> _connections = new();
    private readonly object _lock = new();
    private Socket? _listener;
    private CancellationTokenSource? _stopping;
    private Task _acceptLoop = Task.CompletedTask;

    public BrokerServer(int nodeId, string host, int port, ClusterState cluster, ApiHandlerRegistry handlers, ListenerSecurity security, ILogger logger)
    {
        _security = security;
        NodeId = nodeId;
        Host = host;
        Port = port;
        _cluster = cluster;
        _handlers = handlers;
        _logger = logger;
    }

    public int NodeId { get; }

    public string Host { get; }

    /// <summary>The port; 0 until first started on an ephemeral port, then fixed for restarts.</summary>
    public int Port { get; private set; }

    public bool IsRunning
    {
        get
        {
            lock (_lock)
            {
                return _listener is not null;
            }
        }
    }

    public void Start()
    {
        lock (_lock)
        {
            if (_listener is not null)
            {
                return;
            }
            var address = IPAddress.TryParse(Host, out var ip) ? ip : IPAddress.Loopback;
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                listener.Bind(new IPEndPoint(address, Port));
                listener.Listen(512);
            }
            catch
            {
                listener.Dispose();
                throw;
            }
            Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            _listener = listener;
            _stopping = new CancellationTokenSource();
            _cluster.SetEndpoint(NodeId, Host, Port);
            _acceptLoop = AcceptLoopAsync(listener, _stopping.Token);
        }
        Log.BrokerStarted(_logger, NodeId, Host, Port);
    }

    /// <summary>The connections open now (tests read their principals).</summary>
    public IReadOnlyList<BrokerConnection> Connections => [.. _connections.Keys];

    public async Task StopAsync(TimeSpan timeout)
    {
        Socket? listener;
        CancellationTokenSource? stopping;
        Task acceptLoop;
        lock (_lock)
        {
            listener = _listener;
            stopping = _stopping;
            acceptLoop = _acceptLoop;
            _listener = null;
            _stopping = null;
        }
        if (listener is null || stopping is null)
        {
            return;
        }
        await stopping.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        foreach (var connection in _connections.Keys)
        {
            connection.Abort();
        }
        var all = _connections.Values.Append(acceptLoop).ToArray();
        try
        {
            await Task.WhenAll(all).WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Bounded: whatever has not finished by now is abandoned; its socket is already closed.
        }
        stopping.Dispose();
        Log.BrokerStopped(_logger, NodeId);
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancellationToken)
    {
        await Task.Yield();
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_logger, NodeId, ex);
                continue;
            }
            socket.NoDelay = true;
            var connection = new BrokerConnection(socket, NodeId, _cluster, _handlers, _security, _logger);
            var run = RunConnectionAsync(connection, cancellationToken);
            _connections[connection] = run;
            _ = run.ContinueWith(_ => _connections.TryRemove(connection, out Task? _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static async Task RunConnectionAsync(BrokerConnection connection, CancellationToken cancellationToken)
    {
        await Task.Yield();
        await connection.RunAsync(cancellationToken).ConfigureAwait(false);
    }
}
