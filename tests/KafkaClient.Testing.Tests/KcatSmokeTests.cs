using System.Diagnostics;
using FluentAssertions;

namespace KafkaClient.Testing.Tests;

/// <summary>Runs tests/smoke/kcat-smoke.sh: kcat (librdkafka's CLI) against the local-cluster command.</summary>
public sealed class KcatSmokeTests
{
    [Fact]
    public async Task Kcat_sees_every_broker_and_reads_back_lz4_records_from_the_local_cluster_command()
    {
        Assert.SkipWhen(FindOnPath("kcat") is null, "kcat is not installed (Debian package kcat; .ci/run installs it).");
        string root = RepositoryRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        string dll = Path.Combine(root, "src", "KafkaClient.LocalCluster", "bin", configuration, "net10.0", "KafkaClient.LocalCluster.dll");
        File.Exists(dll).Should().BeTrue($"the test project builds the local-cluster command ({dll})");

        var start = new ProcessStartInfo("bash", [Path.Combine(root, "tests", "smoke", "kcat-smoke.sh"), dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        string log = await output + await errors;
        process.ExitCode.Should().Be(0, log);
        log.Should().Contain("1000 lz4 records read back");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

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
