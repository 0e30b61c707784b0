using System.Globalization;

namespace KafkaClient.Errors;

/// <summary>
/// Facts about each <see cref="ErrorCode"/>: the name the protocol guide gives it, whether retrying may
/// succeed, a short description, and which recovery it calls for. Values a newer broker may send that this
/// client does not know are answered too: they are named <c>UNKNOWN(n)</c> and are not retriable.
/// </summary>
public static class ErrorCodes
{
    private const int Lowest = -1;

    // Indexed by code - Lowest; a null slot is a number no Kafka version has defined.
    private static readonly ErrorInfo?[] ByCode = Index(
        [
            new(ErrorCode.UnknownServerError, "UNKNOWN_SERVER_ERROR", false, "The broker hit an unexpected internal failure while handling the request; its logs hold the cause."),
            new(ErrorCode.None, "NONE", false, "Success: the request or this part of it completed without error."),
            new(ErrorCode.OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false, "The offset asked for lies outside the range of offsets the partition currently retains."),
            new(ErrorCode.CorruptMessage, "CORRUPT_MESSAGE", true, "A record or batch is malformed: its CRC does not match, its size is invalid, it lacks a key on a compacted topic, or it is otherwise damaged."),
            new(ErrorCode.UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true, "The broker does not know this topic or partition, or does not host it; refresh metadata and retry."),
            new(ErrorCode.InvalidFetchSize, "INVALID_FETCH_SIZE", false, "The fetch request asked for an invalid maximum number of bytes."),
            new(ErrorCode.LeaderNotAvailable, "LEADER_NOT_AVAILABLE", true, "The partition has no leader right now, usually because a leader election is in progress."),
            new(ErrorCode.NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true, "The broker is not the partition's leader (for leader-only requests) or is not a replica of it at all; refresh metadata and send to the right broker."),
            new(ErrorCode.RequestTimedOut, "REQUEST_TIMED_OUT", true, "The broker gave up waiting for the request to complete, for example while waiting for replicas to acknowledge."),
            new(ErrorCode.BrokerNotAvailable, "BROKER_NOT_AVAILABLE", false, "The broker named in the request is not available."),
            new(ErrorCode.ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true, "A replica of the partition is not available on the broker asked."),
            new(ErrorCode.MessageTooLarge, "MESSAGE_TOO_LARGE", false, "A record or batch exceeds the largest size the broker or topic accepts."),
            new(ErrorCode.StaleControllerEpoch, "STALE_CONTROLLER_EPOCH", false, "The request came from a controller whose epoch is out of date; the controller role has moved."),
            new(ErrorCode.OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false, "The metadata string attached to an offset commit is longer than the broker allows."),
            new(ErrorCode.NetworkException, "NETWORK_EXCEPTION", true, "The connection behind the request was closed before a response arrived."),
            new(ErrorCode.CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true, "The coordinator is still loading its state and cannot serve requests yet; retry the same coordinator after a pause."),
            new(ErrorCode.CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true, "No coordinator is available for the group or transactional id at the moment; look it up again and retry."),
            new(ErrorCode.NotCoordinator, "NOT_COORDINATOR", true, "The broker is not the coordinator for this group or transactional id; look up the coordinator again."),
            new(ErrorCode.InvalidTopicException, "INVALID_TOPIC_EXCEPTION", false, "The topic name is not valid, or the operation cannot be applied to this topic (such as an internal topic)."),
            new(ErrorCode.RecordListTooLarge, "RECORD_LIST_TOO_LARGE", false, "The produce request carried a batch larger than the segment size the topic allows."),
            new(ErrorCode.NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true, "The write was refused because fewer in-sync replicas exist than the topic's minimum requires."),
            new(ErrorCode.NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "The records were written to the leader, but too few in-sync replicas remained to acknowledge them as required."),
            new(ErrorCode.InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false, "The produce request used an acks value the broker does not accept."),
            new(ErrorCode.IllegalGeneration, "ILLEGAL_GENERATION", false, "The generation id sent by the group member is not the group's current one; the member must rejoin."),
            new(ErrorCode.InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false, "The member's protocol type or its list of protocols does not fit those of the group's current members."),
            new(ErrorCode.InvalidGroupId, "INVALID_GROUP_ID", false, "The group id is empty or otherwise not acceptable."),
            new(ErrorCode.UnknownMemberId, "UNKNOWN_MEMBER_ID", false, "The coordinator does not know this member id in the group's current generation."),
            new(ErrorCode.InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false, "The requested session timeout lies outside the range the broker allows."),
            new(ErrorCode.RebalanceInProgress, "REBALANCE_IN_PROGRESS", false, "The group is rebalancing, so the member must rejoin before continuing."),
            new(ErrorCode.InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false, "The size of the offset commit data is not acceptable to the broker."),
            new(ErrorCode.TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false, "The principal is not permitted to access the topic in this way."),
            new(ErrorCode.GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", false, "The principal is not permitted to access the group in this way."),
            new(ErrorCode.ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", false, "The principal is not permitted to perform this cluster-level operation."),
            new(ErrorCode.InvalidTimestamp, "INVALID_TIMESTAMP", false, "A record's timestamp lies outside the range the topic accepts."),
            new(ErrorCode.UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", false, "The broker does not offer the SASL mechanism the client asked for."),
            new(ErrorCode.IllegalSaslState, "ILLEGAL_SASL_STATE", false, "The request arrived at a point of the SASL exchange where it is not allowed."),
            new(ErrorCode.UnsupportedVersion, "UNSUPPORTED_VERSION", false, "The broker does not support this version of the API."),
            new(ErrorCode.TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false, "The topic name is already taken by an existing topic."),
            new(ErrorCode.InvalidPartitions, "INVALID_PARTITIONS", false, "The requested partition count is not valid."),
            new(ErrorCode.InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false, "The requested replication factor is not valid."),
            new(ErrorCode.InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false, "The replica assignment given explicitly in the request is not valid."),
            new(ErrorCode.InvalidConfig, "INVALID_CONFIG", false, "A configuration entry in the request is unknown or has an invalid value."),
            new(ErrorCode.NotController, "NOT_CONTROLLER", true, "The request needs the active controller and this broker or controller is not it."),
            new(ErrorCode.InvalidRequest, "INVALID_REQUEST", false, "The broker found the request malformed or inconsistent, usually because of a client bug or a broker too old for the request; its logs say more."),
            new(ErrorCode.UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "The topic's on-disk message format version cannot express what the request asks for."),
            new(ErrorCode.PolicyViolation, "POLICY_VIOLATION", false, "A broker-side policy rejected the request."),
            new(ErrorCode.OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "The broker received a batch whose sequence number leaves a gap after the last one it stored for this producer."),
            new(ErrorCode.DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false, "The broker already stored a batch with this sequence number for this producer, so the batch is a duplicate."),
            new(ErrorCode.InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false, "The producer epoch is not the current one for this producer id; a newer producer has taken over, or the epoch was bumped."),
            new(ErrorCode.InvalidTxnState, "INVALID_TXN_STATE", false, "The transactional operation is not allowed in the transaction's current state."),
            new(ErrorCode.InvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", false, "The transactional id is currently mapped to a different producer id than the one sent."),
            new(ErrorCode.InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false, "The requested transaction timeout exceeds the broker's maximum (transaction.max.timeout.ms)."),
            new(ErrorCode.ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", true, "Another operation on the same transaction is still being completed; retry shortly."),
            new(ErrorCode.TransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", false, "The transaction coordinator that sent this marker request has been replaced by a newer one."),
            new(ErrorCode.TransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "The principal is not permitted to use this transactional id."),
            new(ErrorCode.SecurityDisabled, "SECURITY_DISABLED", false, "The request needs security features that are not enabled on the broker."),
            new(ErrorCode.OperationNotAttempted, "OPERATION_NOT_ATTEMPTED", false, "The broker skipped this operation, typically because another operation in the same batch failed first."),
            new(ErrorCode.KafkaStorageError, "KAFKA_STORAGE_ERROR", true, "The broker failed to read or write the log on its disk."),
            new(ErrorCode.LogDirNotFound, "LOG_DIR_NOT_FOUND", false, "The log directory named in the request does not exist on the broker."),
            new(ErrorCode.SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication failed, for example because the credentials are wrong."),
            new(ErrorCode.UnknownProducerId, "UNKNOWN_PRODUCER_ID", false, "The broker has no state for this producer id, often because the producer's records were all removed by retention."),
            new(ErrorCode.ReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", false, "A partition reassignment is already running for this partition."),
            new(ErrorCode.DelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", false, "Delegation token support is switched off on the broker."),
            new(ErrorCode.DelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", false, "The broker has no delegation token matching the request."),
            new(ErrorCode.DelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", false, "The principal is neither the owner nor a renewer of the delegation token."),
            new(ErrorCode.DelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, "Delegation token requests are refused on unauthenticated connections (plaintext or one-way TLS) and on connections that authenticated with a delegation token."),
            new(ErrorCode.DelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, "The principal is not permitted to perform this delegation token operation."),
            new(ErrorCode.DelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", false, "The delegation token has passed its expiry time."),
            new(ErrorCode.InvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", false, "The principal type given is not one the broker supports."),
            new(ErrorCode.NonEmptyGroup, "NON_EMPTY_GROUP", false, "The group still has members, so it cannot be deleted."),
            new(ErrorCode.GroupIdNotFound, "GROUP_ID_NOT_FOUND", false, "No group with this id exists."),
            new(ErrorCode.FetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", true, "The broker has no fetch session with this id; the client should open a new session."),
            new(ErrorCode.InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", true, "The fetch session epoch is not the one the broker expects next."),
            new(ErrorCode.ListenerNotFound, "LISTENER_NOT_FOUND", true, "The partition leader has no endpoint for the listener this request arrived on."),
            new(ErrorCode.TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", false, "Topic deletion is switched off on the cluster."),
            new(ErrorCode.FencedLeaderEpoch, "FENCED_LEADER_EPOCH", true, "The request carries a leader epoch older than the broker's current one; the client's metadata is stale."),
            new(ErrorCode.UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true, "The request carries a leader epoch newer than the broker knows; the broker has not caught up yet."),
            new(ErrorCode.UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false, "The partition's data uses a compression type that the requesting client's API version cannot handle."),
            new(ErrorCode.StaleBrokerEpoch, "STALE_BROKER_EPOCH", false, "The broker epoch in the request is older than the current one for that broker."),
            new(ErrorCode.OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true, "The leader cannot answer this offset query yet, typically because the high watermark has not caught up after a leader change."),
            new(ErrorCode.MemberIdRequired, "MEMBER_ID_REQUIRED", false, "The group member must join again using the member id the coordinator just assigned it."),
            new(ErrorCode.PreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", true, "The preferred replica could not be made leader of the partition."),
            new(ErrorCode.GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false, "The group already holds the largest number of members the broker allows."),
            new(ErrorCode.FencedInstanceId, "FENCED_INSTANCE_ID", false, "Another member with the same static group instance id has replaced this one."),
            new(ErrorCode.EligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, "No replica eligible to become leader is available for the requested election."),
            new(ErrorCode.ElectionNotNeeded, "ELECTION_NOT_NEEDED", true, "The requested leader election was unnecessary: the partition already has the intended leader."),
            new(ErrorCode.NoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", false, "Nothing to act on: no partition reassignment is running."),
            new(ErrorCode.GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", false, "The offsets cannot be deleted because the group is still subscribed to the topic."),
            new(ErrorCode.InvalidRecord, "INVALID_RECORD", false, "The broker refused a record because it fails a broker-side validation rule."),
            new(ErrorCode.UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true, "The partition has offset commits still pending for the group; retry once they have settled."),
            new(ErrorCode.ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", true, "The request would exceed the client's throttling quota for this kind of operation."),
            new(ErrorCode.ProducerFenced, "PRODUCER_FENCED", false, "A newer producer with the same transactional id has started, so this producer is fenced."),
            new(ErrorCode.ResourceNotFound, "RESOURCE_NOT_FOUND", false, "The resource the request refers to does not exist."),
            new(ErrorCode.DuplicateResource, "DUPLICATE_RESOURCE", false, "The request names the same resource more than once."),
            new(ErrorCode.UnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", false, "The credential does not meet the broker's requirements."),
            new(ErrorCode.InconsistentVoterSet, "INCONSISTENT_VOTER_SET", false, "The voter set of the sender or receiver does not agree with the request (KRaft quorum)."),
            new(ErrorCode.InvalidUpdateVersion, "INVALID_UPDATE_VERSION", false, "The version given for the update is not valid."),
            new(ErrorCode.FeatureUpdateFailed, "FEATURE_UPDATE_FAILED", false, "The broker failed to apply the finalized feature update."),
            new(ErrorCode.PrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", false, "A forwarded request's principal could not be deserialized, which points at a broker security setup problem."),
            new(ErrorCode.SnapshotNotFound, "SNAPSHOT_NOT_FOUND", false, "The requested metadata snapshot does not exist."),
            new(ErrorCode.PositionOutOfRange, "POSITION_OUT_OF_RANGE", false, "The requested position is negative or not smaller than the snapshot's size."),
            new(ErrorCode.UnknownTopicId, "UNKNOWN_TOPIC_ID", true, "The broker does not host a topic with this topic id; refresh metadata and retry."),
            new(ErrorCode.DuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", false, "Another broker has already registered with this broker id."),
            new(ErrorCode.BrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", false, "No broker is registered with this broker id."),
            new(ErrorCode.InconsistentTopicId, "INCONSISTENT_TOPIC_ID", true, "The topic id in the request does not match the topic id of the partition's log."),
            new(ErrorCode.InconsistentClusterId, "INCONSISTENT_CLUSTER_ID", false, "The cluster id in the request is not the one this server belongs to."),
            new(ErrorCode.TransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", false, "No transaction state exists for this transactional id."),
            new(ErrorCode.FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", true, "The fetch session used topic ids inconsistently, for example switching between ids and names or seeing a topic's id change."),
            new(ErrorCode.IneligibleReplica, "INELIGIBLE_REPLICA", false, "The proposed in-sync replica set includes a replica that is not eligible to be in it."),
            new(ErrorCode.NewLeaderElected, "NEW_LEADER_ELECTED", false, "The partition state change was applied, but in the meantime a new leader was elected."),
            new(ErrorCode.OffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", false, "The requested offset is no longer on the broker's local disk; it is only in tiered (remote) storage."),
            new(ErrorCode.FencedMemberEpoch, "FENCED_MEMBER_EPOCH", false, "The coordinator fenced the member's epoch; the member must give up its partitions and rejoin the group."),
            new(ErrorCode.UnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", false, "Another member of the group still holds this static instance id and must leave first."),
            new(ErrorCode.UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", false, "The group does not support the requested assignor or version range."),
            new(ErrorCode.StaleMemberEpoch, "STALE_MEMBER_EPOCH", false, "The member epoch is out of date; the member should retry once its heartbeat has delivered the current epoch."),
            new(ErrorCode.MismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", false, "The request reached an endpoint of the wrong kind, such as a controller endpoint instead of a broker one."),
            new(ErrorCode.UnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", false, "The kind of endpoint the request targets is not supported yet."),
            new(ErrorCode.UnknownControllerId, "UNKNOWN_CONTROLLER_ID", false, "The controller id in the request does not belong to any known controller."),
            new(ErrorCode.UnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", false, "The telemetry push named a client metrics subscription id that is unknown or out of date."),
            new(ErrorCode.TelemetryTooLarge, "TELEMETRY_TOO_LARGE", false, "The telemetry push is larger than the broker accepts."),
            new(ErrorCode.InvalidRegistration, "INVALID_REGISTRATION", false, "The controller refused the broker's registration as invalid."),
            new(ErrorCode.TransactionAbortable, "TRANSACTION_ABORTABLE", false, "The transaction failed on the broker; aborting it lets the producer keep using its transactional id."),
            new(ErrorCode.InvalidRecordState, "INVALID_RECORD_STATE", false, "The records are in a state that does not allow the acknowledgement asked for (share groups)."),
            new(ErrorCode.ShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", true, "The broker has no share session matching the request."),
            new(ErrorCode.InvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", true, "The share session epoch is not the one the broker expects."),
            new(ErrorCode.FencedStateEpoch, "FENCED_STATE_EPOCH", false, "The share-group state epoch in the request is stale, so the share coordinator refused it."),
            new(ErrorCode.InvalidVoterKey, "INVALID_VOTER_KEY", false, "The voter key in the request does not match the key of the replica that received it."),
            new(ErrorCode.DuplicateVoter, "DUPLICATE_VOTER", false, "This voter already belongs to the voter set."),
            new(ErrorCode.VoterNotFound, "VOTER_NOT_FOUND", false, "This voter does not belong to the voter set."),
            new(ErrorCode.InvalidRegularExpression, "INVALID_REGULAR_EXPRESSION", false, "The regular expression in the request cannot be parsed."),
            new(ErrorCode.RebootstrapRequired, "REBOOTSTRAP_REQUIRED", false, "The client's cluster metadata is too old to trust; it must connect to the bootstrap servers again."),
            new(ErrorCode.StreamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", false, "The Kafka Streams topology sent with the request is not valid."),
            new(ErrorCode.StreamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, "The Kafka Streams topology epoch sent with the request is not valid."),
            new(ErrorCode.StreamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", false, "The Kafka Streams topology epoch sent with the request is older than the group's."),
            new(ErrorCode.ShareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", true, "The broker cannot open another share session because it already holds as many as it allows."),
            new(ErrorCode.GroupDeletionFailed, "GROUP_DELETION_FAILED", false, "The group could not be deleted; the error message explains why, and the deletion can be retried once that is fixed."),
            new(ErrorCode.StreamsTopologyDescriptionUpdateFailed, "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED", false, "The broker failed to store the Kafka Streams topology description sent in the update request."),
            new(ErrorCode.ControllerIdNotRegistered, "CONTROLLER_ID_NOT_REGISTERED", false, "No controller is registered with the controller id given in the request."),
        ]);

    /// <summary>
    /// True when an operation that failed with this code may succeed if retried (Kafka marks the code's
    /// exception retriable), possibly after refreshing metadata or finding the coordinator again.
    /// False for <see cref="ErrorCode.None"/> and for codes this client does not know.
    /// </summary>
    public static bool IsRetriable(ErrorCode code) => Find(code)?.Retriable ?? false;

    /// <summary>A one-sentence description of the code; for an unknown code, a sentence saying so.</summary>
    public static string Describe(ErrorCode code) =>
        Find(code)?.Description
        ?? string.Create(CultureInfo.InvariantCulture, $"Error code {(short)code} is not known to this client; the broker is probably newer.");

    /// <summary>
    /// The code's name in the protocol guide, such as <c>NOT_LEADER_OR_FOLLOWER</c>; <c>UNKNOWN(n)</c> for a
    /// value this client does not know.
    /// </summary>
    public static string ProtocolName(ErrorCode code) =>
        Find(code)?.Name ?? string.Create(CultureInfo.InvariantCulture, $"UNKNOWN({(short)code})");

    /// <summary>True when the code is one this client knows (Apache Kafka up to 4.4).</summary>
    public static bool IsKnown(ErrorCode code) => Find(code) is not null;

    /// <summary>
    /// True when the code means the client's view of partition leadership or topics is out of date, so it
    /// should refresh metadata before retrying: for example <see cref="ErrorCode.NotLeaderOrFollower"/>,
    /// <see cref="ErrorCode.UnknownTopicOrPartition"/>, <see cref="ErrorCode.LeaderNotAvailable"/>,
    /// <see cref="ErrorCode.FencedLeaderEpoch"/> and <see cref="ErrorCode.UnknownLeaderEpoch"/>.
    /// Coordinator errors are reported by <see cref="IsCoordinatorError"/> instead.
    /// </summary>
    public static bool IsInvalidMetadata(ErrorCode code) => code is
        ErrorCode.UnknownTopicOrPartition
        or ErrorCode.LeaderNotAvailable
        or ErrorCode.NotLeaderOrFollower
        or ErrorCode.ReplicaNotAvailable
        or ErrorCode.NetworkException
        or ErrorCode.KafkaStorageError
        or ErrorCode.ListenerNotFound
        or ErrorCode.FencedLeaderEpoch
        or ErrorCode.UnknownLeaderEpoch
        or ErrorCode.PreferredLeaderNotAvailable
        or ErrorCode.EligibleLeadersNotAvailable
        or ErrorCode.ElectionNotNeeded
        or ErrorCode.UnknownTopicId
        or ErrorCode.InconsistentTopicId;

    /// <summary>
    /// True when the group or transaction coordinator could not serve the request:
    /// <see cref="ErrorCode.NotCoordinator"/> and <see cref="ErrorCode.CoordinatorNotAvailable"/> mean the
    /// client must look the coordinator up again; <see cref="ErrorCode.CoordinatorLoadInProgress"/> means it
    /// should retry the same coordinator after a pause.
    /// </summary>
    public static bool IsCoordinatorError(ErrorCode code) => code is
        ErrorCode.NotCoordinator
        or ErrorCode.CoordinatorNotAvailable
        or ErrorCode.CoordinatorLoadInProgress;

    /// <summary>True for the codes a failed SASL handshake or authentication produces.</summary>
    internal static bool IsAuthenticationError(ErrorCode code) => code is
        ErrorCode.SaslAuthenticationFailed
        or ErrorCode.IllegalSaslState
        or ErrorCode.UnsupportedSaslMechanism;

    /// <summary>True for the codes an ACL refusal produces.</summary>
    internal static bool IsAuthorizationError(ErrorCode code) => code is
        ErrorCode.TopicAuthorizationFailed
        or ErrorCode.GroupAuthorizationFailed
        or ErrorCode.ClusterAuthorizationFailed
        or ErrorCode.TransactionalIdAuthorizationFailed
        or ErrorCode.DelegationTokenAuthorizationFailed;

    /// <summary>
    /// An exception message that starts with the code's protocol name and number, as in
    /// <c>NOT_LEADER_OR_FOLLOWER (6): ...</c> (<c>UNKNOWN(n): ...</c> for an unknown code). A null or blank
    /// <paramref name="detail"/> is replaced by the code's description.
    /// </summary>
    internal static string FormatMessage(ErrorCode code, string? detail)
    {
        string text = string.IsNullOrWhiteSpace(detail) ? Describe(code) : detail;
        ErrorInfo? info = Find(code);
        return info is null
            ? string.Create(CultureInfo.InvariantCulture, $"UNKNOWN({(short)code}): {text}")
            : string.Create(CultureInfo.InvariantCulture, $"{info.Name} ({(short)code}): {text}");
    }

    private static ErrorInfo? Find(ErrorCode code)
    {
        int slot = (short)code - Lowest;
        return (uint)slot < (uint)ByCode.Length ? ByCode[slot] : null;
    }

    private static ErrorInfo?[] Index(ErrorInfo[] entries)
    {
        int highest = entries.Max(e => (int)e.Code);
        var byCode = new ErrorInfo?[highest - Lowest + 1];
        foreach (ErrorInfo entry in entries)
        {
            int slot = (int)entry.Code - Lowest;
            if (byCode[slot] is not null)
            {
                throw new InvalidOperationException($"Error code {(int)entry.Code} appears twice in the table.");
            }

            byCode[slot] = entry;
        }

        return byCode;
    }

    /// <summary>One row of the error table.</summary>
    private sealed record ErrorInfo(ErrorCode Code, string Name, bool Retriable, string Description);
}
