using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ArmCrc32 = System.Runtime.Intrinsics.Arm.Crc32;
using X86Sse42 = System.Runtime.Intrinsics.X86.Sse42;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka record batches.
/// Uses the SSE4.2 or ARMv8 CRC32C instructions when present, otherwise a slicing-by-8 table.
/// </summary>
/// <remarks>
/// The hardware path runs three independent CRC streams over three adjacent blocks so the CPU can
/// overlap the instructions' latency, then merges the three partial results. Merging needs the
/// CRC of "state followed by N zero bytes", which is a linear map of the 32-bit state; it is
/// precomputed as four 256-entry tables per block size.
/// </remarks>
internal static class Crc32C
{
    /// <summary>The reflected Castagnoli polynomial.</summary>
    private const uint Polynomial = 0x82F63B78u;

    /// <summary>Block length of the three-way interleaved loop for large inputs (three blocks per round).</summary>
    private const int LongBlock = 8192;

    /// <summary>Block length of the three-way interleaved loop for medium inputs.</summary>
    private const int ShortBlock = 256;

    /// <summary>True when this machine computes CRC-32C with a dedicated instruction.</summary>
    public static bool IsHardwareAccelerated => X86Sse42.X64.IsSupported || ArmCrc32.Arm64.IsSupported;

    /// <summary>Computes the CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>
    /// Continues a CRC-32C: given the CRC of some bytes A, returns the CRC of A followed by
    /// <paramref name="data"/>. <c>Append(0, x)</c> equals <c>Compute(x)</c>.
    /// </summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) =>
        IsHardwareAccelerated ? ~UpdateHardware(~crc, data) : ~UpdateSoftware(~crc, data);

    /// <summary>The table-driven implementation, exposed so tests can compare it with the hardware one.</summary>
    internal static uint AppendSoftware(uint crc, ReadOnlySpan<byte> data) => ~UpdateSoftware(~crc, data);

    /// <summary>The instruction-based implementation; only valid when <see cref="IsHardwareAccelerated"/>.</summary>
    internal static uint AppendHardware(uint crc, ReadOnlySpan<byte> data)
    {
        if (!IsHardwareAccelerated)
        {
            throw new PlatformNotSupportedException("This CPU has no CRC-32C instruction.");
        }
        return ~UpdateHardware(~crc, data);
    }

    // ---------------------------------------------------------------- software (slicing-by-8)

    private static readonly uint[] SliceTable = BuildSliceTable();

    private static uint[] BuildSliceTable()
    {
        // Table k (k = 0..7) at [k * 256 .. k * 256 + 255] gives the effect of a byte followed by k zero bytes.
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            }
            table[i] = c;
        }
        for (int i = 0; i < 256; i++)
        {
            uint c = table[i];
            for (int k = 1; k < 8; k++)
            {
                c = (c >> 8) ^ table[c & 0xFF];
                table[(k * 256) + i] = c;
            }
        }
        return table;
    }

    /// <summary>Updates a raw (not inverted) CRC register with <paramref name="data"/>.</summary>
    private static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<uint> t = SliceTable;
        ref byte p = ref MemoryMarshal.GetReference(data);
        nint length = data.Length;
        nint i = 0;
        for (; length - i >= 8; i += 8)
        {
            ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            if (!BitConverter.IsLittleEndian)
            {
                v = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
            }
            uint lo = (uint)v ^ state;
            uint hi = (uint)(v >> 32);
            state = t[(7 * 256) + (int)(lo & 0xFF)]
                ^ t[(6 * 256) + (int)((lo >> 8) & 0xFF)]
                ^ t[(5 * 256) + (int)((lo >> 16) & 0xFF)]
                ^ t[(4 * 256) + (int)(lo >> 24)]
                ^ t[(3 * 256) + (int)(hi & 0xFF)]
                ^ t[(2 * 256) + (int)((hi >> 8) & 0xFF)]
                ^ t[(1 * 256) + (int)((hi >> 16) & 0xFF)]
                ^ t[(int)(hi >> 24)];
        }
        for (; i < length; i++)
        {
            state = (state >> 8) ^ t[(int)((state ^ Unsafe.Add(ref p, i)) & 0xFF)];
        }
        return state;
    }

    // ---------------------------------------------------------------- hardware

    /// <summary>
    /// Zero-extension operators for <see cref="LongBlock"/> and <see cref="ShortBlock"/>:
    /// table[k * 256 + b] is the register after feeding the block's length of zero bytes to a
    /// register holding <c>b &lt;&lt; (8 * k)</c>. Built on first use of the hardware path.
    /// </summary>
    private static class ShiftTables
    {
        public static readonly uint[] Long = Build(LongBlock);
        public static readonly uint[] Short = Build(ShortBlock);

        private static uint[] Build(int zeroBytes)
        {
            // The operator is linear over GF(2): compute the image of each of the 32 basis bits,
            // then every table entry is the XOR of the images of its set bits.
            Span<uint> basis = stackalloc uint[32];
            ReadOnlySpan<byte> zeros = new byte[zeroBytes];
            for (int bit = 0; bit < 32; bit++)
            {
                basis[bit] = UpdateSoftware(1u << bit, zeros);
            }
            var table = new uint[4 * 256];
            for (int k = 0; k < 4; k++)
            {
                for (int b = 0; b < 256; b++)
                {
                    uint image = 0;
                    for (int j = 0; j < 8; j++)
                    {
                        if ((b & (1 << j)) != 0)
                        {
                            image ^= basis[(8 * k) + j];
                        }
                    }
                    table[(k * 256) + b] = image;
                }
            }
            return table;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(uint state, uint[] table) =>
        table[(int)(state & 0xFF)]
        ^ table[256 + (int)((state >> 8) & 0xFF)]
        ^ table[512 + (int)((state >> 16) & 0xFF)]
        ^ table[768 + (int)(state >> 24)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Step(uint state, ulong data)
    {
        if (X86Sse42.X64.IsSupported)
        {
            return (uint)X86Sse42.X64.Crc32(state, data);
        }
        if (ArmCrc32.Arm64.IsSupported)
        {
            return ArmCrc32.Arm64.ComputeCrc32C(state, data);
        }
        throw new PlatformNotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Step(uint state, byte data)
    {
        if (X86Sse42.IsSupported)
        {
            return X86Sse42.Crc32(state, data);
        }
        if (ArmCrc32.IsSupported)
        {
            return ArmCrc32.ComputeCrc32C(state, data);
        }
        throw new PlatformNotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Read(ref byte p, nint offset) => Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, offset));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint UpdateHardware(uint state, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nint length = data.Length;
        nint i = 0;

        if (length >= 3 * LongBlock)
        {
            uint[] shift = ShiftTables.Long;
            do
            {
                state = ThreeWay(state, ref Unsafe.Add(ref p, i), LongBlock, shift);
                i += 3 * LongBlock;
            }
            while (length - i >= 3 * LongBlock);
        }

        if (length - i >= 3 * ShortBlock)
        {
            uint[] shift = ShiftTables.Short;
            do
            {
                state = ThreeWay(state, ref Unsafe.Add(ref p, i), ShortBlock, shift);
                i += 3 * ShortBlock;
            }
            while (length - i >= 3 * ShortBlock);
        }

        for (; length - i >= 8; i += 8)
        {
            state = Step(state, Read(ref p, i));
        }
        for (; i < length; i++)
        {
            state = Step(state, Unsafe.Add(ref p, i));
        }
        return state;
    }

    /// <summary>
    /// Feeds three adjacent blocks of <paramref name="block"/> bytes as three independent streams,
    /// then folds them: crc(A‖B) = shift(crc(A), |B|) ⊕ crc₀(B), where crc₀ starts from a zero register.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ThreeWay(uint state, ref byte start, nint block, uint[] shift)
    {
        uint c0 = state, c1 = 0, c2 = 0;
        ref byte b1 = ref Unsafe.Add(ref start, block);
        ref byte b2 = ref Unsafe.Add(ref start, 2 * block);
        for (nint j = 0; j < block; j += 8)
        {
            c0 = Step(c0, Read(ref start, j));
            c1 = Step(c1, Read(ref b1, j));
            c2 = Step(c2, Read(ref b2, j));
        }
        return Shift(Shift(c0, shift) ^ c1, shift) ^ c2;
    }
}
