namespace KafkaClient.Errors;

/// <summary>
/// The error codes of the Kafka protocol, as carried in the 16-bit <c>error_code</c> fields of responses.
/// Every code defined by Apache Kafka up to 4.4 is named here (the highest is
/// <see cref="ControllerIdNotRegistered"/>, 136). A newer broker may send a value that has no name in this
/// enum; <see cref="ErrorCodes"/> answers sensibly for such values too.
/// </summary>
/// <remarks>Use <see cref="ErrorCodes.ProtocolName"/> for the name the protocol guide uses (for example
/// <c>NOT_LEADER_OR_FOLLOWER</c>).</remarks>
public enum ErrorCode : short
{
    /// <summary>The broker hit an unexpected internal failure while handling the request; its logs hold the cause.</summary>
    UnknownServerError = -1,
    /// <summary>Success: the request or this part of it completed without error.</summary>
    None = 0,
    /// <summary>The offset asked for lies outside the range of offsets the partition currently retains.</summary>
    OffsetOutOfRange = 1,
    /// <summary>A record or batch is malformed: its CRC does not match, its size is invalid, it lacks a key on a compacted topic, or it is otherwise damaged.</summary>
    CorruptMessage = 2,
    /// <summary>The broker does not know this topic or partition, or does not host it; refresh metadata and retry.</summary>
    UnknownTopicOrPartition = 3,
    /// <summary>The fetch request asked for an invalid maximum number of bytes.</summary>
    InvalidFetchSize = 4,
    /// <summary>The partition has no leader right now, usually because a leader election is in progress.</summary>
    LeaderNotAvailable = 5,
    /// <summary>The broker is not the partition's leader (for leader-only requests) or is not a replica of it at all; refresh metadata and send to the right broker.</summary>
    NotLeaderOrFollower = 6,
    /// <summary>The broker gave up waiting for the request to complete, for example while waiting for replicas to acknowledge.</summary>
    RequestTimedOut = 7,
    /// <summary>The broker named in the request is not available.</summary>
    BrokerNotAvailable = 8,
    /// <summary>A replica of the partition is not available on the broker asked.</summary>
    ReplicaNotAvailable = 9,
    /// <summary>A record or batch exceeds the largest size the broker or topic accepts.</summary>
    MessageTooLarge = 10,
    /// <summary>The request came from a controller whose epoch is out of date; the controller role has moved.</summary>
    StaleControllerEpoch = 11,
    /// <summary>The metadata string attached to an offset commit is longer than the broker allows.</summary>
    OffsetMetadataTooLarge = 12,
    /// <summary>The connection behind the request was closed before a response arrived.</summary>
    NetworkException = 13,
    /// <summary>The coordinator is still loading its state and cannot serve requests yet; retry the same coordinator after a pause.</summary>
    CoordinatorLoadInProgress = 14,
    /// <summary>No coordinator is available for the group or transactional id at the moment; look it up again and retry.</summary>
    CoordinatorNotAvailable = 15,
    /// <summary>The broker is not the coordinator for this group or transactional id; look up the coordinator again.</summary>
    NotCoordinator = 16,
    /// <summary>The topic name is not valid, or the operation cannot be applied to this topic (such as an internal topic).</summary>
    InvalidTopicException = 17,
    /// <summary>The produce request carried a batch larger than the segment size the topic allows.</summary>
    RecordListTooLarge = 18,
    /// <summary>The write was refused because fewer in-sync replicas exist than the topic's minimum requires.</summary>
    NotEnoughReplicas = 19,
    /// <summary>The records were written to the leader, but too few in-sync replicas remained to acknowledge them as required.</summary>
    NotEnoughReplicasAfterAppend = 20,
    /// <summary>The produce request used an acks value the broker does not accept.</summary>
    InvalidRequiredAcks = 21,
    /// <summary>The generation id sent by the group member is not the group's current one; the member must rejoin.</summary>
    IllegalGeneration = 22,
    /// <summary>The member's protocol type or its list of protocols does not fit those of the group's current members.</summary>
    InconsistentGroupProtocol = 23,
    /// <summary>The group id is empty or otherwise not acceptable.</summary>
    InvalidGroupId = 24,
    /// <summary>The coordinator does not know this member id in the group's current generation.</summary>
    UnknownMemberId = 25,
    /// <summary>The requested session timeout lies outside the range the broker allows.</summary>
    InvalidSessionTimeout = 26,
    /// <summary>The group is rebalancing, so the member must rejoin before continuing.</summary>
    RebalanceInProgress = 27,
    /// <summary>The size of the offset commit data is not acceptable to the broker.</summary>
    InvalidCommitOffsetSize = 28,
    /// <summary>The principal is not permitted to access the topic in this way.</summary>
    TopicAuthorizationFailed = 29,
    /// <summary>The principal is not permitted to access the group in this way.</summary>
    GroupAuthorizationFailed = 30,
    /// <summary>The principal is not permitted to perform this cluster-level operation.</summary>
    ClusterAuthorizationFailed = 31,
    /// <summary>A record's timestamp lies outside the range the topic accepts.</summary>
    InvalidTimestamp = 32,
    /// <summary>The broker does not offer the SASL mechanism the client asked for.</summary>
    UnsupportedSaslMechanism = 33,
    /// <summary>The request arrived at a point of the SASL exchange where it is not allowed.</summary>
    IllegalSaslState = 34,
    /// <summary>The broker does not support this version of the API.</summary>
    UnsupportedVersion = 35,
    /// <summary>The topic name is already taken by an existing topic.</summary>
    TopicAlreadyExists = 36,
    /// <summary>The requested partition count is not valid.</summary>
    InvalidPartitions = 37,
    /// <summary>The requested replication factor is not valid.</summary>
    InvalidReplicationFactor = 38,
    /// <summary>The replica assignment given explicitly in the request is not valid.</summary>
    InvalidReplicaAssignment = 39,
    /// <summary>A configuration entry in the request is unknown or has an invalid value.</summary>
    InvalidConfig = 40,
    /// <summary>The request needs the active controller and this broker or controller is not it.</summary>
    NotController = 41,
    /// <summary>The broker found the request malformed or inconsistent, usually because of a client bug or a broker too old for the request; its logs say more.</summary>
    InvalidRequest = 42,
    /// <summary>The topic's on-disk message format version cannot express what the request asks for.</summary>
    UnsupportedForMessageFormat = 43,
    /// <summary>A broker-side policy rejected the request.</summary>
    PolicyViolation = 44,
    /// <summary>The broker received a batch whose sequence number leaves a gap after the last one it stored for this producer.</summary>
    OutOfOrderSequenceNumber = 45,
    /// <summary>The broker already stored a batch with this sequence number for this producer, so the batch is a duplicate.</summary>
    DuplicateSequenceNumber = 46,
    /// <summary>The producer epoch is not the current one for this producer id; a newer producer has taken over, or the epoch was bumped.</summary>
    InvalidProducerEpoch = 47,
    /// <summary>The transactional operation is not allowed in the transaction's current state.</summary>
    InvalidTxnState = 48,
    /// <summary>The transactional id is currently mapped to a different producer id than the one sent.</summary>
    InvalidProducerIdMapping = 49,
    /// <summary>The requested transaction timeout exceeds the broker's maximum (transaction.max.timeout.ms).</summary>
    InvalidTransactionTimeout = 50,
    /// <summary>Another operation on the same transaction is still being completed; retry shortly.</summary>
    ConcurrentTransactions = 51,
    /// <summary>The transaction coordinator that sent this marker request has been replaced by a newer one.</summary>
    TransactionCoordinatorFenced = 52,
    /// <summary>The principal is not permitted to use this transactional id.</summary>
    TransactionalIdAuthorizationFailed = 53,
    /// <summary>The request needs security features that are not enabled on the broker.</summary>
    SecurityDisabled = 54,
    /// <summary>The broker skipped this operation, typically because another operation in the same batch failed first.</summary>
    OperationNotAttempted = 55,
    /// <summary>The broker failed to read or write the log on its disk.</summary>
    KafkaStorageError = 56,
    /// <summary>The log directory named in the request does not exist on the broker.</summary>
    LogDirNotFound = 57,
    /// <summary>SASL authentication failed, for example because the credentials are wrong.</summary>
    SaslAuthenticationFailed = 58,
    /// <summary>The broker has no state for this producer id, often because the producer's records were all removed by retention.</summary>
    UnknownProducerId = 59,
    /// <summary>A partition reassignment is already running for this partition.</summary>
    ReassignmentInProgress = 60,
    /// <summary>Delegation token support is switched off on the broker.</summary>
    DelegationTokenAuthDisabled = 61,
    /// <summary>The broker has no delegation token matching the request.</summary>
    DelegationTokenNotFound = 62,
    /// <summary>The principal is neither the owner nor a renewer of the delegation token.</summary>
    DelegationTokenOwnerMismatch = 63,
    /// <summary>Delegation token requests are refused on unauthenticated connections (plaintext or one-way TLS) and on connections that authenticated with a delegation token.</summary>
    DelegationTokenRequestNotAllowed = 64,
    /// <summary>The principal is not permitted to perform this delegation token operation.</summary>
    DelegationTokenAuthorizationFailed = 65,
    /// <summary>The delegation token has passed its expiry time.</summary>
    DelegationTokenExpired = 66,
    /// <summary>The principal type given is not one the broker supports.</summary>
    InvalidPrincipalType = 67,
    /// <summary>The group still has members, so it cannot be deleted.</summary>
    NonEmptyGroup = 68,
    /// <summary>No group with this id exists.</summary>
    GroupIdNotFound = 69,
    /// <summary>The broker has no fetch session with this id; the client should open a new session.</summary>
    FetchSessionIdNotFound = 70,
    /// <summary>The fetch session epoch is not the one the broker expects next.</summary>
    InvalidFetchSessionEpoch = 71,
    /// <summary>The partition leader has no endpoint for the listener this request arrived on.</summary>
    ListenerNotFound = 72,
    /// <summary>Topic deletion is switched off on the cluster.</summary>
    TopicDeletionDisabled = 73,
    /// <summary>The request carries a leader epoch older than the broker's current one; the client's metadata is stale.</summary>
    FencedLeaderEpoch = 74,
    /// <summary>The request carries a leader epoch newer than the broker knows; the broker has not caught up yet.</summary>
    UnknownLeaderEpoch = 75,
    /// <summary>The partition's data uses a compression type that the requesting client's API version cannot handle.</summary>
    UnsupportedCompressionType = 76,
    /// <summary>The broker epoch in the request is older than the current one for that broker.</summary>
    StaleBrokerEpoch = 77,
    /// <summary>The leader cannot answer this offset query yet, typically because the high watermark has not caught up after a leader change.</summary>
    OffsetNotAvailable = 78,
    /// <summary>The group member must join again using the member id the coordinator just assigned it.</summary>
    MemberIdRequired = 79,
    /// <summary>The preferred replica could not be made leader of the partition.</summary>
    PreferredLeaderNotAvailable = 80,
    /// <summary>The group already holds the largest number of members the broker allows.</summary>
    GroupMaxSizeReached = 81,
    /// <summary>Another member with the same static group instance id has replaced this one.</summary>
    FencedInstanceId = 82,
    /// <summary>No replica eligible to become leader is available for the requested election.</summary>
    EligibleLeadersNotAvailable = 83,
    /// <summary>The requested leader election was unnecessary: the partition already has the intended leader.</summary>
    ElectionNotNeeded = 84,
    /// <summary>Nothing to act on: no partition reassignment is running.</summary>
    NoReassignmentInProgress = 85,
    /// <summary>The offsets cannot be deleted because the group is still subscribed to the topic.</summary>
    GroupSubscribedToTopic = 86,
    /// <summary>The broker refused a record because it fails a broker-side validation rule.</summary>
    InvalidRecord = 87,
    /// <summary>The partition has offset commits still pending for the group; retry once they have settled.</summary>
    UnstableOffsetCommit = 88,
    /// <summary>The request would exceed the client's throttling quota for this kind of operation.</summary>
    ThrottlingQuotaExceeded = 89,
    /// <summary>A newer producer with the same transactional id has started, so this producer is fenced.</summary>
    ProducerFenced = 90,
    /// <summary>The resource the request refers to does not exist.</summary>
    ResourceNotFound = 91,
    /// <summary>The request names the same resource more than once.</summary>
    DuplicateResource = 92,
    /// <summary>The credential does not meet the broker's requirements.</summary>
    UnacceptableCredential = 93,
    /// <summary>The voter set of the sender or receiver does not agree with the request (KRaft quorum).</summary>
    InconsistentVoterSet = 94,
    /// <summary>The version given for the update is not valid.</summary>
    InvalidUpdateVersion = 95,
    /// <summary>The broker failed to apply the finalized feature update.</summary>
    FeatureUpdateFailed = 96,
    /// <summary>A forwarded request's principal could not be deserialized, which points at a broker security setup problem.</summary>
    PrincipalDeserializationFailure = 97,
    /// <summary>The requested metadata snapshot does not exist.</summary>
    SnapshotNotFound = 98,
    /// <summary>The requested position is negative or not smaller than the snapshot's size.</summary>
    PositionOutOfRange = 99,
    /// <summary>The broker does not host a topic with this topic id; refresh metadata and retry.</summary>
    UnknownTopicId = 100,
    /// <summary>Another broker has already registered with this broker id.</summary>
    DuplicateBrokerRegistration = 101,
    /// <summary>No broker is registered with this broker id.</summary>
    BrokerIdNotRegistered = 102,
    /// <summary>The topic id in the request does not match the topic id of the partition's log.</summary>
    InconsistentTopicId = 103,
    /// <summary>The cluster id in the request is not the one this server belongs to.</summary>
    InconsistentClusterId = 104,
    /// <summary>No transaction state exists for this transactional id.</summary>
    TransactionalIdNotFound = 105,
    /// <summary>The fetch session used topic ids inconsistently, for example switching between ids and names or seeing a topic's id change.</summary>
    FetchSessionTopicIdError = 106,
    /// <summary>The proposed in-sync replica set includes a replica that is not eligible to be in it.</summary>
    IneligibleReplica = 107,
    /// <summary>The partition state change was applied, but in the meantime a new leader was elected.</summary>
    NewLeaderElected = 108,
    /// <summary>The requested offset is no longer on the broker's local disk; it is only in tiered (remote) storage.</summary>
    OffsetMovedToTieredStorage = 109,
    /// <summary>The coordinator fenced the member's epoch; the member must give up its partitions and rejoin the group.</summary>
    FencedMemberEpoch = 110,
    /// <summary>Another member of the group still holds this static instance id and must leave first.</summary>
    UnreleasedInstanceId = 111,
    /// <summary>The group does not support the requested assignor or version range.</summary>
    UnsupportedAssignor = 112,
    /// <summary>The member epoch is out of date; the member should retry once its heartbeat has delivered the current epoch.</summary>
    StaleMemberEpoch = 113,
    /// <summary>The request reached an endpoint of the wrong kind, such as a controller endpoint instead of a broker one.</summary>
    MismatchedEndpointType = 114,
    /// <summary>The kind of endpoint the request targets is not supported yet.</summary>
    UnsupportedEndpointType = 115,
    /// <summary>The controller id in the request does not belong to any known controller.</summary>
    UnknownControllerId = 116,
    /// <summary>The telemetry push named a client metrics subscription id that is unknown or out of date.</summary>
    UnknownSubscriptionId = 117,
    /// <summary>The telemetry push is larger than the broker accepts.</summary>
    TelemetryTooLarge = 118,
    /// <summary>The controller refused the broker's registration as invalid.</summary>
    InvalidRegistration = 119,
    /// <summary>The transaction failed on the broker; aborting it lets the producer keep using its transactional id.</summary>
    TransactionAbortable = 120,
    /// <summary>The records are in a state that does not allow the acknowledgement asked for (share groups).</summary>
    InvalidRecordState = 121,
    /// <summary>The broker has no share session matching the request.</summary>
    ShareSessionNotFound = 122,
    /// <summary>The share session epoch is not the one the broker expects.</summary>
    InvalidShareSessionEpoch = 123,
    /// <summary>The share-group state epoch in the request is stale, so the share coordinator refused it.</summary>
    FencedStateEpoch = 124,
    /// <summary>The voter key in the request does not match the key of the replica that received it.</summary>
    InvalidVoterKey = 125,
    /// <summary>This voter already belongs to the voter set.</summary>
    DuplicateVoter = 126,
    /// <summary>This voter does not belong to the voter set.</summary>
    VoterNotFound = 127,
    /// <summary>The regular expression in the request cannot be parsed.</summary>
    InvalidRegularExpression = 128,
    /// <summary>The client's cluster metadata is too old to trust; it must connect to the bootstrap servers again.</summary>
    RebootstrapRequired = 129,
    /// <summary>The Kafka Streams topology sent with the request is not valid.</summary>
    StreamsInvalidTopology = 130,
    /// <summary>The Kafka Streams topology epoch sent with the request is not valid.</summary>
    StreamsInvalidTopologyEpoch = 131,
    /// <summary>The Kafka Streams topology epoch sent with the request is older than the group's.</summary>
    StreamsTopologyFenced = 132,
    /// <summary>The broker cannot open another share session because it already holds as many as it allows.</summary>
    ShareSessionLimitReached = 133,
    /// <summary>The group could not be deleted; the error message explains why, and the deletion can be retried once that is fixed.</summary>
    GroupDeletionFailed = 134,
    /// <summary>The broker failed to store the Kafka Streams topology description sent in the update request.</summary>
    StreamsTopologyDescriptionUpdateFailed = 135,
    /// <summary>No controller is registered with the controller id given in the request.</summary>
    ControllerIdNotRegistered = 136,
}
