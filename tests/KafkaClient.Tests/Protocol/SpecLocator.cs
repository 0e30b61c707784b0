namespace KafkaClient.Tests.Protocol;

/// <summary>Finds Apache Kafka's JSON message definitions beside the repository (../shared/kafka-protocol/messages).</summary>
internal static class SpecLocator
{
    public static string? SpecDirectory { get; } = Find();

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SkipReason =>
        "Apache Kafka's message definitions were not found (expected ../shared/kafka-protocol/messages beside the repository, or KAFKACLIENT_SPEC_DIR).";

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KafkaClient.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Repository root (KafkaClient.sln) not found above the test binaries.");
    }

    private static string? Find()
    {
        var fromEnv = Environment.GetEnvironmentVariable("KAFKACLIENT_SPEC_DIR");
        if (!string.IsNullOrEmpty(fromEnv) && Directory.Exists(fromEnv))
        {
            return fromEnv;
        }
        var candidate = Path.GetFullPath(Path.Combine(FindRepositoryRoot(), "..", "shared", "kafka-protocol", "messages"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
