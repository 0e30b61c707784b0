using KafkaClient.Errors;
using KafkaClient.Protocol.Messages;

namespace KafkaClient.Testing.Groups;

internal sealed partial class GroupCoordinator
{
    /// <summary>
    /// OffsetCommit (versions 2-9). Members of a managed group commit with their member id and
    /// generation; a "simple" commit (generation -1, no member) is accepted only while the group
    /// is Empty, and creates the group when there is none.
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<OffsetCommitResponse> OffsetCommitAsync(OffsetCommitRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<OffsetCommitResponse>(cancellationToken);
        }
        string? instanceId = version >= 7 ? request.GroupInstanceId : null;
        int generation = request.GenerationIdOrMemberEpoch;
        // The broker's callback runs before any group lock is taken.
        var unknownPartitions = new HashSet<(string, int)>();
        if (_options.PartitionExists is { } exists)
        {
            foreach (var topic in request.Topics)
            {
                foreach (var partition in topic.Partitions)
                {
                    if (!exists(topic.Name, partition.PartitionIndex))
                    {
                        unknownPartitions.Add((topic.Name, partition.PartitionIndex));
                    }
                }
            }
        }
        var response = _disposed
            ? CommitResponse(request, ShutdownError)
            : WithGroup(request.GroupId, create: generation < 0, group =>
            {
                if (_disposed)
                {
                    return CommitResponse(request, ShutdownError);
                }
                if (group is null)
                {
                    // Not a simple commit, and no group: a member of a generation that is gone.
                    return CommitResponse(request, ErrorCode.IllegalGeneration);
                }
                var error = ValidateCommit(group, request.MemberId, instanceId, generation);
                var result = error != ErrorCode.None ? CommitResponse(request, error) : StoreOffsets(group, request, unknownPartitions);
                DiscardIfUnused(group);
                return result;
            });
        return Task.FromResult(response);
    }

    private ErrorCode ValidateCommit(ClassicGroup group, string memberId, string? instanceId, int generation)
    {
        if (group.IsStaticMemberFenced(memberId, instanceId))
        {
            return ErrorCode.FencedInstanceId;
        }
        if (generation < 0 && group.State == ClassicGroupState.Empty)
        {
            // The group only uses Kafka to store offsets.
            return ErrorCode.None;
        }
        if (generation < 0 && memberId.Length == 0 && instanceId is null)
        {
            // Only members may commit for a group that has members.
            return ErrorCode.UnknownMemberId;
        }
        if (!group.Members.TryGetValue(memberId, out var member))
        {
            return ErrorCode.UnknownMemberId;
        }
        if (generation != group.GenerationId)
        {
            return ErrorCode.IllegalGeneration;
        }
        if (group.State == ClassicGroupState.CompletingRebalance)
        {
            // The member has its JoinGroup response but not its assignment yet.
            return ErrorCode.RebalanceInProgress;
        }
        if (member.AwaitingJoin is null && member.AwaitingSync is null)
        {
            // A commit counts as a sign of life.
            ScheduleSession(group, member, TimeSpan.FromMilliseconds(member.SessionTimeoutMs));
        }
        return ErrorCode.None;
    }

    private OffsetCommitResponse StoreOffsets(ClassicGroup group, OffsetCommitRequest request, HashSet<(string, int)> unknownPartitions)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var response = new OffsetCommitResponse();
        foreach (var topic in request.Topics)
        {
            var topicResult = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = topic.Name };
            foreach (var partition in topic.Partitions)
            {
                ErrorCode error;
                if (partition.CommittedMetadata is { } metadata && metadata.Length > _options.MaxOffsetMetadataLength)
                {
                    error = ErrorCode.OffsetMetadataTooLarge;
                }
                else if (unknownPartitions.Contains((topic.Name, partition.PartitionIndex)))
                {
                    error = ErrorCode.UnknownTopicOrPartition;
                }
                else
                {
                    group.Offsets[(topic.Name, partition.PartitionIndex)] = new CommittedOffset(
                        partition.CommittedOffset, partition.CommittedLeaderEpoch, partition.CommittedMetadata ?? "", now);
                    error = ErrorCode.None;
                }
                topicResult.Partitions.Add(new OffsetCommitResponse.OffsetCommitResponsePartition
                {
                    PartitionIndex = partition.PartitionIndex,
                    ErrorCode = (short)error,
                });
            }
            response.Topics.Add(topicResult);
        }
        return response;
    }

    private static OffsetCommitResponse CommitResponse(OffsetCommitRequest request, ErrorCode error) => new()
    {
        Topics = request.Topics.Select(t => new OffsetCommitResponse.OffsetCommitResponseTopic
        {
            Name = t.Name,
            Partitions = t.Partitions.Select(p => new OffsetCommitResponse.OffsetCommitResponsePartition
            {
                PartitionIndex = p.PartitionIndex,
                ErrorCode = (short)error,
            }).ToList(),
        }).ToList(),
    };

    /// <summary>One partition's answer to OffsetFetch, before it is shaped for the version.</summary>
    private readonly record struct FetchedOffset(int Partition, long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error);

    /// <summary>
    /// OffsetFetch (versions 1-9; several groups from v8). Null topics mean every committed
    /// offset of the group; a partition without a commit answers offset -1. Offsets are returned
    /// whatever the group's state, as Kafka does. RequireStable is accepted and has no effect
    /// (no transactions here).
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<OffsetFetchResponse> OffsetFetchAsync(OffsetFetchRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<OffsetFetchResponse>(cancellationToken);
        }
        var response = new OffsetFetchResponse();
        if (version >= 8)
        {
            foreach (var requested in request.Groups)
            {
                var topics = requested.Topics?.Select(t => (t.Name, t.PartitionIndexes)).ToList();
                var (error, fetched) = FetchOffsets(requested.GroupId, topics);
                response.Groups.Add(new OffsetFetchResponse.OffsetFetchResponseGroup
                {
                    GroupId = requested.GroupId,
                    ErrorCode = (short)error,
                    Topics = fetched.Select(t => new OffsetFetchResponse.OffsetFetchResponseTopics
                    {
                        Name = t.Topic,
                        Partitions = t.Partitions.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartitions
                        {
                            PartitionIndex = p.Partition,
                            CommittedOffset = p.Offset,
                            CommittedLeaderEpoch = p.LeaderEpoch,
                            Metadata = p.Metadata,
                            ErrorCode = (short)p.Error,
                        }).ToList(),
                    }).ToList(),
                });
            }
        }
        else
        {
            var topics = request.Topics?.Select(t => (t.Name, t.PartitionIndexes)).ToList();
            var (error, fetched) = FetchOffsets(request.GroupId, topics);
            if (error != ErrorCode.None && version < 2)
            {
                // v1 has no group-level error: report it on every requested partition.
                fetched = (topics ?? []).Select(t => (t.Name, t.PartitionIndexes
                    .Select(p => new FetchedOffset(p, -1, -1, "", error)).ToList())).ToList();
            }
            response.ErrorCode = (short)error;
            response.Topics = fetched.Select(t => new OffsetFetchResponse.OffsetFetchResponseTopic
            {
                Name = t.Topic,
                Partitions = t.Partitions.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartition
                {
                    PartitionIndex = p.Partition,
                    CommittedOffset = p.Offset,
                    CommittedLeaderEpoch = p.LeaderEpoch,
                    Metadata = p.Metadata,
                    ErrorCode = (short)p.Error,
                }).ToList(),
            }).ToList();
        }
        return Task.FromResult(response);
    }

    private (ErrorCode Error, List<(string Topic, List<FetchedOffset> Partitions)> Topics) FetchOffsets(
        string groupId, List<(string Name, List<int> Partitions)>? topics)
    {
        if (_disposed)
        {
            return (ShutdownError, []);
        }
        return WithGroup(groupId, create: false, group =>
        {
            if (_disposed)
            {
                return (ShutdownError, new List<(string, List<FetchedOffset>)>());
            }
            var offsets = group?.Offsets;
            var result = new List<(string, List<FetchedOffset>)>();
            if (topics is null)
            {
                if (offsets is not null)
                {
                    foreach (var byTopic in offsets.GroupBy(o => o.Key.Topic).OrderBy(g => g.Key, StringComparer.Ordinal))
                    {
                        result.Add((byTopic.Key, byTopic.OrderBy(o => o.Key.Partition)
                            .Select(o => new FetchedOffset(o.Key.Partition, o.Value.Offset, o.Value.LeaderEpoch, o.Value.Metadata, ErrorCode.None))
                            .ToList()));
                    }
                }
                return (ErrorCode.None, result);
            }
            foreach (var (name, partitions) in topics)
            {
                result.Add((name, partitions.Select(p =>
                    offsets is not null && offsets.TryGetValue((name, p), out var committed)
                        ? new FetchedOffset(p, committed.Offset, committed.LeaderEpoch, committed.Metadata, ErrorCode.None)
                        : new FetchedOffset(p, -1, -1, "", ErrorCode.None)).ToList()));
            }
            return (ErrorCode.None, result);
        });
    }

    /// <summary>
    /// OffsetDelete (version 0): deletes committed offsets of an Empty group, or of a consumer
    /// group for topics none of its members subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
    /// </summary>
    /// <param name="request">The decoded request.</param>
    /// <param name="version">The request's API version.</param>
    /// <param name="cancellationToken">Checked before the call only.</param>
    /// <returns>The response (already completed).</returns>
    public Task<OffsetDeleteResponse> OffsetDeleteAsync(OffsetDeleteRequest request, short version, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<OffsetDeleteResponse>(cancellationToken);
        }
        var response = _disposed
            ? new OffsetDeleteResponse { ErrorCode = (short)ShutdownError }
            : WithGroup(request.GroupId, create: false, group =>
            {
                if (_disposed)
                {
                    return new OffsetDeleteResponse { ErrorCode = (short)ShutdownError };
                }
                if (group is null)
                {
                    return new OffsetDeleteResponse { ErrorCode = (short)ErrorCode.GroupIdNotFound };
                }
                bool empty = group.State == ClassicGroupState.Empty;
                if (!empty && group.ProtocolType != ClassicGroup.ConsumerProtocolType)
                {
                    return new OffsetDeleteResponse { ErrorCode = (short)ErrorCode.NonEmptyGroup };
                }
                var result = new OffsetDeleteResponse();
                foreach (var topic in request.Topics)
                {
                    // Unknown subscriptions (unparseable metadata) count as subscribed.
                    bool subscribed = !empty && (group.SubscribedTopics is null || group.SubscribedTopics.Contains(topic.Name));
                    var topicResult = new OffsetDeleteResponse.OffsetDeleteResponseTopic { Name = topic.Name };
                    foreach (var partition in topic.Partitions)
                    {
                        if (!subscribed)
                        {
                            group.Offsets.Remove((topic.Name, partition.PartitionIndex));
                        }
                        topicResult.Partitions.Add(new OffsetDeleteResponse.OffsetDeleteResponsePartition
                        {
                            PartitionIndex = partition.PartitionIndex,
                            ErrorCode = (short)(subscribed ? ErrorCode.GroupSubscribedToTopic : ErrorCode.None),
                        });
                    }
                    result.Topics.Add(topicResult);
                }
                return result;
            });
        return Task.FromResult(response);
    }
}
