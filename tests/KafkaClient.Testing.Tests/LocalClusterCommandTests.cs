using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;
using FluentAssertions;
using KafkaClient.Cluster;
using KafkaClient.Network;

namespace KafkaClient.Testing.Tests;

/// <summary>The local-cluster command's security flags, from a separate process, as a script would use them.</summary>
public sealed class LocalClusterCommandTests
{
    static LocalClusterCommandTests() => KafkaClient.TestBrokers.LibrdkafkaNativeLibrary.ShareWith(typeof(Library).Assembly);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Help_documents_the_security_flags_and_the_ca_line()
    {
        using var process = Start("--help");
        string help = await process.StandardOutput.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);

        process.ExitCode.Should().Be(0);
        help.Should().Contain("--sasl-plain USER:PASS").And.Contain("--sasl-scram USER:PASS").And.Contain("--tls").And.Contain("CA=<path>");
    }

    [Fact]
    public async Task Tls_and_sasl_flags_start_a_sasl_ssl_cluster_that_prints_its_ca_second()
    {
        string caFile = Path.Combine(Path.GetTempPath(), $"local-cluster-ca-{Guid.NewGuid():N}.pem");
        using var process = Start("--brokers", "1", "--tls", "--sasl-scram", "alice:scram-secret", "--sasl-plain", "bob:plain-secret", "--ca-file", caFile);
        try
        {
            string? bootstrapLine = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(60), Ct);
            string? caLine = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            bootstrapLine.Should().StartWith("BOOTSTRAP=");
            caLine.Should().Be($"CA={caFile}");
            string bootstrap = bootstrapLine!["BOOTSTRAP=".Length..];

            using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig
            {
                BootstrapServers = bootstrap,
                SecurityProtocol = SecurityProtocol.SaslSsl,
                SaslMechanism = Confluent.Kafka.SaslMechanism.ScramSha512,
                SaslUsername = "alice",
                SaslPassword = "scram-secret",
                SslCaLocation = caFile,
            }).Build())
            {
                var delivered = await producer.ProduceAsync("from-script", new Message<Null, string> { Value = "hello" }, Ct);
                delivered.Offset.Value.Should().Be(0);
            }

            var authority = X509CertificateLoader.LoadCertificate(X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(caFile, Ct)).RawData);
            var options = KafkaClientOptions.Default with
            {
                BootstrapServers = bootstrap,
                Sasl = new SaslOptions { Mechanism = KafkaClient.Network.SaslMechanism.Plain, Username = "bob", Password = "plain-secret" },
                Tls = new TlsOptions { Enabled = true, CaCertificates = [authority] },
            };
            await using (var client = await KafkaProtocolClient.ConnectAsync(options, Ct))
            {
                client.Metadata.Brokers.Should().ContainSingle();
            }

            var bobWithScram = () => KafkaProtocolClient.ConnectAsync(options with { Sasl = options.Sasl with { Mechanism = KafkaClient.Network.SaslMechanism.ScramSha256 } }, Ct);
            await bobWithScram.Should().ThrowAsync<KafkaClient.Errors.KafkaAuthenticationException>("--sasl-plain gives bob PLAIN only");

            process.StandardInput.Close();
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            process.ExitCode.Should().Be(0);
            File.Exists(caFile).Should().BeFalse("the command deletes the CA file it wrote when it stops");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            File.Delete(caFile);
        }
    }

    private static Process Start(params string[] args)
    {
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        string dll = Path.Combine(RepositoryRoot(), "src", "KafkaClient.LocalCluster", "bin", configuration, "net10.0", "KafkaClient.LocalCluster.dll");
        File.Exists(dll).Should().BeTrue($"the test project builds the local-cluster command ({dll})");
        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
        };
        return Process.Start(start)!;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KafkaClient.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("KafkaClient.sln not found above the test binaries.");
    }
}
