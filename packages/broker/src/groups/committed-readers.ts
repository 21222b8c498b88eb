/**
 * Which consumer groups read with read_committed, so that their lag is measured against the last
 * stable offset (the end a read_committed consumer can reach) rather than the high watermark, as
 * Kafka's consumers measure their own `records-lag`. A group does not say how it reads: its members'
 * fetches do, and they come on other connections (to each partition's leader), so they are matched
 * to the members that joined the group by client id. A group keeps the client ids of its members
 * after they leave, so an empty group's lag is measured as while it consumed.
 */

/** Client ids remembered at most, and per group: the oldest seen is forgotten first. */
const MAX_CLIENTS = 10_000;
const MAX_CLIENTS_PER_GROUP = 100;

export class CommittedReaders {
  /** Client id → whether its last fetch read committed. */
  private readonly byClient = new Map<string, boolean>();
  /** Group id → the client ids of the members that joined it, oldest first. */
  private readonly clientsByGroup = new Map<string, Set<string>>();

  /** Notes a consumer's Fetch. */
  fetched(clientId: string | null, readCommitted: boolean): void {
    if (clientId === null || this.byClient.get(clientId) === readCommitted) return;
    remember(this.byClient, clientId, readCommitted, MAX_CLIENTS);
  }

  /** Notes a JoinGroup. */
  joined(groupId: string, clientId: string): void {
    let clients = this.clientsByGroup.get(groupId);
    if (!clients) {
      clients = new Set();
      this.clientsByGroup.set(groupId, clients);
    }
    if (clients.has(clientId)) return;
    clients.add(clientId);
    if (clients.size > MAX_CLIENTS_PER_GROUP) clients.delete(clients.values().next().value!);
  }

  /** Whether a member of the group, by client id, last fetched with read_committed. */
  readsCommitted(groupId: string): boolean {
    for (const clientId of this.clientsByGroup.get(groupId) ?? [])
      if (this.byClient.get(clientId)) return true;
    return false;
  }
}

/** Sets `key` as the newest entry of `map`, forgetting the oldest past `max`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
