#pragma once
// Kafka's error codes, as every response carries them (the numbering is part of the wire
// protocol and never changes). Handlers answer with these; inside the broker errors are
// absl::Status values and are mapped to a code only at the protocol edge.

#include <cstdint>
#include <string_view>

namespace fjord::protocol {

#define FJORD_KAFKA_ERRORS(X)                                                       \
  X(-1, kUnknownServerError, UNKNOWN_SERVER_ERROR)                                  \
  X(0, kNone, NONE)                                                                 \
  X(1, kOffsetOutOfRange, OFFSET_OUT_OF_RANGE)                                      \
  X(2, kCorruptMessage, CORRUPT_MESSAGE)                                            \
  X(3, kUnknownTopicOrPartition, UNKNOWN_TOPIC_OR_PARTITION)                        \
  X(4, kInvalidFetchSize, INVALID_FETCH_SIZE)                                       \
  X(5, kLeaderNotAvailable, LEADER_NOT_AVAILABLE)                                   \
  X(6, kNotLeaderOrFollower, NOT_LEADER_OR_FOLLOWER)                                \
  X(7, kRequestTimedOut, REQUEST_TIMED_OUT)                                         \
  X(8, kBrokerNotAvailable, BROKER_NOT_AVAILABLE)                                   \
  X(9, kReplicaNotAvailable, REPLICA_NOT_AVAILABLE)                                 \
  X(10, kMessageTooLarge, MESSAGE_TOO_LARGE)                                        \
  X(11, kStaleControllerEpoch, STALE_CONTROLLER_EPOCH)                              \
  X(12, kOffsetMetadataTooLarge, OFFSET_METADATA_TOO_LARGE)                         \
  X(13, kNetworkException, NETWORK_EXCEPTION)                                       \
  X(14, kCoordinatorLoadInProgress, COORDINATOR_LOAD_IN_PROGRESS)                   \
  X(15, kCoordinatorNotAvailable, COORDINATOR_NOT_AVAILABLE)                        \
  X(16, kNotCoordinator, NOT_COORDINATOR)                                           \
  X(17, kInvalidTopicException, INVALID_TOPIC_EXCEPTION)                            \
  X(18, kRecordListTooLarge, RECORD_LIST_TOO_LARGE)                                 \
  X(19, kNotEnoughReplicas, NOT_ENOUGH_REPLICAS)                                    \
  X(20, kNotEnoughReplicasAfterAppend, NOT_ENOUGH_REPLICAS_AFTER_APPEND)            \
  X(21, kInvalidRequiredAcks, INVALID_REQUIRED_ACKS)                                \
  X(22, kIllegalGeneration, ILLEGAL_GENERATION)                                     \
  X(23, kInconsistentGroupProtocol, INCONSISTENT_GROUP_PROTOCOL)                    \
  X(24, kInvalidGroupId, INVALID_GROUP_ID)                                          \
  X(25, kUnknownMemberId, UNKNOWN_MEMBER_ID)                                        \
  X(26, kInvalidSessionTimeout, INVALID_SESSION_TIMEOUT)                            \
  X(27, kRebalanceInProgress, REBALANCE_IN_PROGRESS)                                \
  X(28, kInvalidCommitOffsetSize, INVALID_COMMIT_OFFSET_SIZE)                       \
  X(29, kTopicAuthorizationFailed, TOPIC_AUTHORIZATION_FAILED)                      \
  X(30, kGroupAuthorizationFailed, GROUP_AUTHORIZATION_FAILED)                      \
  X(31, kClusterAuthorizationFailed, CLUSTER_AUTHORIZATION_FAILED)                  \
  X(32, kInvalidTimestamp, INVALID_TIMESTAMP)                                       \
  X(33, kUnsupportedSaslMechanism, UNSUPPORTED_SASL_MECHANISM)                      \
  X(34, kIllegalSaslState, ILLEGAL_SASL_STATE)                                      \
  X(35, kUnsupportedVersion, UNSUPPORTED_VERSION)                                   \
  X(36, kTopicAlreadyExists, TOPIC_ALREADY_EXISTS)                                  \
  X(37, kInvalidPartitions, INVALID_PARTITIONS)                                     \
  X(38, kInvalidReplicationFactor, INVALID_REPLICATION_FACTOR)                      \
  X(39, kInvalidReplicaAssignment, INVALID_REPLICA_ASSIGNMENT)                      \
  X(40, kInvalidConfig, INVALID_CONFIG)                                             \
  X(41, kNotController, NOT_CONTROLLER)                                             \
  X(42, kInvalidRequest, INVALID_REQUEST)                                           \
  X(43, kUnsupportedForMessageFormat, UNSUPPORTED_FOR_MESSAGE_FORMAT)               \
  X(44, kPolicyViolation, POLICY_VIOLATION)                                         \
  X(45, kOutOfOrderSequenceNumber, OUT_OF_ORDER_SEQUENCE_NUMBER)                    \
  X(46, kDuplicateSequenceNumber, DUPLICATE_SEQUENCE_NUMBER)                        \
  X(47, kInvalidProducerEpoch, INVALID_PRODUCER_EPOCH)                              \
  X(48, kInvalidTxnState, INVALID_TXN_STATE)                                        \
  X(49, kInvalidProducerIdMapping, INVALID_PRODUCER_ID_MAPPING)                     \
  X(50, kInvalidTransactionTimeout, INVALID_TRANSACTION_TIMEOUT)                    \
  X(51, kConcurrentTransactions, CONCURRENT_TRANSACTIONS)                           \
  X(52, kTransactionCoordinatorFenced, TRANSACTION_COORDINATOR_FENCED)              \
  X(53, kTransactionalIdAuthorizationFailed, TRANSACTIONAL_ID_AUTHORIZATION_FAILED) \
  X(54, kSecurityDisabled, SECURITY_DISABLED)                                       \
  X(55, kOperationNotAttempted, OPERATION_NOT_ATTEMPTED)                            \
  X(56, kKafkaStorageError, KAFKA_STORAGE_ERROR)                                    \
  X(57, kLogDirNotFound, LOG_DIR_NOT_FOUND)                                         \
  X(58, kSaslAuthenticationFailed, SASL_AUTHENTICATION_FAILED)                      \
  X(59, kUnknownProducerId, UNKNOWN_PRODUCER_ID)                                    \
  X(60, kReassignmentInProgress, REASSIGNMENT_IN_PROGRESS)                          \
  X(67, kInvalidPrincipalType, INVALID_PRINCIPAL_TYPE)                              \
  X(68, kNonEmptyGroup, NON_EMPTY_GROUP)                                            \
  X(69, kGroupIdNotFound, GROUP_ID_NOT_FOUND)                                       \
  X(70, kFetchSessionIdNotFound, FETCH_SESSION_ID_NOT_FOUND)                        \
  X(71, kInvalidFetchSessionEpoch, INVALID_FETCH_SESSION_EPOCH)                     \
  X(72, kListenerNotFound, LISTENER_NOT_FOUND)                                      \
  X(73, kTopicDeletionDisabled, TOPIC_DELETION_DISABLED)                            \
  X(74, kFencedLeaderEpoch, FENCED_LEADER_EPOCH)                                    \
  X(75, kUnknownLeaderEpoch, UNKNOWN_LEADER_EPOCH)                                  \
  X(76, kUnsupportedCompressionType, UNSUPPORTED_COMPRESSION_TYPE)                  \
  X(77, kStaleBrokerEpoch, STALE_BROKER_EPOCH)                                      \
  X(78, kOffsetNotAvailable, OFFSET_NOT_AVAILABLE)                                  \
  X(79, kMemberIdRequired, MEMBER_ID_REQUIRED)                                      \
  X(80, kPreferredLeaderNotAvailable, PREFERRED_LEADER_NOT_AVAILABLE)               \
  X(81, kGroupMaxSizeReached, GROUP_MAX_SIZE_REACHED)                               \
  X(82, kFencedInstanceId, FENCED_INSTANCE_ID)                                      \
  X(83, kEligibleLeadersNotAvailable, ELIGIBLE_LEADERS_NOT_AVAILABLE)               \
  X(84, kElectionNotNeeded, ELECTION_NOT_NEEDED)                                    \
  X(85, kNoReassignmentInProgress, NO_REASSIGNMENT_IN_PROGRESS)                     \
  X(86, kGroupSubscribedToTopic, GROUP_SUBSCRIBED_TO_TOPIC)                         \
  X(87, kInvalidRecord, INVALID_RECORD)                                             \
  X(88, kUnstableOffsetCommit, UNSTABLE_OFFSET_COMMIT)                              \
  X(89, kThrottlingQuotaExceeded, THROTTLING_QUOTA_EXCEEDED)                        \
  X(90, kProducerFenced, PRODUCER_FENCED)                                           \
  X(91, kResourceNotFound, RESOURCE_NOT_FOUND)                                      \
  X(92, kDuplicateResource, DUPLICATE_RESOURCE)                                     \
  X(93, kUnacceptableCredential, UNACCEPTABLE_CREDENTIAL)                           \
  X(94, kInconsistentVoterSet, INCONSISTENT_VOTER_SET)                              \
  X(95, kInvalidUpdateVersion, INVALID_UPDATE_VERSION)                              \
  X(96, kFeatureUpdateFailed, FEATURE_UPDATE_FAILED)                                \
  X(97, kPrincipalDeserializationFailure, PRINCIPAL_DESERIALIZATION_FAILURE)        \
  X(98, kSnapshotNotFound, SNAPSHOT_NOT_FOUND)                                      \
  X(99, kPositionOutOfRange, POSITION_OUT_OF_RANGE)                                 \
  X(100, kUnknownTopicId, UNKNOWN_TOPIC_ID)                                         \
  X(101, kDuplicateBrokerRegistration, DUPLICATE_BROKER_REGISTRATION)               \
  X(102, kBrokerIdNotRegistered, BROKER_ID_NOT_REGISTERED)                          \
  X(103, kInconsistentTopicId, INCONSISTENT_TOPIC_ID)                               \
  X(104, kInconsistentClusterId, INCONSISTENT_CLUSTER_ID)                           \
  X(105, kTransactionalIdNotFound, TRANSACTIONAL_ID_NOT_FOUND)                      \
  X(106, kFetchSessionTopicIdError, FETCH_SESSION_TOPIC_ID_ERROR)                   \
  X(107, kIneligibleReplica, INELIGIBLE_REPLICA)                                    \
  X(108, kNewLeaderElected, NEW_LEADER_ELECTED)                                     \
  X(109, kOffsetMovedToTieredStorage, OFFSET_MOVED_TO_TIERED_STORAGE)               \
  X(110, kFencedMemberEpoch, FENCED_MEMBER_EPOCH)                                   \
  X(111, kUnreleasedInstanceId, UNRELEASED_INSTANCE_ID)                             \
  X(112, kUnsupportedAssignor, UNSUPPORTED_ASSIGNOR)                                \
  X(113, kStaleMemberEpoch, STALE_MEMBER_EPOCH)                                     \
  X(114, kMismatchedEndpointType, MISMATCHED_ENDPOINT_TYPE)                         \
  X(115, kUnsupportedEndpointType, UNSUPPORTED_ENDPOINT_TYPE)                       \
  X(120, kTransactionAbortable, TRANSACTION_ABORTABLE)

enum class ErrorCode : int16_t {
#define FJORD_ERROR_ENUM(code, id, name) id = code,
  FJORD_KAFKA_ERRORS(FJORD_ERROR_ENUM)
#undef FJORD_ERROR_ENUM
};

inline constexpr int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

// Kafka's name for the code ("UNKNOWN_TOPIC_OR_PARTITION"), or "UNKNOWN_ERROR_CODE".
constexpr std::string_view ErrorName(ErrorCode e) {
  switch (e) {
#define FJORD_ERROR_NAME(code, id, name) \
  case ErrorCode::id:                    \
    return #name;
    FJORD_KAFKA_ERRORS(FJORD_ERROR_NAME)
#undef FJORD_ERROR_NAME
  }
  return "UNKNOWN_ERROR_CODE";
}

}  // namespace fjord::protocol
