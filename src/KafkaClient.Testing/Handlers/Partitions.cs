using KafkaClient.Errors;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>The checks every partition-level request makes: does it exist, does this broker lead it, is the client's epoch current.</summary>
internal static class Partitions
{
    /// <summary>UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER, or NONE with the partition.</summary>
    public static ErrorCode FindLed(RequestContext context, TopicState? topic, int index, out PartitionState? partition, out Leadership? leadership)
    {
        partition = topic is null || topic.IsDeleted ? null : topic.Partition(index);
        leadership = partition?.Leadership;
        if (partition is null)
        {
            return ErrorCode.UnknownTopicOrPartition;
        }
        return leadership!.LeaderId == context.BrokerId ? ErrorCode.None : ErrorCode.NotLeaderOrFollower;
    }

    /// <summary>Kafka's leader epoch fencing: -1 skips the check; an older epoch is fenced, a newer one unknown.</summary>
    public static ErrorCode CheckEpoch(int clientEpoch, int leaderEpoch) =>
        clientEpoch == -1 || clientEpoch == leaderEpoch ? ErrorCode.None
        : clientEpoch < leaderEpoch ? ErrorCode.FencedLeaderEpoch
        : ErrorCode.UnknownLeaderEpoch;

    public static short Code(this ErrorCode error) => (short)error;
}
