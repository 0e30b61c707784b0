using System.Runtime.InteropServices;

namespace KafkaClient.Testing.State;

/// <summary>
/// The memory partition logs pack record batches into. A log that holds everything it is sent
/// grows by fresh memory, and touching fresh memory costs one page fault per 4 KiB page: on
/// virtual machines that was most of the broker's CPU while a client produced at full speed. So
/// logs take their slabs from shared blocks of <see cref="BlockSize"/> bytes which are pinned
/// (never moved by the GC) and, on Linux, advised to use transparent huge pages and prefaulted in
/// one call (MADV_POPULATE_WRITE) before first use: thousands of faults become a few. Both are
/// hints; a kernel that refuses them changes nothing but speed. A block stays alive while any
/// log still holds a batch in it.
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
                s_block = AllocateHinted(BlockSize);
                s_used = 0;
            }
            var slice = s_block.AsMemory(s_used, size);
            s_used += size;
            return slice;
        }
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
