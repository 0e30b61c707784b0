using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;
using KafkaClient.TestBrokers;

namespace KafkaClient.IntegrationTests;

/// <summary>Brokers going away mid-request: typed errors, then recovery. Each test owns its cluster.</summary>
public sealed class BrokerFailureTests
{
    [Fact]
    public async Task A_broker_set_down_mid_request_fails_that_request_and_the_next_one_reconnects()
    {
        using var cluster = LibrdkafkaMockCluster.Start(3);
        var options = KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers, RequestTimeout = TimeSpan.FromSeconds(20) };
        await using var client = await KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        // A slow broker keeps the request in flight while we take the broker down.
        cluster.SetBrokerRtt(2, 2_000);
        var inFlight = client.SendAsync(new MetadataRequest { Topics = [] }, 2, ConnectionPurpose.General, TestContext.Current.CancellationToken);
        await Task.Delay(200, TestContext.Current.CancellationToken); // let the request reach the socket; the assertion below does not depend on this timing
        cluster.SetBrokerDown(2);

        var failure = await FluentActions.Awaiting(() => inFlight).Should().ThrowAsync<KafkaConnectionException>();
        failure.Which.IsRetriable.Should().BeTrue();

        cluster.SetBrokerRtt(2, 0);
        cluster.SetBrokerUp(2);
        var response = await client.SendAsync(new MetadataRequest { Topics = [] }, 2, ConnectionPurpose.General, TestContext.Current.CancellationToken);
        response.Brokers.Should().HaveCount(3);
    }

    [Fact]
    public async Task Request_timeout_fails_the_request_with_a_timeout_error()
    {
        using var cluster = LibrdkafkaMockCluster.Start(1);
        var options = KafkaClientOptions.Default with { BootstrapServers = cluster.BootstrapServers, RequestTimeout = TimeSpan.FromMilliseconds(300) };
        await using var client = await KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);
        await client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, TestContext.Current.CancellationToken);
        cluster.SetBrokerRtt(1, 3_000);

        var act = () => client.SendAsync(new MetadataRequest { Topics = [] }, 1, ConnectionPurpose.General, TestContext.Current.CancellationToken);
        await act.Should().ThrowAsync<KafkaTimeoutException>();
    }

    [Fact]
    public async Task Nothing_listening_is_a_typed_connection_error()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var options = KafkaClientOptions.Default with { BootstrapServers = $"127.0.0.1:{port}", ConnectTimeout = TimeSpan.FromSeconds(2) };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);
        (await act.Should().ThrowAsync<KafkaConnectionException>()).Which.Message.Should().Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_garbage_frame_length_is_a_protocol_error_not_an_allocation()
    {
        // A server that answers anything with a 2 GiB length prefix.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync(TestContext.Current.CancellationToken);
            var buffer = new byte[1024];
            await socket.ReceiveAsync(buffer, TestContext.Current.CancellationToken);
            await socket.SendAsync(new byte[] { 0x7F, 0xFF, 0xFF, 0xF0, 0, 0, 0, 0 }, TestContext.Current.CancellationToken);
            await Task.Delay(2_000, TestContext.Current.CancellationToken);
        }, TestContext.Current.CancellationToken);
        var options = KafkaClientOptions.Default with { BootstrapServers = $"127.0.0.1:{port}", ConnectTimeout = TimeSpan.FromSeconds(5) };

        var act = () => KafkaProtocolClient.ConnectAsync(options, TestContext.Current.CancellationToken);
        var thrown = await act.Should().ThrowAsync<KafkaConnectionException>();
        var causes = new List<Exception>();
        for (Exception? e = thrown.Which; e is not null; e = e.InnerException)
        {
            causes.Add(e);
        }
        causes.OfType<KafkaProtocolException>().Should().ContainSingle().Which.Message.Should().Contain("MaxResponseSize");
        listener.Stop();
    }
}
