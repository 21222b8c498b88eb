/**
 * A minimal Kafka client on the codec (as packages/broker/test/helpers/raw-client.ts): any request at
 * any version, responses matched by correlation id, several requests in flight.
 */
import { connect, type Socket } from 'node:net';
import {
  ApiKeys,
  type ApiMessages,
  type ApiName,
  apiByKey,
  decodeResponseFrame,
  encodeRequestFrame,
  FrameSplitter,
  type Init,
} from '@kch/protocol';

export class RawClient {
  private correlationId = 0;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private readonly splitter = new FrameSplitter({ maxFrameSize: 1 << 30 });

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.splitter.push(chunk)) {
        const id = frame.readInt32BE(0);
        const p = this.pending.get(id);
        if (!p) continue;
        this.pending.delete(id);
        p.resolve(frame);
      }
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the broker')));
  }

  static connect(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  async send<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
  ): Promise<ApiMessages[K]['response']> {
    const apiKey = ApiKeys[api];
    const descriptor = apiByKey(apiKey)!;
    const id = ++this.correlationId;
    const frame = new Promise<Buffer>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const chunks = encodeRequestFrame(descriptor.request, apiKey, version, id, 'kch-bench', body as never);
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
    const { body: response } = decodeResponseFrame(descriptor.response, apiKey, version, await frame);
    return response as ApiMessages[K]['response'];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Creates a topic through CreateTopics; fails unless it was created. */
export async function createTopic(client: RawClient, name: string, partitions: number): Promise<void> {
  const r = await client.send('CreateTopics', 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1 }],
    timeoutMs: 30_000,
  });
  const t = r.topics[0]!;
  if (t.errorCode !== 0)
    throw new Error(`CreateTopics ${name}: error ${t.errorCode} ${t.errorMessage ?? ''}`);
}

/** High watermarks of every partition of a topic (ListOffsets, latest). */
export async function endOffsets(client: RawClient, name: string, partitions: number): Promise<number[]> {
  const r = await client.send('ListOffsets', 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name,
        partitions: Array.from({ length: partitions }, (_, p) => ({
          partitionIndex: p,
          currentLeaderEpoch: -1,
          timestamp: -1n,
        })),
      },
    ],
  });
  return r.topics[0]!.partitions.map((p) => Number(p.offset));
}

/** Counts the records of the whole batches in a fetched `records` field; returns the next offset too. */
export function countRecords(records: Buffer | null, fetchOffset: number): { records: number; next: number } {
  let n = 0;
  let next = fetchOffset;
  if (!records) return { records: 0, next };
  let at = 0;
  while (at + 61 <= records.length) {
    const size = 12 + records.readInt32BE(at + 8);
    if (at + size > records.length) break; // a partial batch at the end
    const base = Number(records.readBigInt64BE(at));
    const lastDelta = records.readInt32BE(at + 23);
    // Records before the fetch offset in the first batch are skipped, as consumers do.
    const count = records.readInt32BE(at + 57);
    n += base >= fetchOffset ? count : Math.max(0, base + lastDelta + 1 - fetchOffset);
    next = base + lastDelta + 1;
    at += size;
  }
  return { records: n, next };
}
