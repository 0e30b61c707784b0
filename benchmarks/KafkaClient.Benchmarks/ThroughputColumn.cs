using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace KafkaClient.Benchmarks;

/// <summary>
/// Shows GB/s (10^9 bytes per second) from the mean time and the benchmark's bytes per operation,
/// read from a public static <c>BytesPerOperation</c> property on the benchmark class.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);

    public string ColumnName => "GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Throughput in 10^9 bytes per second (bytes per operation / mean time)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        double? meanNs = report?.ResultStatistics?.Mean;
        PropertyInfo? property = benchmarkCase.Descriptor.Type.GetProperty("BytesPerOperation", BindingFlags.Public | BindingFlags.Static);
        if (meanNs is null or <= 0 || property?.GetValue(null) is not long bytes)
        {
            return "-";
        }
        return (bytes / meanNs.Value).ToString("0.00", CultureInfo.InvariantCulture);
    }
}
