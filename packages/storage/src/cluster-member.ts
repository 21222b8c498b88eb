/** How messages name a cluster member, and the refusal of a node id a live broker holds. */
import { type ClusterMember, StorageError } from './storage.js';

/** ` at host:port` of the member's first advertised endpoint, or nothing when it has none. */
export function memberAddress(member: Pick<ClusterMember, 'endpoints'>): string {
  const at = member.endpoints[0];
  return at ? ` at ${at.host}:${at.port}` : '';
}

/** The refusal of a node id that a live broker holds, in words for the operator. */
export function nodeIdInUse(nodeId: number, holder: ClusterMember): StorageError {
  return new StorageError(
    'INVALID_REQUEST',
    `node.id ${nodeId} is in use by a live broker${memberAddress(holder)}; give each broker its own --node-id, or leave it out to take the lowest free one`,
    false,
  );
}
