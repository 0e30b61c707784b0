using System.Runtime.InteropServices;

namespace KafkaClient.Testing.State;

/// <summary>
/// The memory partition logs pack record batches into. A log that holds everything it is sent
/// grows by fresh memory, and touching fresh memory costs one page fault per 4 KiB page: on
/// virtual machines that was most of the broker's CPU while a client produced at full speed. So
/// logs take their slabs from shared blocks of <see cref="BlockSize"/> bytes which are pinned
/// (never moved by the GC) and, on Linux, advised to use transparent huge pages and prefaulted in
/// one call (MADV_POPULATE_WRITE) before first use: thousands of faults become a few. Both are
/// hints; a kernel that refuses them changes nothing but speed. The next block is prepared on the
/// thread pool while the current one fills. A block stays alive while any log still holds a
/// batch in it.
/// </summary>
internal static partial class SlabMemory
{
    /// <summary>The size of a shared block; a request larger than half of it gets memory of its own.</summary>
    public const int BlockSize = 8 * 1024 * 1024;

    private const int MadviseHugePage = 14;
    private const int MadvisePopulateWrite = 23;
    private const long HugePageSize = 2 * 1024 * 1024;
    private const long PageSize = 4096;

    private static readonly Lock s_lock = new();
    private static byte[] s_block = [];
    private static int s_used;
    private static bool s_hintsUnavailable;
    private static long s_blocksSinceCollect;
    private static byte[]? s_spare;
    private static int s_preparingSpare;

    /// <summary>
    /// Called after retention dropped batches: once more blocks have been taken than a few, asks
    /// for a background full collection so blocks no log holds any more are reused instead of
    /// fresh memory being faulted in (pinned blocks are only reclaimed by full collections).
    /// </summary>
    public static void ReleaseDropped()
    {
        if (Interlocked.Read(ref s_blocksSinceCollect) >= 4)
        {
            Interlocked.Exchange(ref s_blocksSinceCollect, 0);
            GC.Collect(2, GCCollectionMode.Optimized, blocking: false);
        }
    }

    /// <summary>
    /// <paramref name="size"/> bytes of uninitialized memory for a log slab: a slice of the current
    /// shared block, of a new block when it is full, or of an allocation of its own when large.
    /// </summary>
    public static Memory<byte> Take(int size)
    {
        if (size > BlockSize / 2)
        {
            return AllocateHinted(size);
        }
        lock (s_lock)
        {
            if (s_block.Length - s_used < size)
            {
                // Prefaulting a block takes milliseconds; a spare prepared on the thread pool keeps
                // that out of the request being handled (it showed as a 30-50 ms p99 round trip).
                s_block = Interlocked.Exchange(ref s_spare, null) ?? AllocateHinted(BlockSize);
                s_used = 0;
                Interlocked.Increment(ref s_blocksSinceCollect);
                PrepareSpare();
            }
            var slice = s_block.AsMemory(s_used, size);
            s_used += size;
            return slice;
        }
    }

    private static void PrepareSpare()
    {
        if (Interlocked.CompareExchange(ref s_preparingSpare, 1, 0) != 0)
        {
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static _ =>
        {
            try
            {
                Volatile.Write(ref s_spare, AllocateHinted(BlockSize));
            }
            finally
            {
                Volatile.Write(ref s_preparingSpare, 0);
            }
        }, null);
    }

    private static byte[] AllocateHinted(int size)
    {
        byte[] memory = GC.AllocateUninitializedArray<byte>(size, pinned: true);
        if (!OperatingSystem.IsLinux() || s_hintsUnavailable)
        {
            return memory;
        }
        long start = Marshal.UnsafeAddrOfPinnedArrayElement(memory, 0).ToInt64();
        long end = start + size;
        try
        {
            long hugeStart = (start + HugePageSize - 1) & ~(HugePageSize - 1);
            long hugeEnd = end & ~(HugePageSize - 1);
            if (hugeEnd > hugeStart)
            {
                _ = Madvise((nint)hugeStart, (nuint)(hugeEnd - hugeStart), MadviseHugePage);
            }
            long pageStart = (start + PageSize - 1) & ~(PageSize - 1);
            long pageEnd = end & ~(PageSize - 1);
            if (pageEnd > pageStart)
            {
                _ = Madvise((nint)pageStart, (nuint)(pageEnd - pageStart), MadvisePopulateWrite);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_hintsUnavailable = true;
        }
        return memory;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
