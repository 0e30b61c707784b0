using System.Reflection;
using System.Runtime.InteropServices;

namespace KafkaClient.TestBrokers;

/// <summary>
/// Finds and loads the librdkafka native library for this assembly's P/Invokes.
/// </summary>
/// <remarks>
/// The default <c>runtimes/linux-x64/native/librdkafka.so</c> of the <c>librdkafka.redist</c>
/// package needs <c>libsasl2.so.3</c>, which Debian 12 lacks, so the library is looked for in this
/// order and the first one that loads wins:
/// <list type="number">
/// <item><description>the file named by the <c>KAFKACLIENT_LIBRDKAFKA_PATH</c> environment variable (if set it must load);</description></item>
/// <item><description><c>runtimes/&lt;rid&gt;/native/librdkafka.so</c>, then <c>centos8-librdkafka.so</c>, then <c>alpine-librdkafka.so</c>
/// (or <c>librdkafka.dylib</c> / <c>librdkafka.dll</c> on macOS / Windows), then the same names directly in the folder (RID-specific
/// builds flatten them), under <see cref="AppContext.BaseDirectory"/> and then beside this assembly;</description></item>
/// <item><description>the system's <c>librdkafka.so.1</c> (or <c>librdkafka.so</c>).</description></item>
/// </list>
/// </remarks>
public static class LibrdkafkaNativeLibrary
{
    /// <summary>The environment variable that names an explicit librdkafka file to load.</summary>
    public const string PathEnvironmentVariable = "KAFKACLIENT_LIBRDKAFKA_PATH";

    internal const string LibraryName = "librdkafka";

    private static readonly Lock Gate = new();
    private static IntPtr s_handle;
    private static string? s_path;
    private static bool s_resolverRegistered;
    private static readonly HashSet<Assembly> SharedWith = [];

    /// <summary>
    /// The full path (or, for a system library, the name) of the librdkafka file that was loaded.
    /// Loads it on first use. Pass it to <c>Confluent.Kafka.Library.Load</c> so that Confluent.Kafka
    /// in the same process uses the very same file.
    /// </summary>
    /// <exception cref="DllNotFoundException">No candidate could be loaded.</exception>
    public static string Path
    {
        get
        {
            EnsureLoaded();
            return s_path!;
        }
    }

    /// <summary>The librdkafka version string reported by the loaded library, e.g. <c>2.16.0</c>.</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_version_str()) ?? string.Empty;
        }
    }

    /// <summary>The candidate files in the order they are tried (the environment override excluded).</summary>
    public static IReadOnlyList<string> Candidates()
    {
        var result = new List<string>();
        var rid = PackageRid();
        string[] fileNames;
        if (OperatingSystem.IsWindows())
        {
            fileNames = ["librdkafka.dll"];
        }
        else if (OperatingSystem.IsMacOS())
        {
            fileNames = ["librdkafka.dylib"];
        }
        else
        {
            fileNames = ["librdkafka.so", "centos8-librdkafka.so", "alpine-librdkafka.so"];
        }

        var baseDirs = new List<string> { AppContext.BaseDirectory };
        var assemblyDir = System.IO.Path.GetDirectoryName(typeof(LibrdkafkaNativeLibrary).Assembly.Location);
        if (!string.IsNullOrEmpty(assemblyDir) && !baseDirs.Contains(assemblyDir, StringComparer.Ordinal))
        {
            baseDirs.Add(assemblyDir);
        }

        foreach (var dir in baseDirs)
        {
            foreach (var name in fileNames)
            {
                result.Add(System.IO.Path.Combine(dir, "runtimes", rid, "native", name));
            }

            // A RID-specific build or publish (-r linux-x64) flattens the native files into the output folder.
            foreach (var name in fileNames)
            {
                result.Add(System.IO.Path.Combine(dir, name));
            }
        }

        if (OperatingSystem.IsLinux())
        {
            result.Add("librdkafka.so.1");
            result.Add("librdkafka.so");
        }
        else if (OperatingSystem.IsMacOS())
        {
            result.Add("librdkafka.1.dylib");
        }

        return result;
    }

    /// <summary>
    /// Makes another assembly's P/Invokes of librdkafka (any of the names <c>librdkafka</c>,
    /// <c>centos8-librdkafka</c>, <c>alpine-librdkafka</c>) bind to the file this class loaded, e.g.
    /// <c>ShareWith(typeof(Confluent.Kafka.Library).Assembly)</c>, so a third-party client in the same
    /// process runs on the same librdkafka as the mock and honours <see cref="PathEnvironmentVariable"/>.
    /// Call it before that assembly first touches librdkafka. Idempotent per assembly.
    /// </summary>
    /// <param name="assembly">The assembly whose DllImports should resolve to this library.</param>
    /// <exception cref="InvalidOperationException">Some other resolver is already registered for <paramref name="assembly"/>.</exception>
    public static void ShareWith(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        EnsureLoaded();
        lock (Gate)
        {
            if (assembly == typeof(LibrdkafkaNativeLibrary).Assembly || !SharedWith.Add(assembly))
            {
                return;
            }

            NativeLibrary.SetDllImportResolver(assembly, static (name, _, _) =>
                name is LibraryName or "centos8-librdkafka" or "alpine-librdkafka" ? s_handle : IntPtr.Zero);
        }
    }

    /// <summary>Registers the resolver (once) and loads the library (once).</summary>
    internal static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (!s_resolverRegistered)
            {
                NativeLibrary.SetDllImportResolver(typeof(LibrdkafkaNativeLibrary).Assembly, Resolve);
                s_resolverRegistered = true;
            }

            if (s_handle != IntPtr.Zero)
            {
                return;
            }

            var failures = new List<string>();
            var overridePath = Environment.GetEnvironmentVariable(PathEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(overridePath))
            {
                try
                {
                    s_handle = NativeLibrary.Load(overridePath);
                    s_path = overridePath;
                    return;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
                {
                    throw new DllNotFoundException(
                        $"{PathEnvironmentVariable}='{overridePath}' could not be loaded: {ex.Message}", ex);
                }
            }

            foreach (var candidate in Candidates())
            {
                var isFile = System.IO.Path.IsPathRooted(candidate);
                if (isFile && !File.Exists(candidate))
                {
                    failures.Add($"{candidate}: not present");
                    continue;
                }

                try
                {
                    s_handle = NativeLibrary.Load(candidate);
                    s_path = candidate;
                    return;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"{candidate}: {ex.Message}");
                }
            }

            throw new DllNotFoundException(
                "librdkafka could not be loaded; set " + PathEnvironmentVariable +
                " to a working file. Tried:" + Environment.NewLine + "  " +
                string.Join(Environment.NewLine + "  ", failures));
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!string.Equals(libraryName, LibraryName, StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }

        EnsureLoaded();
        return s_handle;
    }

    private static string PackageRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.X86 => "x86",
            Architecture.Arm64 => "arm64",
            Architecture.S390x => "s390x",
            var other => other.ToString().ToLowerInvariant(),
        };
        return os + "-" + arch;
    }
}
