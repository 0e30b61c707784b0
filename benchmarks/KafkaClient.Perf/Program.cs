using KafkaClient.Perf;

return await PerfProgram.MainAsync(args).ConfigureAwait(false);

namespace KafkaClient.Perf
{
    internal static class PerfProgram
    {
        public const string Usage = """
            KafkaClient.Perf: KafkaClient vs Confluent.Kafka, side by side.

              produce --client kafkaclient|confluent [--bootstrap HOSTS] [--topic T] [--messages N] [--size BYTES]
                      [--partitions P] [--acks all|1|0] [--linger-ms L] [--batch-bytes B]
                      [--compression none|gzip|snappy|lz4|zstd] [--idempotent true|false]
                      [--keys none|sequential|random] [--mode callback|async|awaited]
                      [--warmup W] [--window 100000] [--timeout-s 300]
              consume --client kafkaclient|confluent [--bootstrap HOSTS] --topic T [--messages N] [--group G]
                      [--mode stream|batch|callback] [--batch-size 500] [--warmup W] [--timeout-s 300]
                      (--warmup: records read before measuring starts, for steady-state figures)
              compare produce|consume [the command's options except --client] [--rounds 3]
                      [--prefill-client confluent|kafkaclient] (consume: --size/--partitions shape the prefilled topic)
              compare-brokers produce [produce options] [--client confluent|kafkaclient] [--rounds 3]
                      one client against the local-cluster command and librdkafka's mock (each in its own
                      process, started once), alternately; ratios local/mock and each broker's CPU per run

              Without --bootstrap a broker is started in a separate process: src/KafkaClient.LocalCluster when the
              repository has it (extra arguments from KAFKACLIENT_PERF_LOCAL_CLUSTER_ARGS), else librdkafka's mock
              cluster (--broker auto|local|mock, --brokers 3).

              The last line of standard output is one JSON object: client, op, messages, bytes, seconds, msgs_per_sec,
              mb_per_sec, cpu_seconds, cpu_us_per_msg, alloc_bytes_per_msg, p50_ms, p99_ms, errors (+ run details).
              Exit codes: 0 ok, 1 records failed or lost, 2 not implemented for this client, 3 timed out (hang), 64 usage.
            """;

        public static async Task<int> MainAsync(string[] args)
        {
            try
            {
                return args switch
                {
                    ["produce", .. var rest] => await ProduceCommand.RunAsync(CommandLine.Parse(rest)).ConfigureAwait(false),
                    ["consume", .. var rest] => await ConsumeCommand.RunAsync(CommandLine.Parse(rest)).ConfigureAwait(false),
                    ["compare", "produce" or "consume", .. var rest] => await CompareCommand.RunAsync(args[1], CommandLine.Parse(rest)).ConfigureAwait(false),
                    ["compare-brokers", "produce", .. var rest] => await BrokerCompareCommand.RunAsync("produce", CommandLine.Parse(rest)).ConfigureAwait(false),
                    ["mock-broker", .. var rest] => await MockBrokerCommand.RunAsync(CommandLine.Parse(rest)).ConfigureAwait(false),
                    [] or ["help" or "--help" or "-h"] => PrintUsage(0),
                    _ => throw new UsageException($"Unknown command '{string.Join(' ', args.Take(2))}'."),
                };
            }
            catch (UsageException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                Console.Error.WriteLine();
                return PrintUsage(ExitCodes.Usage);
            }
        }

        private static int PrintUsage(int code)
        {
            (code == 0 ? Console.Out : Console.Error).WriteLine(Usage);
            return code;
        }
    }
}
