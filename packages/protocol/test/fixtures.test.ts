/**
 * Request frames captured from real clients (kcat/librdkafka and kafkajs) by
 * scripts/capture-fixtures.ts: each one must decode completely, carry what the client was asked to
 * send, and encode back to exactly the same bytes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FixtureEntry } from '../scripts/capture-fixtures.js';
import {
  type AddPartitionsToTxnRequest,
  ApiKeys,
  type ApiName,
  type ApiVersionsRequest,
  apiByKey,
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  compressionName,
  decodeBatch,
  type EndTxnRequest,
  encodeRequestHeader,
  type FetchRequest,
  type FindCoordinatorRequest,
  type HeartbeatRequest,
  type InitProducerIdRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListOffsetsRequest,
  type MessageCodec,
  type MetadataRequest,
  type OffsetCommitRequest,
  type OffsetFetchRequest,
  type ProduceRequest,
  parseRequestHeader,
  Reader,
  type SyncGroupRequest,
  splitBatches,
  Writer,
} from '../src/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const index = JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as {
  topic: string;
  fixtures: FixtureEntry[];
};

const TOPIC = 'fixtures';
const GROUP = 'fixtures-group';
const TRANSACTIONAL_ID = 'kch-fixtures-txn';
/** The producer id the capture broker hands out. */
const PRODUCER_ID = 1000n;
const CLIENT_IDS: Record<string, string> = { kcat: 'rdkafka', kafkajs: 'kch-fixtures' };
const CODEC_IDS: Record<string, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

function listBinFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? listBinFiles(join(dir, e.name))
      : e.name.endsWith('.bin')
        ? [relative(FIXTURES, join(dir, e.name))]
        : [],
  );
}

// CRC-32C (Castagnoli), as RecordBatch v2 uses over the bytes from its attributes to its end.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The fixed-layout header of each RecordBatch v2 in `records` (the records themselves stay unread). */
function batchHeaders(records: Buffer) {
  const out = [];
  let pos = 0;
  while (pos < records.length) {
    expect(records.length - pos).toBeGreaterThanOrEqual(61);
    const batchLength = records.readInt32BE(pos + 8);
    const size = 12 + batchLength;
    expect(pos + size).toBeLessThanOrEqual(records.length);
    const batch = records.subarray(pos, pos + size);
    out.push({
      baseOffset: batch.readBigInt64BE(0),
      magic: batch.readInt8(16),
      crc: batch.readUInt32BE(17),
      computedCrc: crc32c(batch.subarray(21)),
      attributes: batch.readInt16BE(21),
      lastOffsetDelta: batch.readInt32BE(23),
      producerId: batch.readBigInt64BE(43),
      producerEpoch: batch.readInt16BE(51),
      baseSequence: batch.readInt32BE(53),
      recordCount: batch.readInt32BE(57),
    });
    pos += size;
  }
  return out;
}

/** An embedded consumer-protocol blob: an int16 version, then the struct at that version. */
function decodeEmbedded<T>(codec: MessageCodec<T>, data: Buffer): { version: number; value: T } {
  const r = new Reader(data);
  const version = r.int16();
  const value = codec.decode(r, Math.min(version, codec.maxVersion));
  expect(r.offset).toBe(data.length);
  return { version, value };
}

type Check = (body: any, e: FixtureEntry) => void;

/** What each API's captured request must contain, given what the client was told to do. */
const CHECKS: Partial<Record<ApiName, Check>> = {
  ApiVersions(body: ApiVersionsRequest, e) {
    if (e.version >= 3) {
      expect(body.clientSoftwareName).toBe(e.client === 'kcat' ? 'librdkafka' : e.client);
      const version = /librdkafka ([\d.]+)/.exec(e.clientVersion)?.[1];
      expect(body.clientSoftwareVersion).toBe(version);
    } else {
      expect(body).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
    }
  },

  Metadata(body: MetadataRequest, e) {
    if (e.label === 'all-topics') expect(body.topics).toBeNull();
    else if (e.label === 'no-topics') expect(body.topics).toEqual([]);
    else expect(body.topics?.map((t) => t.name)).toEqual([TOPIC]);
    expect(body.includeTopicAuthorizedOperations).toBe(false);
  },

  Produce(body: ProduceRequest, e) {
    expect(body.transactionalId).toBe(e.label === 'transactional' ? TRANSACTIONAL_ID : null);
    expect(body.acks).toBe(-1); // both clients default to acks=all
    expect(body.timeoutMs).toBe(30_000);
    expect(body.topicData).toHaveLength(1);
    const topic = body.topicData[0]!;
    expect(topic.name).toBe(TOPIC);
    expect(topic.partitionData.map((p) => p.index)).toEqual([0]);
    const records = topic.partitionData[0]!.records;
    expect(records).not.toBeNull();
    expect(records!.length).toBeGreaterThan(61);
    expect(records!.readInt8(16)).toBe(2); // magic of the first RecordBatch

    const batches = batchHeaders(records!);
    expect(e.records?.length).toBeGreaterThan(0);
    expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(e.records!.length);
    const idempotent = e.label === 'idempotent' || e.label === 'transactional';
    for (const b of batches) {
      expect(b.magic).toBe(2);
      expect(b.baseOffset).toBe(0n);
      expect(b.computedCrc).toBe(b.crc);
      expect(b.attributes & 7).toBe(CODEC_IDS[e.compression!]);
      expect(Boolean(b.attributes & 0x10)).toBe(e.label === 'transactional'); // isTransactional
      expect(Boolean(b.attributes & 0x20)).toBe(false); // not a control batch
      expect(b.lastOffsetDelta).toBe(b.recordCount - 1);
      expect(b.producerId).toBe(idempotent ? PRODUCER_ID : -1n);
      if (idempotent) expect([b.producerEpoch, b.baseSequence]).toEqual([0, 0]);
      // Without idempotence, librdkafka sends epoch and sequence -1; kafkajs sends 0 for both.
      else expect([b.producerEpoch, b.baseSequence]).toEqual(e.client === 'kafkajs' ? [0, 0] : [-1, -1]);
    }
  },

  Fetch(body: FetchRequest) {
    expect(body.replicaId).toBe(-1);
    expect(body.topics).toHaveLength(1);
    const topic = body.topics[0]!;
    expect(topic.topic).toBe(TOPIC);
    expect(topic.partitions).toHaveLength(1);
    expect(topic.partitions[0]!.partition).toBe(0);
    expect(topic.partitions[0]!.fetchOffset).toBe(0n); // both consumers start from the beginning
    expect(topic.partitions[0]!.partitionMaxBytes).toBeGreaterThan(0);
    expect(body.maxBytes).toBeGreaterThan(0);
    expect(body.isolationLevel).toBe(1); // both default to read_committed
    expect(body.forgottenTopicsData).toEqual([]);
  },

  ListOffsets(body: ListOffsetsRequest) {
    expect(body.replicaId).toBe(-1);
    expect(body.topics).toHaveLength(1);
    expect(body.topics[0]!.name).toBe(TOPIC);
    expect(body.topics[0]!.partitions.map((p) => [p.partitionIndex, p.timestamp])).toEqual([[0, -2n]]); // earliest
  },

  FindCoordinator(body: FindCoordinatorRequest, e) {
    if (e.label === 'transaction') expect([body.key, body.keyType]).toEqual([TRANSACTIONAL_ID, 1]);
    else expect([body.key, body.keyType]).toEqual([GROUP, 0]);
  },

  JoinGroup(body: JoinGroupRequest, e) {
    expect(body.groupId).toBe(GROUP);
    expect(body.memberId).toBe(''); // the first join of a new member
    expect(body.protocolType).toBe('consumer');
    expect(body.sessionTimeoutMs).toBeGreaterThan(0);
    expect(body.protocols.map((p) => p.name)).toEqual(
      e.client === 'kcat' ? ['range', 'roundrobin'] : ['RoundRobinAssigner'],
    );
    for (const p of body.protocols) {
      const { value } = decodeEmbedded(ConsumerProtocolSubscription, p.metadata);
      expect(value.topics).toEqual([TOPIC]);
    }
  },

  SyncGroup(body: SyncGroupRequest) {
    expect(body.groupId).toBe(GROUP);
    expect(body.generationId).toBe(1);
    expect(body.memberId).not.toBe('');
    // The only member is the leader, so it sends the assignment of the group: itself, partition 0.
    expect(body.assignments.map((a) => a.memberId)).toEqual([body.memberId]);
    const { value } = decodeEmbedded(ConsumerProtocolAssignment, body.assignments[0]!.assignment);
    expect(value.assignedPartitions).toMatchObject([{ topic: TOPIC, partitions: [0] }]);
  },

  OffsetFetch(body: OffsetFetchRequest) {
    expect(body.groupId).toBe(GROUP);
    expect(body.topics).toMatchObject([{ name: TOPIC, partitionIndexes: [0] }]);
  },

  OffsetCommit(body: OffsetCommitRequest) {
    expect(body.groupId).toBe(GROUP);
    expect(body.generationIdOrMemberEpoch).toBe(1);
    expect(body.memberId).not.toBe('');
    expect(body.topics).toHaveLength(1);
    expect(body.topics[0]!.name).toBe(TOPIC);
    // Two records were consumed: the next offset to read is 2.
    expect(body.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([[0, 2n]]);
  },

  Heartbeat(body: HeartbeatRequest) {
    expect(body.groupId).toBe(GROUP);
    expect(body.generationId).toBe(1);
    expect(body.memberId).not.toBe('');
  },

  LeaveGroup(body: LeaveGroupRequest, e) {
    expect(body.groupId).toBe(GROUP);
    if (e.version >= 3) {
      expect(body.members).toHaveLength(1);
      expect(body.members[0]!.memberId).not.toBe('');
    } else {
      expect(body.memberId).not.toBe('');
    }
  },

  InitProducerId(body: InitProducerIdRequest, e) {
    expect(body.transactionalId).toBe(e.label === 'transactional' ? TRANSACTIONAL_ID : null);
    if (e.label === 'transactional') expect(body.transactionTimeoutMs).toBe(60_000);
    expect(body.producerId).toBe(-1n);
    expect(body.producerEpoch).toBe(-1);
  },

  AddPartitionsToTxn(body: AddPartitionsToTxnRequest) {
    expect(body.v3AndBelowTransactionalId).toBe(TRANSACTIONAL_ID);
    expect(body.v3AndBelowProducerId).toBe(PRODUCER_ID);
    expect(body.v3AndBelowProducerEpoch).toBe(0);
    expect(body.v3AndBelowTopics).toMatchObject([{ name: TOPIC, partitions: [0] }]);
  },

  EndTxn(body: EndTxnRequest) {
    expect(body).toMatchObject({
      transactionalId: TRANSACTIONAL_ID,
      producerId: PRODUCER_ID,
      producerEpoch: 0,
      committed: true,
    });
  },
};

describe('fixtures captured from real clients', () => {
  it('index.json lists exactly the .bin files on disk', () => {
    expect(index.topic).toBe(TOPIC);
    expect(index.fixtures.map((e) => e.file).sort()).toEqual(listBinFiles(FIXTURES).sort());
  });

  it.each(['kcat', 'kafkajs'])('%s: ApiVersions, Metadata, Produce and Fetch were captured', (client) => {
    const apis = new Set(index.fixtures.filter((e) => e.client === client).map((e) => e.api));
    for (const api of ['ApiVersions', 'Metadata', 'Produce', 'Fetch']) expect(apis).toContain(api);
  });

  it('every codec was captured from kcat, with the records that were sent', () => {
    const produce = index.fixtures.filter((e) => e.client === 'kcat' && e.api === 'Produce');
    expect(new Set(produce.map((e) => e.compression))).toEqual(new Set(Object.keys(CODEC_IDS)));
    expect(produce.some((e) => e.records?.some((r) => r.headers.length > 0))).toBe(true);
  });

  it.each(index.fixtures.filter((e) => e.api === 'Produce' && e.records).map((e) => [e.file, e] as const))(
    '%s: its record batches decode to the records that were sent',
    async (file, e) => {
      const parsed = parseRequestHeader(readFileSync(join(FIXTURES, file)));
      const body = apiByKey(e.apiKey)!.request.decode(parsed.body, e.version) as ProduceRequest;
      const records = body.topicData[0]!.partitionData[0]!.records!;
      const decoded = [];
      for (const batch of splitBatches(records).batches) {
        const { header, records: recs } = await decodeBatch(batch);
        expect(compressionName(header.compression)).toBe(e.compression === 'none' ? 'none' : e.compression);
        decoded.push(...recs);
      }
      const asText = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));
      expect(
        decoded.map((r) => ({
          key: asText(r.key),
          value: asText(r.value),
          headers: r.headers.map((h) => ({ key: h.key, value: asText(h.value) })),
        })),
      ).toEqual(e.records);
    },
  );

  describe.each(index.fixtures.map((e) => [e.file, e] as const))('%s', (file, e) => {
    const frame = readFileSync(join(FIXTURES, file));
    const name = /^(\w+)\/(\w+)-v(\d+)(?:-([\w-]+))?\.bin$/.exec(file);

    it('is named after its client, API, version and label', () => {
      expect(name).not.toBeNull();
      const [, client, api, version, label] = name!;
      expect({ client, api, version: Number(version), label }).toEqual({
        client: e.client,
        api: e.api,
        version: e.version,
        label: e.label,
      });
      expect(ApiKeys[e.api as ApiName]).toBe(e.apiKey);
    });

    it('decodes completely, and its header matches its name', () => {
      const parsed = parseRequestHeader(frame);
      expect(parsed.header.requestApiKey).toBe(e.apiKey);
      expect(parsed.header.requestApiVersion).toBe(e.version);
      expect(parsed.header.clientId).toBe(CLIENT_IDS[e.client]);
      expect(parsed.header.clientId).toBe(e.clientId);
      const api = apiByKey(e.apiKey)!;
      expect(api.name).toBe(e.api);
      api.request.decode(parsed.body, e.version);
      expect(parsed.body.offset).toBe(frame.length);
    });

    it('carries what the client was asked to send', () => {
      const parsed = parseRequestHeader(frame);
      const body = apiByKey(e.apiKey)!.request.decode(parsed.body, e.version);
      const check = CHECKS[e.api as ApiName];
      expect(check, `no content check for ${e.api}`).toBeDefined();
      check!(body, e);
    });

    it('encodes back to the same bytes', () => {
      const parsed = parseRequestHeader(frame);
      const api = apiByKey(e.apiKey)!;
      const body = api.request.decode(parsed.body, e.version);
      const w = new Writer();
      encodeRequestHeader(w, parsed.header, parsed.headerVersion);
      api.request.encode(w, body, e.version);
      expect(w.toBuffer().toString('hex')).toBe(frame.toString('hex'));
    });
  });
});
