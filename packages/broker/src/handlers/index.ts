/** Every API this broker serves: one module per API, registered here. */
import type { ApiHandler } from '../handler.js';
import apiVersions from './api-versions.js';
import describeProducers from './describe-producers.js';
import fetch from './fetch.js';
import initProducerId from './init-producer-id.js';
import listOffsets from './list-offsets.js';
import metadata from './metadata.js';
import offsetForLeaderEpoch from './offset-for-leader-epoch.js';
import produce from './produce.js';

export const HANDLERS: readonly ApiHandler<any>[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  apiVersions,
  initProducerId,
  offsetForLeaderEpoch,
  describeProducers,
];
