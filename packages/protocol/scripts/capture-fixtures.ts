/**
 * Captures request frames sent by real Kafka clients, as byte fixtures for the codec tests.
 *
 *   npx tsx packages/protocol/scripts/capture-fixtures.ts            # writes packages/protocol/test/fixtures
 *   npx tsx packages/protocol/scripts/capture-fixtures.ts --out DIR  # writes somewhere else
 *   npx tsx packages/protocol/scripts/capture-fixtures.ts --verbose  # logs every request
 *
 * It starts a throwaway "broker" on 127.0.0.1 (random port) that answers just enough of the protocol
 * for kcat (librdkafka) and kafkajs to list metadata, produce (each compression codec) and consume, using
 * the generated codec both to decode every request and to encode every response. Every request frame
 * (the bytes after the 4-byte size prefix) is saved as `<client>/<Api>-v<version>[-<label>].bin`; the
 * first frame of each name wins. `index.json` describes each file: the client and its version, the API,
 * version and, for Produce, the records that were sent (keys, values and headers as strings) so that
 * tests can check the decoded record batches.
 *
 * The capture is written to a temporary directory and moved into place only when every client ran
 * and the minimum set of APIs (ApiVersions, Metadata, Produce, Fetch per client) was captured. The
 * script bounds its own runtime and exits by itself. Record timestamps differ between runs, so a
 * recapture changes the Produce fixtures' bytes; that is expected.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import {
  type AddPartitionsToTxnRequest,
  API_VERSIONS,
  ApiKeys,
  ApiVersionsResponse,
  apiByKey,
  encodeResponseFrame,
  type FetchRequest,
  type FetchResponsePartitionData,
  type FindCoordinatorRequest,
  type InitProducerIdRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListOffsetsRequest,
  type MetadataRequest,
  type OffsetCommitRequest,
  type OffsetFetchRequest,
  type OffsetForLeaderEpochRequest,
  type ProduceRequest,
  parseRequestHeader,
  type RequestHeader,
  type SyncGroupRequest,
} from '../src/index.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = join(packageDir, 'test', 'fixtures');
const TOPIC = 'fixtures';
const GROUP = 'fixtures-group';
const NODE_ID = 1;
const CLUSTER_ID = 'kch-fixture-cluster';
const LEADER_EPOCH = 0;
/** The whole script is killed after this long, whatever it is doing. */
const HARD_TIMEOUT_MS = 180_000;

const ERR_UNSUPPORTED_VERSION = 35;
/** Appended to kcat's record values: 200 compressible bytes. */
const FILLER = 'abcdefghij'.repeat(20);
const FILLER_TEXT = "'abcdefghij' repeated 20 times";
/** The compression codec ids of RecordBatch attributes bits 0-2. */
const CODEC_IDS: Record<string, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

// ---------------------------------------------------------------------------------------------------
// What is captured

export interface SentRecord {
  key: string | null;
  value: string | null;
  headers: { key: string; value: string }[];
}

export interface FixtureEntry {
  /** Path relative to the fixtures directory, e.g. `kcat/Produce-v7-gzip.bin`. */
  file: string;
  client: string;
  clientVersion: string;
  clientId: string | null;
  api: string;
  apiKey: number;
  version: number;
  label?: string;
  /** What the client was doing when it sent this request. */
  scenario: string;
  /** Produce only: the compression the client was asked to use. */
  compression?: string;
  /** Produce only: the records the client was asked to send in this request, in order. */
  records?: SentRecord[];
}

interface Phase {
  client: string;
  clientVersion: string;
  scenario: string;
  /** Label for the Produce requests of this phase (the codec). */
  produceLabel?: string;
  compression?: string;
  records?: SentRecord[];
}

class Capture {
  readonly entries = new Map<string, FixtureEntry>();
  readonly frames = new Map<string, Buffer>();
  phase: Phase | undefined;

  /** The broker's port, replaced by `PORT` in the recorded scenarios so that they do not change between runs. */
  port = 0;

  record(frame: Buffer, header: RequestHeader, apiName: string, body: unknown): void {
    const phase = this.phase;
    if (!phase) return;
    const label = this.labelFor(phase, header.requestApiKey, body);
    const file = `${phase.client}/${apiName}-v${header.requestApiVersion}${label ? `-${label}` : ''}.bin`;
    if (this.entries.has(file)) return;
    const entry: FixtureEntry = {
      file,
      client: phase.client,
      clientVersion: phase.clientVersion,
      clientId: header.clientId,
      api: apiName,
      apiKey: header.requestApiKey,
      version: header.requestApiVersion,
      scenario: phase.scenario.replaceAll(`127.0.0.1:${this.port}`, '127.0.0.1:PORT'),
    };
    if (label) entry.label = label;
    if (header.requestApiKey === ApiKeys.Produce) {
      if (phase.compression) entry.compression = phase.compression;
      if (phase.records) entry.records = phase.records;
    }
    this.entries.set(file, entry);
    this.frames.set(file, Buffer.from(frame));
  }

  private labelFor(phase: Phase, apiKey: number, body: unknown): string | undefined {
    if (apiKey === ApiKeys.Produce) return phase.produceLabel;
    if (apiKey === ApiKeys.Metadata) {
      const topics = (body as MetadataRequest).topics;
      if (topics === null) return 'all-topics';
      if (topics.length === 0) return 'no-topics';
    }
    if (apiKey === ApiKeys.InitProducerId) {
      return (body as InitProducerIdRequest).transactionalId === null ? 'idempotent' : 'transactional';
    }
    if (apiKey === ApiKeys.FindCoordinator && (body as FindCoordinatorRequest).keyType === 1)
      return 'transaction';
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// A minimal broker

interface PartitionLog {
  /** Stored batches, baseOffset already set. */
  batches: { baseOffset: bigint; lastOffset: bigint; bytes: Buffer }[];
  nextOffset: bigint;
}

interface GroupState {
  generationId: number;
  members: Map<string, { metadata: Buffer; protocolName: string }>;
  assignments: Map<string, Buffer>;
  committed: Map<string, bigint>;
}

function topicIdOf(name: string): string {
  const digest = createHash('md5').update(name).digest();
  return digest.toString('base64url');
}

class FakeBroker {
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;
  logs = new Map<string, PartitionLog>();
  groups = new Map<string, GroupState>();
  errors: string[] = [];
  private memberSeq = 0;

  constructor(
    private readonly capture: Capture,
    private readonly verbose: boolean,
  ) {
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(0, '127.0.0.1', () => res());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Forgets every topic and group: each client starts from an empty broker. */
  reset(): void {
    this.logs.clear();
    this.groups.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }

  private log(partitionKey: string): PartitionLog {
    let log = this.logs.get(partitionKey);
    if (!log) {
      log = { batches: [], nextOffset: 0n };
      this.logs.set(partitionKey, log);
    }
    return log;
  }

  private knownTopics(): string[] {
    const names = new Set<string>([TOPIC]);
    for (const key of this.logs.keys()) names.add(key.slice(0, key.lastIndexOf('-')));
    return [...names].sort();
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    // Responses go out in request order: each request waits for the one before it.
    let chain = Promise.resolve();
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = Buffer.from(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        chain = chain
          .then(() => this.handle(frame))
          .then((response) => {
            if (response && !socket.destroyed) socket.write(Buffer.concat(response));
          })
          .catch((err: unknown) => {
            this.errors.push(String(err instanceof Error ? err.stack : err));
            console.error('capture broker: error handling a request:', err);
            socket.destroy();
          });
      }
    });
  }

  private async handle(frame: Buffer): Promise<Buffer[] | undefined> {
    const parsed = parseRequestHeader(frame);
    const { header } = parsed;
    const apiKey = header.requestApiKey;
    const version = header.requestApiVersion;
    const corr = header.correlationId;
    const api = apiByKey(apiKey);
    const apiName = api?.name ?? `ApiKey${apiKey}`;
    if (this.verbose) {
      console.error(
        `  <- ${this.capture.phase?.client}: ${apiName} v${version} corr=${corr} client=${header.clientId}`,
      );
    }

    if (apiKey === ApiKeys.ApiVersions) {
      const apiKeys = API_VERSIONS.map((a) => ({
        apiKey: a.apiKey,
        minVersion: a.minVersion,
        maxVersion: a.maxVersion,
      }));
      if (!api || version > api.maxVersion) {
        // KIP-511: answer v0 with UNSUPPORTED_VERSION and our versions, so the client can pick one.
        return encodeResponseFrame(ApiVersionsResponse, apiKey, 0, corr, {
          errorCode: ERR_UNSUPPORTED_VERSION,
          apiKeys,
        });
      }
      const body = api.request.decode(parsed.body, version);
      this.capture.record(frame, header, apiName, body);
      return encodeResponseFrame(ApiVersionsResponse, apiKey, version, corr, {
        errorCode: 0,
        apiKeys,
        throttleTimeMs: 0,
      });
    }

    if (!api || version < api.minVersion || version > api.maxVersion) {
      throw new Error(`${apiName} v${version} is not something this capture broker can decode`);
    }
    const body = api.request.decode(parsed.body, version);
    this.capture.record(frame, header, apiName, body);
    const respond = (message: any) => encodeResponseFrame(api.response, apiKey, version, corr, message);

    switch (apiKey) {
      case ApiKeys.Metadata:
        return respond(this.metadata(body as MetadataRequest, version));
      case ApiKeys.Produce: {
        const req = body as ProduceRequest;
        const response = this.produce(req);
        return req.acks === 0 ? undefined : respond(response);
      }
      case ApiKeys.Fetch:
        return respond(await this.fetch(body as FetchRequest, version));
      case ApiKeys.ListOffsets:
        return respond(this.listOffsets(body as ListOffsetsRequest, version));
      case ApiKeys.FindCoordinator:
        return respond(this.findCoordinator(body as FindCoordinatorRequest, version));
      case ApiKeys.JoinGroup:
        return respond(this.joinGroup(body as JoinGroupRequest, header.clientId));
      case ApiKeys.SyncGroup:
        return respond(this.syncGroup(body as SyncGroupRequest));
      case ApiKeys.Heartbeat:
        return respond({ throttleTimeMs: 0, errorCode: 0 });
      case ApiKeys.LeaveGroup: {
        const req = body as LeaveGroupRequest;
        return respond({
          throttleTimeMs: 0,
          errorCode: 0,
          members: (version >= 3 ? req.members : []).map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            errorCode: 0,
          })),
        });
      }
      case ApiKeys.OffsetFetch:
        return respond(this.offsetFetch(body as OffsetFetchRequest, version));
      case ApiKeys.OffsetCommit:
        return respond(this.offsetCommit(body as OffsetCommitRequest));
      case ApiKeys.InitProducerId:
        return respond({ throttleTimeMs: 0, errorCode: 0, producerId: 1000n, producerEpoch: 0 });
      case ApiKeys.AddPartitionsToTxn: {
        const req = body as AddPartitionsToTxnRequest;
        const results = (topics: AddPartitionsToTxnRequest['v3AndBelowTopics']) =>
          topics.map((t) => ({
            name: t.name,
            resultsByPartition: t.partitions.map((partitionIndex) => ({
              partitionIndex,
              partitionErrorCode: 0,
            })),
          }));
        if (version >= 4) {
          return respond({
            throttleTimeMs: 0,
            errorCode: 0,
            resultsByTransaction: req.transactions.map((t) => ({
              transactionalId: t.transactionalId,
              topicResults: results(t.topics),
            })),
          });
        }
        return respond({ throttleTimeMs: 0, resultsByTopicV3AndBelow: results(req.v3AndBelowTopics) });
      }
      case ApiKeys.EndTxn:
        return respond({ throttleTimeMs: 0, errorCode: 0 });
      case ApiKeys.OffsetForLeaderEpoch:
        return respond(this.offsetForLeaderEpoch(body as OffsetForLeaderEpochRequest));
      default:
        // Nothing the clients above send; answer with the defaults and an error where there is a field for it.
        console.error(`capture broker: answering unexpected ${apiName} v${version} with UNSUPPORTED_VERSION`);
        return respond({ errorCode: ERR_UNSUPPORTED_VERSION });
    }
  }

  private metadata(req: MetadataRequest, version: number) {
    let names: string[];
    if (req.topics === null || (version === 0 && req.topics.length === 0)) names = this.knownTopics();
    else names = req.topics.map((t) => t.name ?? this.topicById(t.topicId) ?? '');
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: NODE_ID, host: '127.0.0.1', port: this.port, rack: null }],
      clusterId: CLUSTER_ID,
      controllerId: NODE_ID,
      topics: names.map((name) => ({
        errorCode: 0,
        name,
        topicId: topicIdOf(name),
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: NODE_ID,
            leaderEpoch: LEADER_EPOCH,
            replicaNodes: [NODE_ID],
            isrNodes: [NODE_ID],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      })),
      clusterAuthorizedOperations: -2147483648,
    };
  }

  private topicById(id: string): string | undefined {
    return this.knownTopics().find((name) => topicIdOf(name) === id);
  }

  private produce(req: ProduceRequest) {
    return {
      throttleTimeMs: 0,
      responses: req.topicData.map((topic) => ({
        name: topic.name,
        partitionResponses: topic.partitionData.map((p) => {
          const log = this.log(`${topic.name}-${p.index}`);
          const baseOffset = log.nextOffset;
          if (p.records) this.append(log, p.records);
          return {
            index: p.index,
            errorCode: 0,
            baseOffset,
            logAppendTimeMs: -1n,
            logStartOffset: 0n,
            recordErrors: [],
            errorMessage: null,
          };
        }),
      })),
    };
  }

  /** Stores the batches of one produce, giving them offsets as a broker would. */
  private append(log: PartitionLog, records: Buffer): void {
    const bytes = Buffer.from(records); // our own copy: the fixture keeps the client's bytes
    let pos = 0;
    while (pos + 12 <= bytes.length) {
      const size = 12 + bytes.readInt32BE(pos + 8);
      if (pos + size > bytes.length || bytes[pos + 16] !== 2) {
        throw new Error(`produce: not a RecordBatch v2 at byte ${pos}`);
      }
      const lastOffsetDelta = bytes.readInt32BE(pos + 23);
      const baseOffset = log.nextOffset;
      bytes.writeBigInt64BE(baseOffset, pos); // baseOffset
      bytes.writeInt32BE(LEADER_EPOCH, pos + 12); // partitionLeaderEpoch (not covered by the CRC)
      const lastOffset = baseOffset + BigInt(lastOffsetDelta);
      log.batches.push({ baseOffset, lastOffset, bytes: bytes.subarray(pos, pos + size) });
      log.nextOffset = lastOffset + 1n;
      pos += size;
    }
  }

  private async fetch(req: FetchRequest, version: number) {
    const responses = req.topics.map((t) => {
      const name = t.topic || this.topicById(t.topicId) || '';
      return {
        topic: name,
        topicId: t.topicId,
        partitions: t.partitions.map((p): Partial<FetchResponsePartitionData> => {
          const log = this.log(`${name}-${p.partition}`);
          const chosen: Buffer[] = [];
          let size = 0;
          for (const b of log.batches) {
            if (b.lastOffset < p.fetchOffset) continue;
            if (chosen.length > 0 && size + b.bytes.length > p.partitionMaxBytes) break;
            chosen.push(b.bytes);
            size += b.bytes.length;
          }
          return {
            partitionIndex: p.partition,
            errorCode: p.fetchOffset > log.nextOffset ? 1 /* OFFSET_OUT_OF_RANGE */ : 0,
            highWatermark: log.nextOffset,
            lastStableOffset: log.nextOffset,
            logStartOffset: 0n,
            abortedTransactions: [],
            ...(version >= 11 ? { preferredReadReplica: -1 } : {}),
            records: Buffer.concat(chosen),
          };
        }),
      };
    });
    const empty = responses.every((t) => t.partitions.every((p) => p.records!.length === 0));
    if (empty && req.maxWaitMs > 0) {
      await new Promise((res) => setTimeout(res, Math.min(req.maxWaitMs, 200)));
    }
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
  }

  private listOffsets(req: ListOffsetsRequest, version: number) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const end = this.log(`${t.name}-${p.partitionIndex}`).nextOffset;
          const offset = p.timestamp === -2n ? 0n : end; // earliest, else latest
          // Only the fields of this version: the encoder refuses a non-default value it cannot send.
          if (version === 0)
            return { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [offset] };
          return {
            partitionIndex: p.partitionIndex,
            errorCode: 0,
            timestamp: -1n,
            offset,
            ...(version >= 4 ? { leaderEpoch: LEADER_EPOCH } : {}),
          };
        }),
      })),
    };
  }

  private findCoordinator(req: FindCoordinatorRequest, version: number) {
    const found = { nodeId: NODE_ID, host: '127.0.0.1', port: this.port, errorCode: 0, errorMessage: null };
    if (version >= 4) {
      return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => ({ key, ...found })) };
    }
    return { throttleTimeMs: 0, ...found };
  }

  private group(groupId: string): GroupState {
    let g = this.groups.get(groupId);
    if (!g) {
      g = { generationId: 0, members: new Map(), assignments: new Map(), committed: new Map() };
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** One member per group, always the leader: the group completes as soon as it joins. */
  private joinGroup(req: JoinGroupRequest, clientId: string | null) {
    const g = this.group(req.groupId);
    // Deterministic (a real broker appends a random UUID), so that recaptured fixtures change little.
    const memberId = req.memberId || `${clientId ?? 'member'}-${String(++this.memberSeq).padStart(12, '0')}`;
    const protocol = req.protocols[0]!;
    g.members.clear();
    g.members.set(memberId, { metadata: Buffer.from(protocol.metadata), protocolName: protocol.name });
    g.generationId++;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: g.generationId,
      protocolType: req.protocolType,
      protocolName: protocol.name,
      leader: memberId,
      skipAssignment: false,
      memberId,
      members: [{ memberId, groupInstanceId: req.groupInstanceId, metadata: protocol.metadata }],
    };
  }

  private syncGroup(req: SyncGroupRequest) {
    const g = this.group(req.groupId);
    for (const a of req.assignments) g.assignments.set(a.memberId, Buffer.from(a.assignment));
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      protocolType: req.protocolType,
      protocolName: req.protocolName,
      assignment: g.assignments.get(req.memberId) ?? Buffer.alloc(0),
    };
  }

  private offsetFetch(req: OffsetFetchRequest, version: number) {
    const partitionsOf = (groupId: string, topic: string, indexes: number[]) =>
      indexes.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: this.group(groupId).committed.get(`${topic}-${partitionIndex}`) ?? -1n,
        committedLeaderEpoch: -1,
        metadata: '',
        errorCode: 0,
      }));
    if (version >= 8) {
      return {
        throttleTimeMs: 0,
        groups: req.groups.map((g) => ({
          groupId: g.groupId,
          errorCode: 0,
          topics: (g.topics ?? []).map((t) => ({
            name: t.name,
            partitions: partitionsOf(g.groupId, t.name, t.partitionIndexes),
          })),
        })),
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      topics: (req.topics ?? []).map((t) => ({
        name: t.name,
        partitions: partitionsOf(req.groupId, t.name, t.partitionIndexes),
      })),
    };
  }

  private offsetCommit(req: OffsetCommitRequest) {
    const g = this.group(req.groupId);
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          g.committed.set(`${t.name}-${p.partitionIndex}`, p.committedOffset);
          return { partitionIndex: p.partitionIndex, errorCode: 0 };
        }),
      })),
    };
  }

  private offsetForLeaderEpoch(req: OffsetForLeaderEpochRequest) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({
          errorCode: 0,
          partition: p.partition,
          leaderEpoch: LEADER_EPOCH,
          endOffset: this.log(`${t.topic}-${p.partition}`).nextOffset,
        })),
      })),
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Clients

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs kcat with `args`, feeding it `stdin`; kills it after `timeoutMs`. Resolves with its stdout. */
function runKcat(args: string[], stdin: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    const child: ChildProcess = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`kcat ${args.join(' ')} timed out after ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else rej(new Error(`kcat ${args.join(' ')} exited with ${code}; stderr: ${err}`));
    });
    child.stdin!.end(stdin ?? '');
  });
}

function kcatVersion(): string {
  const text = execFileSync('kcat', ['-V'], { encoding: 'utf8' });
  const kcat = /Version ([\d.]+)/.exec(text)?.[1] ?? 'unknown';
  const rdkafka = /librdkafka ([\d.]+)/.exec(text)?.[1] ?? 'unknown';
  return `kcat ${kcat} (librdkafka ${rdkafka})`;
}

async function captureKcat(broker: FakeBroker, capture: Capture): Promise<void> {
  const clientVersion = kcatVersion();
  const bootstrap = `127.0.0.1:${broker.port}`;
  const phase = (p: Omit<Phase, 'client' | 'clientVersion'>) => {
    capture.phase = { client: 'kcat', clientVersion, ...p };
  };

  phase({ scenario: `kcat -b ${bootstrap} -L` });
  await runKcat(['-b', bootstrap, '-L'], undefined, 20_000);
  phase({ scenario: `kcat -b ${bootstrap} -L -t ${TOPIC}` });
  await runKcat(['-b', bootstrap, '-L', '-t', TOPIC], undefined, 20_000);

  // librdkafka sends a batch uncompressed when compressing does not make it smaller, so the values are
  // long and repetitive enough for every codec to shrink them.
  const plain: SentRecord[] = [
    { key: 'k1', value: `v1-${FILLER}`, headers: [] },
    { key: 'k2', value: `v2-${FILLER}`, headers: [] },
  ];
  const input = plain.map((r) => `${r.key}:${r.value}\n`).join('');
  const runs: { label: string; codec: string; headers: boolean }[] = [
    { label: 'none', codec: 'none', headers: false },
    { label: 'gzip', codec: 'gzip', headers: false },
    { label: 'snappy', codec: 'snappy', headers: false },
    { label: 'lz4', codec: 'lz4', headers: false },
    { label: 'zstd', codec: 'zstd', headers: false },
    { label: 'none-headers', codec: 'none', headers: true },
  ];
  for (const run of runs) {
    // linger.ms: both lines go out in one batch, whatever the timing.
    const args = ['-b', bootstrap, '-P', '-t', TOPIC, '-K:', '-z', run.codec, '-X', 'linger.ms=200'];
    if (run.headers) args.push('-H', 'hk=hv');
    phase({
      scenario: `printf 'k1:v1-FILLER\\nk2:v2-FILLER\\n' | kcat ${args.join(' ')} (FILLER: ${FILLER_TEXT})`,
      produceLabel: run.label,
      compression: run.codec,
      records: run.headers ? plain.map((r) => ({ ...r, headers: [{ key: 'hk', value: 'hv' }] })) : plain,
    });
    await runKcat(args, input, 20_000);
  }

  const consumeArgs = ['-b', bootstrap, '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-c', '2', '-K:'];
  phase({ scenario: `kcat ${consumeArgs.join(' ')}` });
  let out = await runKcat(consumeArgs, undefined, 30_000);
  if (out !== input) throw new Error(`kcat consumed ${JSON.stringify(out)}`);

  // A balanced (group) consumer: FindCoordinator, JoinGroup, SyncGroup, OffsetFetch, Heartbeat, OffsetCommit, LeaveGroup.
  const groupArgs = [
    '-b',
    bootstrap,
    '-G',
    GROUP,
    TOPIC,
    '-c',
    '2',
    '-K:',
    '-X',
    'auto.offset.reset=earliest',
    '-X',
    'heartbeat.interval.ms=100',
  ];
  phase({ scenario: `kcat ${groupArgs.join(' ')}` });
  out = await runKcat(groupArgs, undefined, 30_000);
  if (out !== input) throw new Error(`kcat -G consumed ${JSON.stringify(out)}`);

  // Idempotent and transactional producers: InitProducerId (a flexible version), AddPartitionsToTxn, EndTxn.
  const extraRuns: { label: string; config: string }[] = [
    { label: 'idempotent', config: 'enable.idempotence=true' },
    { label: 'transactional', config: 'transactional.id=kch-fixtures-txn' },
  ];
  for (const run of extraRuns) {
    const args = ['-b', bootstrap, '-P', '-t', TOPIC, '-K:', '-X', run.config, '-X', 'linger.ms=200'];
    phase({
      scenario: `printf 'k1:v1-FILLER\\nk2:v2-FILLER\\n' | kcat ${args.join(' ')} (FILLER: ${FILLER_TEXT})`,
      produceLabel: run.label,
      compression: 'none',
      records: plain,
    });
    await runKcat(args, input, 20_000);
  }
}

async function captureKafkajs(broker: FakeBroker, capture: Capture): Promise<void> {
  const kafkajsPkg = JSON.parse(
    readFileSync(join(packageDir, '..', '..', 'node_modules', 'kafkajs', 'package.json'), 'utf8'),
  ) as { version: string };
  const clientVersion = `kafkajs ${kafkajsPkg.version}`;
  const phase = (p: Omit<Phase, 'client' | 'clientVersion'>) => {
    capture.phase = { client: 'kafkajs', clientVersion, ...p };
  };
  const kafka = new Kafka({
    clientId: 'kch-fixtures',
    brokers: [`127.0.0.1:${broker.port}`],
    logLevel: logLevel.ERROR,
    retry: { retries: 2, initialRetryTime: 100 },
    connectionTimeout: 3000,
    requestTimeout: 10_000,
  });

  phase({ scenario: `admin.fetchTopicMetadata({ topics: ['${TOPIC}'] }), admin.listTopics()` });
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
  if (meta.topics[0]?.name !== TOPIC) throw new Error(`kafkajs metadata: ${JSON.stringify(meta)}`);
  await admin.listTopics();
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sends: { label: string; codecName: string; compression: CompressionTypes; record: SentRecord }[] = [
    {
      label: 'none',
      codecName: 'None',
      compression: CompressionTypes.None,
      record: { key: 'k1', value: 'v1', headers: [{ key: 'hk', value: 'hv' }] },
    },
    {
      label: 'gzip',
      codecName: 'GZIP',
      compression: CompressionTypes.GZIP,
      record: { key: 'k2', value: 'v2', headers: [{ key: 'hk', value: 'hv2' }] },
    },
  ];
  for (const s of sends) {
    const headers = Object.fromEntries(s.record.headers.map((h) => [h.key, h.value]));
    phase({
      scenario: `producer.send({ topic: '${TOPIC}', compression: CompressionTypes.${s.codecName}, messages: [{ key: '${s.record.key}', value: '${s.record.value}', headers: ${JSON.stringify(headers)} }] })`,
      produceLabel: s.label,
      compression: s.label,
      records: [s.record],
    });
    await producer.send({
      topic: TOPIC,
      compression: s.compression,
      messages: [{ key: s.record.key, value: s.record.value, headers }],
    });
  }
  await producer.disconnect();

  phase({
    scenario: `consumer({ groupId: '${GROUP}' }).subscribe({ topics: ['${TOPIC}'], fromBeginning: true }), run until 2 messages, then disconnect`,
  });
  const consumer = kafka.consumer({
    groupId: GROUP,
    heartbeatInterval: 100,
    sessionTimeout: 10_000,
    maxWaitTimeInMs: 200,
    retry: { retries: 2, initialRetryTime: 100 },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const received: string[] = [];
  let done: () => void = () => {};
  const gotAll = new Promise<void>((res) => {
    done = res;
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(`${message.key}:${message.value}`);
      if (received.length >= 2) done();
    },
  });
  try {
    await withTimeout(gotAll, 20_000, 'kafkajs consumer');
    // Keep polling a little so that heartbeats and an empty fetch go out too.
    await new Promise((res) => setTimeout(res, 1000));
  } finally {
    await consumer.disconnect();
  }
  if (received.join(',') !== 'k1:v1,k2:v2') throw new Error(`kafkajs consumed ${received.join(',')}`);
}

// ---------------------------------------------------------------------------------------------------

const REQUIRED_APIS = ['ApiVersions', 'Metadata', 'Produce', 'Fetch'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, verbose: { type: 'boolean', default: false } },
  });
  const outDir = resolve(values.out ?? DEFAULT_OUT);
  const hardStop = setTimeout(() => {
    console.error(`capture-fixtures: gave up after ${HARD_TIMEOUT_MS} ms`);
    process.exit(2);
  }, HARD_TIMEOUT_MS);
  hardStop.unref();

  const capture = new Capture();
  const broker = new FakeBroker(capture, values.verbose);
  await broker.listen();
  capture.port = broker.port;
  console.error(`capture broker listening on 127.0.0.1:${broker.port}`);
  const clients: [string, (b: FakeBroker, c: Capture) => Promise<void>][] = [
    ['kcat', captureKcat],
    ['kafkajs', captureKafkajs],
  ];
  try {
    for (const [name, run] of clients) {
      broker.reset();
      console.error(`capturing ${name}...`);
      await withTimeout(run(broker, capture), 90_000, name);
      capture.phase = undefined;
    }
  } finally {
    capture.phase = undefined;
    await broker.close();
  }
  if (broker.errors.length > 0) throw new Error(`the capture broker failed:\n${broker.errors.join('\n')}`);

  for (const [name] of clients) {
    const apis = new Set([...capture.entries.values()].filter((e) => e.client === name).map((e) => e.api));
    const missing = REQUIRED_APIS.filter((a) => !apis.has(a));
    if (missing.length > 0) throw new Error(`${name}: nothing captured for ${missing.join(', ')}`);
  }

  // A client may silently send a batch uncompressed; then the fixture would not be what its name says.
  for (const e of capture.entries.values()) {
    if (e.api !== 'Produce' || !e.compression) continue;
    const body = apiByKey(ApiKeys.Produce)!.request.decode(
      parseRequestHeader(capture.frames.get(e.file)!).body,
      e.version,
    ) as ProduceRequest;
    const records = body.topicData[0]!.partitionData[0]!.records!;
    let count = 0;
    for (let pos = 0; pos < records.length; pos += 12 + records.readInt32BE(pos + 8)) {
      const codec = records.readInt16BE(pos + 21) & 7;
      if (codec !== CODEC_IDS[e.compression]) {
        throw new Error(
          `${e.file}: asked for ${e.compression} but the client sent a batch with codec ${codec}`,
        );
      }
      count += records.readInt32BE(pos + 57);
    }
    // The records of the index must be those of this one request (a client may split them).
    if (count !== e.records?.length) {
      throw new Error(`${e.file}: the request holds ${count} records, but ${e.records?.length} were sent`);
    }
  }

  // Write everything to a temporary directory, then swap it in.
  mkdirSync(dirname(outDir), { recursive: true });
  const staging = mkdtempSync(join(tmpdir(), 'kch-fixtures-'));
  const entries = [...capture.entries.values()].sort((a, b) => a.file.localeCompare(b.file));
  for (const e of entries) {
    const path = join(staging, e.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, capture.frames.get(e.file)!);
  }
  writeFileSync(
    join(staging, 'index.json'),
    `${JSON.stringify({ topic: TOPIC, fixtures: entries }, null, 2)}\n`,
  );
  for (const [name] of clients) {
    rmSync(join(outDir, name), { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name] of clients) {
    const from = join(staging, name);
    if (existsSync(from)) moveDir(from, join(outDir, name));
  }
  writeFileSync(join(outDir, 'index.json'), readFileSync(join(staging, 'index.json')));
  rmSync(staging, { recursive: true, force: true });

  for (const e of entries) console.log(`${e.file}\t${e.clientVersion}\t${e.api} v${e.version}`);
  console.error(`wrote ${entries.length} fixtures to ${outDir}`);
}

/** rename, falling back to copy + delete across file systems. */
function moveDir(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    execFileSync('cp', ['-r', from, to]);
    rmSync(from, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
