/** Events a broker emits (eventemitter3): subscribe with `broker.on(name, listener)`. */
export interface BrokerEvents {
  listening: [info: { host: string; port: number }];
  connection: [info: { connectionId: number; remoteAddress: string; remotePort: number }];
  disconnect: [info: { connectionId: number; reason?: string }];
  /**
   * A client authenticated (SASL, or a TLS client certificate) or failed to. Never carries a credential:
   * `error` is what the client was told.
   */
  authentication: [info: AuthenticationEvent];
  /** After each response is written (or dropped, for acks=0). */
  request: [info: RequestEvent];
  /** After records were appended and acknowledged by storage. */
  produce: [info: { topic: string; partition: number; baseOffset: number; records: number; bytes: number }];
  /** For every partition a Fetch response returned records from. */
  fetch: [info: { topic: string; partition: number; offset: number; bytes: number }];
  'topic-created': [info: { topic: string; topicId: string; partitions: number; by: Requester }];
  /** `kept`: what storage left in place and why (a table that is no longer the one it made). */
  'topic-deleted': [info: { topic: string; topicId: string; by: Requester; kept?: string }];
  /** A consumer group changed state or generation. */
  'group-change': [info: { groupId: string; state: string; generationId: number; members: number }];
  /**
   * Records of one produced batch that failed the topic's checks (kch.table, kch.schema, a schema in
   * the `topics` option): refused with INVALID_RECORD, stored in the dead-letter topic, or, when that
   * append failed, lost from it (the error log names their original offsets).
   */
  'invalid-records': [info: InvalidRecordsEvent];
  /** The log cleaner compacted a partition (cleanup.policy compact; docs/compaction.md). */
  compaction: [info: CompactionEvent];
  /**
   * A transaction's end was decided (its markers go out next): by its producer's EndTxn, or by the
   * coordinator when the producer was fenced, the transaction timed out or an operator aborted it.
   */
  transaction: [info: TransactionEvent];
  /** A client's metrics push (KIP-714) was accepted: the metrics in it, each named once. */
  'client-telemetry': [info: ClientTelemetryEvent];
  /** Something went wrong that did not stop the broker (a request failed unexpectedly, storage failed). */
  error: [error: Error, context: Record<string, unknown>];
}

export interface CompactionEvent {
  topic: string;
  partition: number;
  /** Where the cleaning stopped (exclusive): the last stable offset, or the first record too young. */
  cleanedTo: number;
  /** Records removed; 0 when there was nothing to remove. */
  removed: number;
  /** The tombstones below this offset were removed too (delete.retention.ms had passed for them). */
  tombstonesBefore: number;
  durationMs: number;
}

export interface AuthenticationEvent {
  connectionId: number;
  listener: string;
  remoteAddress: string;
  /** SASL mechanism, or `SSL` for a client certificate. */
  mechanism: string;
  /** Set on a session renewed on its connection (KIP-368 re-authentication). */
  reauthentication?: boolean;
  /** The principal on success (`User:alice`). */
  principal?: string;
  /** What the client was told on failure. */
  error?: string;
}

/** Who asked for a change: the API or broker part, and for a request the client id and address. */
export interface Requester {
  /** The API (`CreateTopics`, `Metadata`...) or the part of the broker (`dead letters`, `options`). */
  via: string;
  clientId?: string | null;
  /** `host:port` of the client's connection. */
  address?: string;
}

export interface RequestEvent {
  connectionId: number;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

export interface InvalidRecordsEvent {
  topic: string;
  partition: number;
  records: number;
  outcome: 'rejected' | 'dead-lettered' | 'dead-letter-failed';
  /** Why the first of them failed its check. */
  reason: string;
  /** For the dead-letter outcomes. */
  deadLetterTopic?: string;
}

export interface ClientTelemetryEvent {
  clientInstanceId: string;
  clientId: string;
  metrics: { name: string; type: 'counter' | 'gauge'; description: string }[];
  terminating: boolean;
}

export interface TransactionEvent {
  transactionalId: string;
  producerId: number;
  outcome: 'commit' | 'abort';
  reason: 'client' | 'fenced' | 'timeout' | 'admin';
}
