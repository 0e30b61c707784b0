using KafkaClient.Errors;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Testing.Security;
using KafkaClient.Testing.Server;
using KafkaClient.Testing.State;

namespace KafkaClient.Testing.Handlers;

/// <summary>
/// DescribeProducers v0 (KIP-664): the producers each partition led by this broker knows, with
/// their epoch, last sequence, last timestamp, coordinator epoch and open transaction's first
/// offset. TOPIC_AUTHORIZATION_FAILED without READ on the topic, UNKNOWN_TOPIC_OR_PARTITION,
/// NOT_LEADER_OR_FOLLOWER.
/// </summary>
internal sealed class DescribeProducersHandler() : ApiHandler<DescribeProducersRequest, DescribeProducersResponse>(ApiKey.DescribeProducers)
{
    protected override ValueTask<DescribeProducersResponse?> HandleAsync(RequestContext context, DescribeProducersRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeProducersResponse();
        foreach (var wanted in request.Topics)
        {
            var topic = context.Cluster.GetTopic(wanted.Name);
            bool authorized = context.Authorized(AclOperation.Read, AclResourceType.Topic, wanted.Name);
            var topicResponse = new DescribeProducersResponse.TopicResponse { Name = wanted.Name };
            response.Topics.Add(topicResponse);
            foreach (int index in wanted.PartitionIndexes)
            {
                var result = new DescribeProducersResponse.PartitionResponse { PartitionIndex = index };
                topicResponse.Partitions.Add(result);
                PartitionState? partition = null;
                var error = authorized
                    ? Partitions.FindLed(context, topic, index, out partition, out _)
                    : ErrorCode.TopicAuthorizationFailed;
                if (error != ErrorCode.None)
                {
                    result.ErrorCode = error.Code();
                    continue;
                }
                foreach (var producer in partition!.Log.ActiveProducers())
                {
                    result.ActiveProducers.Add(new DescribeProducersResponse.ProducerState
                    {
                        ProducerId = producer.ProducerId,
                        ProducerEpoch = producer.Epoch,
                        LastSequence = producer.LastSequence,
                        LastTimestamp = producer.LastTimestamp,
                        CoordinatorEpoch = producer.CoordinatorEpoch,
                        CurrentTxnStartOffset = producer.CurrentTxnStartOffset,
                    });
                }
            }
        }
        return ValueTask.FromResult<DescribeProducersResponse?>(response);
    }

    protected override DescribeProducersResponse ErrorResponse(RequestContext context, DescribeProducersRequest request, ErrorCode error) =>
        new()
        {
            Topics = [.. request.Topics.Select(t => new DescribeProducersResponse.TopicResponse
            {
                Name = t.Name,
                Partitions = [.. t.PartitionIndexes.Select(p => new DescribeProducersResponse.PartitionResponse { PartitionIndex = p, ErrorCode = error.Code() })],
            })],
        };
}
