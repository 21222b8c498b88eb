/**
 * The feature levels kch reports in ApiVersions (KIP-584; what `Admin.describeFeatures` and
 * kafka-features.sh show). metadata.version is the level of the Kafka release whose APIs the codec
 * serves (3.9-IV0: Produce to v11, Fetch to v17). group.version is 1: Kafka serves the consumer group
 * protocol of KIP-848 (ConsumerGroupHeartbeat, ConsumerGroupDescribe) only while group.version is at
 * least 1 (KafkaApis.isConsumerGroupProtocolEnabled), and kch serves it, so a tool reading level 0
 * would be told it is off. (Kafka lets group.version 1 be finalized only with metadata.version
 * 4.0-IV0 or later, a rule between its controllers when levels change; kch's levels are fixed, and
 * clients read group.version alone.) transaction.version stays at 0: a client reads 2 as KIP-890's
 * epoch bump per transaction (EndTxn v5), not served yet. A finalized level of 0 is left out, as
 * Kafka leaves a disabled feature out.
 */

export interface SupportedFeature {
  name: string;
  minVersion: number;
  maxVersion: number;
}

/** metadata.version levels: 3.3-IV3, the first KRaft release Kafka still supports, to 3.9-IV0. */
const METADATA_VERSION_MIN = 7;
const METADATA_VERSION = 21;
/** group.version 1: the KIP-848 consumer group protocol is served. */
const GROUP_VERSION = 1;

export const SUPPORTED_FEATURES: readonly SupportedFeature[] = [
  { name: 'group.version', minVersion: 0, maxVersion: GROUP_VERSION },
  { name: 'metadata.version', minVersion: METADATA_VERSION_MIN, maxVersion: METADATA_VERSION },
  { name: 'transaction.version', minVersion: 0, maxVersion: 0 },
];

/** The finalized level of each feature whose level is above 0. */
export const FINALIZED_FEATURES: readonly { name: string; level: number }[] = [
  { name: 'group.version', level: GROUP_VERSION },
  { name: 'metadata.version', level: METADATA_VERSION },
];

/** The epoch of the finalized features: they never change while kch runs. */
export const FINALIZED_FEATURES_EPOCH = 0n;
