using System.Runtime.InteropServices;

namespace KafkaClient.TestBrokers;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka's C API (rdkafka.h, rdkafka_mock.h) that the
/// mock cluster wrapper uses. Pointers are <see cref="IntPtr"/>; <c>rd_kafka_resp_err_t</c> is
/// <see cref="int"/>; <c>size_t</c> is <see cref="nuint"/>; strings are UTF-8. Only the non-variadic
/// entry points are declared: variadic C functions cannot be called portably from .NET.
/// </summary>
internal static class NativeMethods
{
    private const string Lib = LibrdkafkaNativeLibrary.LibraryName;

    internal const int ProducerType = 0; // RD_KAFKA_PRODUCER
    internal const int ConfOk = 0;       // RD_KAFKA_CONF_OK

    // ---- rdkafka.h ----

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_version_str();

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_err2str(int err);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_conf_new();

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_conf_destroy(IntPtr conf);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_conf_set(
        IntPtr conf,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value,
        [Out] byte[] errstr,
        nuint errstrSize);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_new(int type, IntPtr conf, [Out] byte[] errstr, nuint errstrSize);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_destroy(IntPtr rk);

    // ---- rdkafka_mock.h ----

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_topic_create(
        IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitionCount, int replicationFactor);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_topic_delete(IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_topic_set_error(
        IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int err);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_partition_set_leader(
        IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partition, int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_partition_set_follower(
        IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partition, int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_broker_set_rack(
        IntPtr mcluster, int brokerId, [MarshalAs(UnmanagedType.LPUTF8Str)] string rack);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_coordinator_set(
        IntPtr mcluster,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string keyType,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string key,
        int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_set_apiversion(IntPtr mcluster, short apiKey, short minVersion, short maxVersion);

    // Not declared in the rdkafka_mock.h we could read (sources up to 2.15), but exported by the
    // 2.16.0 binary; its code takes (rd_kafka_mock_cluster_t *, int32_t), stores the id under the
    // cluster lock and returns nothing meaningful, so it is declared void.
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_set_controller_id(IntPtr mcluster, int brokerId);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_push_request_errors_array(
        IntPtr mcluster, short apiKey, nuint count, [In] int[] errors);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_start_request_tracking(IntPtr mcluster);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_stop_request_tracking(IntPtr mcluster);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_clear_requests(IntPtr mcluster);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern IntPtr rd_kafka_mock_get_requests(IntPtr mcluster, out nuint count);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void rd_kafka_mock_request_destroy_array(IntPtr requests, nuint count);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int rd_kafka_mock_request_id(IntPtr request);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern short rd_kafka_mock_request_api_key(IntPtr request);

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
    internal static extern long rd_kafka_mock_request_timestamp(IntPtr request);
}
