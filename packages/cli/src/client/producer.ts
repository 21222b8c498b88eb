/**
 * Producing for `kch produce`, on @platformatic/kafka's producer: kch picks each record's partition
 * (./partitioner.ts: Java's murmur2 for keys, sticky for the rest), so that it can say where every
 * record went; the library batches per partition, compresses, sends to the leaders and retries.
 *
 * With acks=all the producer is idempotent (as the Java producer is by default since Kafka 3.0), unless
 * the broker refuses InitProducerId (not authorized, too old): then it just is not, as Java's falls
 * back. Sends are awaited one at a time, so the records of a partition keep their order.
 */
import { ErrorCode } from '@kch/protocol';
import {
  type CompressionAlgorithmValue,
  Producer as LibraryProducer,
  type MessageToProduce,
  type ProduceResult,
} from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import type { Kafka, TopicInfo } from './kafka.js';
import { protocolErrorOf, responseOf } from './kafka-errors.js';
import { partitionForKey, StickyPartitioner } from './partitioner.js';
import { loadZstdCompressor } from './zstd.js';

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

/** The codecs of Kafka's record batches (the library's names for them). */
export type Compression = CompressionAlgorithmValue;

export interface ProducerOptions {
  topic: string;
  acks?: Acks;
  compression?: CompressionAlgorithmValue;
  /** Let the metadata request create a missing topic when the broker auto-creates topics (default true, as Java's producer). */
  allowAutoCreate?: boolean;
  /** How many times a retriable failure is retried (default 5). */
  retries?: number;
}

/**
 * Records of one partition past this many bytes go in a later request: one request carries one
 * batch per partition, and a batch must stay under the topic's max.message.bytes (1 MiB by default).
 */
const MAX_BATCH_BYTES = 512 * 1024;

type Message = MessageToProduce<Buffer, Buffer | null, Buffer, Buffer | null>;

export class Producer {
  private readonly sticky: StickyPartitioner;
  private readonly acks: Acks;
  private readonly headerMaps = new WeakMap<
    NonNullable<ProduceRecord['headers']>,
    Map<Buffer, Buffer | null>
  >();

  private constructor(
    private readonly kafka: Kafka,
    private readonly client: LibraryProducer<Buffer, Buffer | null, Buffer, Buffer | null>,
    private readonly topic: TopicInfo,
    acks: Acks,
    private readonly idempotent: boolean,
  ) {
    this.sticky = new StickyPartitioner(topic.partitions.length);
    this.acks = acks;
  }

  static async create(kafka: Kafka, options: ProducerOptions): Promise<Producer> {
    const acks = options.acks ?? -1;
    if (options.compression === 'zstd') await loadZstdCompressor();
    // Looked up by the admin client, which does not retry: the producer's retries (for produce
    // requests) would also wait out an unknown topic or a refused connection, seconds for nothing.
    const topic = await kafka.topic(options.topic, options.allowAutoCreate ?? true);
    const retries = options.retries ?? 5;
    const client = kafka.track(
      new LibraryProducer<Buffer, Buffer | null, Buffer, Buffer | null>({
        ...kafka.options,
        retries,
        // 100 ms, doubling up to 1 s, as kch's retries elsewhere.
        retryDelay: (_client, _op, attempt) => Math.min(100 * 2 ** (attempt - 1), 1_000),
        acks,
        compression: options.compression ?? 'none',
      }),
    );
    let idempotent = false;
    if (acks === -1) {
      try {
        await client.initIdempotentProducer({});
        idempotent = true;
      } catch (e) {
        // Refused by the broker (a Kafka error code, or no InitProducerId at all): not idempotent.
        // A broker that cannot be reached fails the command as anything else would.
        const refused =
          protocolErrorOf(e) !== null || (e as { code?: string }).code === 'PLT_KFK_UNSUPPORTED_API';
        if (!refused) throw kafka.failure(e, 'getting a producer id');
      }
    }
    return new Producer(kafka, client, topic, acks, idempotent);
  }

  get partitions(): number {
    return this.topic.partitions.length;
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
    const now = BigInt(Date.now());
    const deliveries: Delivery[] = new Array(records.length);
    let messages: Message[] = [];
    let first = 0;
    const bytes = new Map<number, number>();
    let keyless = false;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const partition = this.partitionFor(record);
      if (record.key === null && record.partition === undefined) keyless = true;
      const size = recordSize(record);
      const before = bytes.get(partition) ?? 0;
      if (before > 0 && before + size > MAX_BATCH_BYTES) {
        await this.sendMessages(messages, deliveries, first);
        messages = [];
        first = i;
        bytes.clear();
      }
      bytes.set(partition, (bytes.get(partition) ?? 0) + size);
      messages.push({
        topic: this.topic.name,
        partition,
        key: record.key ?? undefined,
        value: record.value,
        headers: this.headersOf(record.headers),
        timestamp: record.timestamp === undefined ? now : BigInt(record.timestamp),
      });
    }
    if (messages.length > 0) await this.sendMessages(messages, deliveries, first);
    if (keyless) this.sticky.nextBatch();
    return deliveries;
  }

  /**
   * The library's form of a record's headers. `kch produce` gives every record the same array (its
   * -H options): converted once, not once a record.
   */
  private headersOf(headers: ProduceRecord['headers']): Map<Buffer, Buffer | null> | undefined {
    if (!headers || headers.length === 0) return undefined;
    let converted = this.headerMaps.get(headers);
    if (!converted) {
      converted = new Map(headers.map((h) => [Buffer.from(h.key, 'utf8'), h.value]));
      this.headerMaps.set(headers, converted);
    }
    return converted;
  }

  /** One request per leader, one batch per partition; fills in `deliveries` from index `first` on. */
  private async sendMessages(messages: Message[], deliveries: Delivery[], first: number): Promise<void> {
    let result: ProduceResult;
    try {
      result = await this.client.send({ messages, idempotent: this.idempotent });
    } catch (e) {
      throw this.failure(e);
    }
    const base = new Map<number, bigint>();
    for (const o of result.offsets ?? []) base.set(o.partition, o.offset);
    const next = new Map<number, bigint>();
    for (let j = 0; j < messages.length; j++) {
      const partition = messages[j]!.partition!;
      const start = base.get(partition);
      if (this.acks === 0 || start === undefined) {
        deliveries[first + j] = { partition, offset: -1n };
        continue;
      }
      const offset = next.get(partition) ?? start;
      next.set(partition, offset + 1n);
      deliveries[first + j] = { partition, offset };
    }
  }

  /** A failed send, as the broker put it for the partition it refused (message, record errors, hint). */
  private failure(e: unknown): CliError {
    const response = responseOf<ProduceResponse>(e);
    for (const t of response?.responses ?? []) {
      for (const p of t.partitionResponses) {
        if (p.errorCode === ErrorCode.NONE) continue;
        const recordErrors = (p.recordErrors ?? [])
          .map((r) => `record ${r.batchIndex}: ${r.batchIndexErrorMessage ?? 'invalid'}`)
          .join('; ');
        const message = [p.errorMessage, recordErrors].filter((s) => s).join('; ') || null;
        return new BrokerError(
          p.errorCode,
          `producing to ${this.topic.name}-${p.index}`,
          message,
          produceHint(p.errorCode, this.topic.name),
        );
      }
    }
    return this.kafka.failure(e, `producing to ${this.topic.name}`, (code) =>
      produceHint(code, this.topic.name),
    );
  }
}

interface ProduceResponse {
  responses: {
    name: string;
    partitionResponses: {
      index: number;
      errorCode: number;
      errorMessage?: string | null;
      recordErrors?: { batchIndex: number; batchIndexErrorMessage: string | null }[];
    }[];
  }[];
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
