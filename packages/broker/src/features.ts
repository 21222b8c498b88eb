/**
 * The feature levels kch reports in ApiVersions (KIP-584; what `Admin.describeFeatures` and
 * kafka-features.sh show). metadata.version is the level of the Kafka release whose APIs the codec
 * serves (3.9-IV0: Produce to v11, Fetch to v17); group.version and transaction.version stay at 0, the
 * level whose protocols kch serves: a client reads group.version 1 as the consumer group protocol of
 * KIP-848 and transaction.version 2 as KIP-890's epoch bump per transaction (EndTxn v5), neither
 * served yet. A finalized level of 0 is left out, as Kafka leaves a disabled feature out.
 */

export interface SupportedFeature {
  name: string;
  minVersion: number;
  maxVersion: number;
}

/** metadata.version levels: 3.3-IV3, the first KRaft release Kafka still supports, to 3.9-IV0. */
const METADATA_VERSION_MIN = 7;
const METADATA_VERSION = 21;

export const SUPPORTED_FEATURES: readonly SupportedFeature[] = [
  { name: 'group.version', minVersion: 0, maxVersion: 0 },
  { name: 'metadata.version', minVersion: METADATA_VERSION_MIN, maxVersion: METADATA_VERSION },
  { name: 'transaction.version', minVersion: 0, maxVersion: 0 },
];

/** The finalized level of each feature whose level is above 0. */
export const FINALIZED_FEATURES: readonly { name: string; level: number }[] = [
  { name: 'metadata.version', level: METADATA_VERSION },
];

/** The epoch of the finalized features: they never change while kch runs. */
export const FINALIZED_FEATURES_EPOCH = 0n;
