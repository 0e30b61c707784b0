using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace KafkaClient.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project benchmarks/KafkaClient.Benchmarks -- --filter '*Crc*'</c>.
/// Every benchmark class exposes its bytes per operation, shown as a GB/s column.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        IConfig config = DefaultConfig.Instance.AddColumn(new ThroughputColumn());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
