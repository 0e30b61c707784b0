using System.Diagnostics;
using System.Reflection;
using System.Threading.Channels;

namespace KafkaClient.Perf;

/// <summary>
/// A process started by the harness: stdout lines are queued for the caller, stderr is copied to
/// ours (prefixed), stdin stays open until <see cref="CloseInputAsync"/> (closing it is how our
/// broker processes are told to stop).
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private bool _inputClosed;

    private ChildProcess(Process process, string label)
    {
        _process = process;
        Label = label;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"[{label}] {e.Data}");
            }
        };
        process.BeginErrorReadLine();
        _pump = Task.Run(async () =>
        {
            try
            {
                while (await process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
                {
                    _stdout.Writer.TryWrite(line);
                }
            }
            finally
            {
                _stdout.Writer.TryComplete();
            }
        });
    }

    public string Label { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(string fileName, IEnumerable<string> args, string label, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        // A child must not inherit `dotnet run`'s project-specific environment surprises; nothing to strip today.
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        return new ChildProcess(process, label);
    }

    /// <summary>The harness itself, as a command prefix: its apphost, or <c>dotnet KafkaClient.Perf.dll</c>.</summary>
    public static (string FileName, string[] Prefix) Self()
    {
        var entry = Assembly.GetEntryAssembly()?.Location;
        var host = Environment.ProcessPath;
        if (host is not null && !Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return (host, []);
        }
        if (string.IsNullOrEmpty(entry))
        {
            throw new InvalidOperationException("Cannot locate the harness's own assembly to start child processes.");
        }
        return (host ?? "dotnet", [entry]);
    }

    public static ChildProcess StartSelf(IEnumerable<string> args, string label)
    {
        var (file, prefix) = Self();
        return Start(file, prefix.Concat(args), label);
    }

    /// <summary>The next stdout line, or null at end of output or timeout.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _stdout.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Every remaining stdout line, once the process exits (or the timeout kills it).</summary>
    public async Task<(int ExitCode, List<string> Lines, bool TimedOut)> WaitForExitAsync(TimeSpan timeout, Action<string>? onLine = null)
    {
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(timeout);
        bool timedOut = false;
        try
        {
            await foreach (var line in _stdout.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                lines.Add(line);
                onLine?.Invoke(line);
            }
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        return (_process.ExitCode, lines, timedOut);
    }

    public async Task CloseInputAsync()
    {
        if (_inputClosed)
        {
            return;
        }
        _inputClosed = true;
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Closes stdin, waits a while for a clean exit, then kills the process tree.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseInputAsync().ConfigureAwait(false);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"[{Label}] did not exit within 15 s of stdin closing; killing it.");
            Kill();
        }
        try
        {
            await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }
}
