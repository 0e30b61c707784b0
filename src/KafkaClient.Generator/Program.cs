// Regenerates src/KafkaClient/Protocol/Messages/*.g.cs from Apache Kafka's JSON message definitions.
// Usage: dotnet run --project src/KafkaClient.Generator -- <spec folder> <output folder>
using KafkaClient.Generator;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: KafkaClient.Generator <spec folder, e.g. ../shared/kafka-protocol/messages> <output folder, e.g. src/KafkaClient/Protocol/Messages>");
    return 2;
}
var files = CodeGenerator.Generate(args[0]);
Directory.CreateDirectory(args[1]);
foreach (var stale in Directory.GetFiles(args[1], "*.g.cs"))
{
    if (!files.ContainsKey(Path.GetFileName(stale)))
    {
        File.Delete(stale);
    }
}
foreach (var (name, content) in files)
{
    File.WriteAllText(Path.Combine(args[1], name), content);
}
Console.WriteLine($"Wrote {files.Count} files to {args[1]}.");
return 0;
