/**
 * Producing records: partitions chosen as Kafka's Java producer does (see ./partitioner.ts), one
 * RecordBatch v2 per partition per request, compressed as asked, sent to each partition's leader.
 *
 * With acks=all the producer is idempotent (as the Java producer is by default since Kafka 3.0): it gets
 * a producer id, numbers its batches, and retries retriable errors without duplicating records.
 * Requests are sent one at a time, so records of one partition keep their order.
 */
import {
  CompressionType,
  ErrorCode,
  encodeRecordBatch,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
} from '@kch/protocol';
import { type BrokerConnection, type KafkaClient, sleep, type TopicMetadata } from './client.js';
import { BrokerError, CliError } from './errors.js';
import { partitionForKey, StickyPartitioner } from './partitioner.js';

export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: { key: string; value: Buffer | null }[];
  /** CreateTime in ms; default: when the record was handed to the producer. */
  timestamp?: number;
  /** Overrides the partitioner. */
  partition?: number;
}

export interface Delivery {
  partition: number;
  /** -1 with acks=0, which gets no answer. */
  offset: bigint;
}

export type Acks = -1 | 0 | 1;

export interface ProducerOptions {
  topic: string;
  acks?: Acks;
  compression?: CompressionType;
  /** Let a producer's metadata request create a missing topic when the broker auto-creates topics (default true, as Java's producer). */
  allowAutoCreate?: boolean;
  /** How many times a retriable failure is retried (default 5). */
  retries?: number;
}

/** Records of one partition bigger than this go into more than one batch (Kafka's max.message.bytes is 1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;

interface PendingBatch {
  partition: number;
  records: ProduceRecord[];
  /** Index of each record in the caller's list, to report deliveries in order. */
  indexes: number[];
  /** The producer sequence of the first record when idempotent. */
  baseSequence: number;
  /** Estimated size of the records, to cut batches at {@link MAX_BATCH_BYTES}. */
  bytes: number;
  encoded?: Buffer;
}

export class Producer {
  private topic: TopicMetadata;
  private readonly sticky: StickyPartitioner;
  private readonly acks: Acks;
  private readonly compression: CompressionType;
  private readonly retries: number;
  private producerId = NO_PRODUCER_ID;
  private producerEpoch = NO_PRODUCER_EPOCH;
  private readonly sequences = new Map<number, number>();

  private constructor(
    private readonly client: KafkaClient,
    private readonly options: ProducerOptions,
    topic: TopicMetadata,
  ) {
    this.topic = topic;
    this.sticky = new StickyPartitioner(topic.partitions.length);
    this.acks = options.acks ?? -1;
    this.compression = options.compression ?? CompressionType.None;
    this.retries = options.retries ?? 5;
  }

  static async create(client: KafkaClient, options: ProducerOptions): Promise<Producer> {
    const topic = await client.topic(options.topic, options.allowAutoCreate ?? true);
    const producer = new Producer(client, options, topic);
    if (producer.acks === -1) await producer.initProducerId();
    return producer;
  }

  get partitions(): number {
    return this.topic.partitions.length;
  }

  /** Whether batches carry a producer id and sequence numbers. */
  get idempotent(): boolean {
    return this.producerId !== NO_PRODUCER_ID;
  }

  private async initProducerId(): Promise<void> {
    const conn = await this.client.any();
    // Without InitProducerId (or when it fails, e.g. not authorized) the producer is simply not idempotent.
    if (conn.version('InitProducerId') === undefined) return;
    try {
      const { response } = await conn.send('InitProducerId', () => ({
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      }));
      if (response.errorCode === ErrorCode.NONE) {
        this.producerId = response.producerId;
        this.producerEpoch = response.producerEpoch;
      }
    } catch (e) {
      if (!(e instanceof CliError) || e.exitCode !== 1) throw e;
    }
  }

  /** The partition a record goes to. Keyless records go to the current sticky partition. */
  partitionFor(record: ProduceRecord): number {
    const n = this.topic.partitions.length;
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= n) {
        throw new CliError(
          `topic "${this.topic.name}" has no partition ${record.partition}: it has ${n} (0-${n - 1})`,
        );
      }
      return record.partition;
    }
    if (record.key !== null) return partitionForKey(record.key, n);
    return this.sticky.partition();
  }

  /**
   * Produces the records and resolves with where each went, in the order given. The keyless ones all
   * go to one partition, and the next call moves to the next partition.
   */
  async send(records: readonly ProduceRecord[]): Promise<Delivery[]> {
    const now = Date.now();
    const deliveries: Delivery[] = new Array(records.length);
    const byPartition = new Map<number, PendingBatch[]>();
    records.forEach((record, i) => {
      const partition = this.partitionFor(record);
      const batches = byPartition.get(partition) ?? [];
      if (batches.length === 0) byPartition.set(partition, batches);
      let last = batches[batches.length - 1];
      const size = recordSize(record);
      if (!last || (last.records.length > 0 && last.bytes + size > MAX_BATCH_BYTES)) {
        last = { partition, records: [], indexes: [], baseSequence: NO_SEQUENCE, bytes: 61 };
        batches.push(last);
      }
      last.bytes += size;
      last.records.push(record.timestamp === undefined ? { ...record, timestamp: now } : record);
      last.indexes.push(i);
    });
    if (records.some((r) => r.key === null && r.partition === undefined)) this.sticky.nextBatch();

    // One request carries at most one batch per partition, so batches of a partition go in order.
    while (byPartition.size > 0) {
      const round: PendingBatch[] = [];
      for (const [partition, batches] of byPartition) {
        round.push(batches.shift()!);
        if (batches.length === 0) byPartition.delete(partition);
      }
      for (const b of round) {
        if (this.idempotent) {
          b.baseSequence = this.sequences.get(b.partition) ?? 0;
          this.sequences.set(b.partition, (b.baseSequence + b.records.length) & 0x7fffffff);
        }
      }
      const results = await this.sendRound(round);
      for (const b of round) {
        const base = results.get(b.partition)!;
        b.indexes.forEach((index, j) => {
          deliveries[index] = { partition: b.partition, offset: base < 0n ? -1n : base + BigInt(j) };
        });
      }
    }
    return deliveries;
  }

  /** Sends batches (one per partition) to their leaders, retrying retriable failures; base offset by partition. */
  private async sendRound(batches: PendingBatch[]): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    let pending = batches;
    for (let attempt = 0; ; attempt++) {
      const failed: { batch: PendingBatch; error: BrokerError }[] = [];
      const byLeader = new Map<number, PendingBatch[]>();
      for (const b of pending) {
        const leader = this.topic.partitions.find((p) => p.partition === b.partition)?.leader ?? -1;
        const list = byLeader.get(leader) ?? [];
        list.push(b);
        byLeader.set(leader, list);
      }
      for (const [leader, list] of byLeader) {
        if (leader < 0) {
          for (const batch of list) {
            failed.push({
              batch,
              error: new BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, this.action(batch.partition)),
            });
          }
          continue;
        }
        const conn = await this.client.node(leader);
        const answers = await this.produceTo(conn, list);
        for (const batch of list) {
          const a = answers.get(batch.partition);
          if (a instanceof BrokerError) failed.push({ batch, error: a });
          else out.set(batch.partition, a ?? -1n);
        }
      }
      if (failed.length === 0) return out;
      const fatal =
        failed.find((f) => !f.error.retriable) ?? (attempt >= this.retries ? failed[0] : undefined);
      if (fatal) throw fatal.error;
      await sleep(Math.min(100 * 2 ** attempt, 1_000));
      // A retriable error usually means the leader moved or the topic changed: look again.
      this.topic = await this.client.topic(this.options.topic, false);
      this.sticky.resize(this.topic.partitions.length);
      pending = failed.map((f) => f.batch);
    }
  }

  private action(partition: number): string {
    return `producing to ${this.topic.name}-${partition}`;
  }

  private async produceTo(
    conn: BrokerConnection,
    batches: PendingBatch[],
  ): Promise<Map<number, bigint | BrokerError>> {
    for (const b of batches) {
      b.encoded ??= await encodeRecordBatch({
        compression: this.compression,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        baseSequence: this.idempotent ? b.baseSequence : NO_SEQUENCE,
        records: b.records.map((r) => ({
          key: r.key,
          value: r.value,
          headers: r.headers ?? [],
          timestamp: r.timestamp,
        })),
      });
    }
    const timeoutMs = this.client.requestTimeoutMs;
    const build = () => ({
      transactionalId: null,
      acks: this.acks,
      timeoutMs,
      topicData: [
        {
          name: this.topic.name,
          partitionData: batches.map((b) => ({ index: b.partition, records: b.encoded! })),
        },
      ],
    });
    // RecordBatch v2 needs Produce v3+ (Kafka 0.11+).
    const versionOptions = { minVersion: 3, timeoutMs: timeoutMs + 5_000 };
    const out = new Map<number, bigint | BrokerError>();
    if (this.acks === 0) {
      await conn.sendOnly('Produce', build, versionOptions);
      for (const b of batches) out.set(b.partition, -1n);
      return out;
    }
    const { response } = await conn.send('Produce', build, versionOptions);
    for (const t of response.responses) {
      for (const p of t.partitionResponses) {
        if (p.errorCode === ErrorCode.NONE) {
          out.set(p.index, p.baseOffset);
          continue;
        }
        const recordErrors = (p.recordErrors ?? [])
          .map((r) => `record ${r.batchIndex}: ${r.batchIndexErrorMessage ?? 'invalid'}`)
          .join('; ');
        const message = [p.errorMessage, recordErrors].filter((s) => s).join('; ') || null;
        out.set(
          p.index,
          new BrokerError(
            p.errorCode,
            this.action(p.index),
            message,
            produceHint(p.errorCode, this.topic.name),
          ),
        );
      }
    }
    return out;
  }
}

function produceHint(code: number, topic: string): string | undefined {
  switch (code) {
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return `A record is larger than the topic allows: raise max.message.bytes (kch topics alter ${topic} --config max.message.bytes=<bytes>) or send smaller records.`;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return `Check that topic "${topic}" exists: kch topics describe ${topic}`;
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
      return `The broker does not allow this client to write to "${topic}".`;
    default:
      return undefined;
  }
}

function recordSize(r: ProduceRecord): number {
  let n = 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? []) n += 8 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return n;
}
