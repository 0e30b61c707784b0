using FluentAssertions;

namespace KafkaClient.Testing.Tests;

/// <summary>Runs tests/smoke/kcat-smoke.sh: kcat (librdkafka's CLI) against the local-cluster command.</summary>
public sealed class KcatSmokeTests
{
    [Fact]
    public async Task Kcat_sees_every_broker_and_reads_back_lz4_records_from_the_local_cluster_command()
    {
        Assert.SkipWhen(ThirdPartyRecords.FindOnPath("kcat") is null, "kcat is not installed (Debian package kcat; .ci/run installs it).");
        string root = ThirdPartyRecords.RepositoryRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        string dll = Path.Combine(root, "src", "KafkaClient.LocalCluster", "bin", configuration, "net10.0", "KafkaClient.LocalCluster.dll");
        File.Exists(dll).Should().BeTrue($"the test project builds the local-cluster command ({dll})");

        var (exit, output, errors) = await ThirdPartyRecords.RunAsync("bash", [Path.Combine(root, "tests", "smoke", "kcat-smoke.sh"), dll]);
        string log = output + errors;
        exit.Should().Be(0, log);
        log.Should().Contain("1000 lz4 records read back");
    }
}
