/** Every API this broker serves: one module per API, registered here. */

import type { ApiHandler } from '../handler.js';
import addOffsetsToTxn from './add-offsets-to-txn.js';
import addPartitionsToTxn from './add-partitions-to-txn.js';
import alterClientQuotas from './alter-client-quotas.js';
import alterConfigs from './alter-configs.js';
import alterUserScramCredentials from './alter-user-scram-credentials.js';
import apiVersions from './api-versions.js';
import consumerGroupDescribe from './consumer-group-describe.js';
import consumerGroupHeartbeat from './consumer-group-heartbeat.js';
import createAcls from './create-acls.js';
import createPartitions from './create-partitions.js';
import createTopics from './create-topics.js';
import deleteAcls from './delete-acls.js';
import deleteGroups from './delete-groups.js';
import deleteRecords from './delete-records.js';
import deleteTopics from './delete-topics.js';
import describeAcls from './describe-acls.js';
import describeClientQuotas from './describe-client-quotas.js';
import describeCluster from './describe-cluster.js';
import describeConfigs from './describe-configs.js';
import describeGroups from './describe-groups.js';
import describeLogDirs from './describe-log-dirs.js';
import describeProducers from './describe-producers.js';
import describeTopicPartitions from './describe-topic-partitions.js';
import describeTransactions from './describe-transactions.js';
import describeUserScramCredentials from './describe-user-scram-credentials.js';
import electLeaders from './elect-leaders.js';
import endTxn from './end-txn.js';
import fetch from './fetch.js';
import findCoordinator from './find-coordinator.js';
import getTelemetrySubscriptions from './get-telemetry-subscriptions.js';
import heartbeat from './heartbeat.js';
import incrementalAlterConfigs from './incremental-alter-configs.js';
import initProducerId from './init-producer-id.js';
import joinGroup from './join-group.js';
import leaveGroup from './leave-group.js';
import listGroups from './list-groups.js';
import listOffsets from './list-offsets.js';
import listTransactions from './list-transactions.js';
import metadata from './metadata.js';
import offsetCommit from './offset-commit.js';
import offsetDelete from './offset-delete.js';
import offsetFetch from './offset-fetch.js';
import offsetForLeaderEpoch from './offset-for-leader-epoch.js';
import produce from './produce.js';
import pushTelemetry from './push-telemetry.js';
import saslAuthenticate from './sasl-authenticate.js';
import saslHandshake from './sasl-handshake.js';
import syncGroup from './sync-group.js';
import txnOffsetCommit from './txn-offset-commit.js';
import writeTxnMarkers from './write-txn-markers.js';

export const HANDLERS: readonly ApiHandler<any>[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  apiVersions,
  initProducerId,
  addPartitionsToTxn,
  addOffsetsToTxn,
  endTxn,
  txnOffsetCommit,
  describeTransactions,
  listTransactions,
  writeTxnMarkers,
  offsetForLeaderEpoch,
  describeProducers,
  createTopics,
  deleteTopics,
  createPartitions,
  describeConfigs,
  alterConfigs,
  incrementalAlterConfigs,
  deleteRecords,
  describeCluster,
  describeTopicPartitions,
  describeLogDirs,
  electLeaders,
  findCoordinator,
  joinGroup,
  syncGroup,
  heartbeat,
  leaveGroup,
  offsetCommit,
  offsetFetch,
  describeGroups,
  listGroups,
  deleteGroups,
  offsetDelete,
  consumerGroupHeartbeat,
  consumerGroupDescribe,
  describeUserScramCredentials,
  alterUserScramCredentials,
  describeAcls,
  createAcls,
  deleteAcls,
  describeClientQuotas,
  alterClientQuotas,
  saslHandshake,
  saslAuthenticate,
  getTelemetrySubscriptions,
  pushTelemetry,
];
