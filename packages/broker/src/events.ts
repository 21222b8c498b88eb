/** Events a broker emits (eventemitter3): subscribe with `broker.on(name, listener)`. */
export interface BrokerEvents {
  listening: [info: { host: string; port: number }];
  connection: [info: { connectionId: number; remoteAddress: string; remotePort: number }];
  disconnect: [info: { connectionId: number; reason?: string }];
  /** After each response is written (or dropped, for acks=0). */
  request: [info: RequestEvent];
  /** After records were appended and acknowledged by storage. */
  produce: [info: { topic: string; partition: number; baseOffset: number; records: number; bytes: number }];
  /** For every partition a Fetch response returned records from. */
  fetch: [info: { topic: string; partition: number; offset: number; bytes: number }];
  'topic-created': [info: { topic: string; topicId: string; partitions: number }];
  'topic-deleted': [info: { topic: string; topicId: string }];
  /** A consumer group changed state or generation. */
  'group-change': [info: { groupId: string; state: string; generationId: number; members: number }];
  /** Something went wrong that did not stop the broker (a request failed unexpectedly, storage failed). */
  error: [error: Error, context: Record<string, unknown>];
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
