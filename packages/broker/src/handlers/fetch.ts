import { ErrorCode, FetchResponse, type Init, KafkaProtocolError, Writer } from '@kch/protocol';
import { LeaderHints, servingError } from '../cluster/leader-hints.js';
import { defineHandler, type RequestContext } from '../handler.js';
import type { Isolation, PartitionLog } from '../log/partition-log.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/** FetchRequest.IsolationLevel of read_committed consumers. */
const READ_COMMITTED = 1;

/** Kafka sends empty records, never null: librdkafka rejects a null record set. */
const NO_RECORDS = Buffer.alloc(0);

type PartitionData = Init<FetchResponse['responses'][number]['partitions'][number]>;

interface WantedPartition {
  /** Where the answer goes in the response. */
  out: PartitionData;
  log: PartitionLog | undefined;
  fetchOffset: number;
  maxBytes: number;
  /** Bytes of the records the last read put in the answer. */
  bytes: number;
}

/**
 * Fetch: sessionless (every response is a full one; KIP-227 sessions are optional for clients: a
 * response with session id 0 tells them to keep sending full requests). Long polls: waits up to
 * maxWaitMs for minBytes, woken by appends to any partition asked for. Batches come from the tail
 * cache or storage as stored bytes, written to the socket without copying.
 *
 * Served from v4: v0-v3 readers expect message format 0/1, which would mean down-converting every
 * batch; Kafka 4.0 dropped those versions too (KIP-896).
 */
export default defineHandler({
  api: 'Fetch',
  minVersion: 4,
  async handle(request, ctx) {
    const { broker } = ctx;
    if (request.sessionId !== 0) {
      return {
        errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
        sessionId: 0,
        responses: [],
        throttleTimeMs: 0,
      };
    }
    const byId = ctx.apiVersion >= 13;
    // Kafka's handleFetchRequest: a follower (replica id >= 0) needs ClusterAction on the cluster, a
    // consumer Read on each topic; an unknown topic id is answered before either is asked.
    const replicaId = ctx.apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
    const follower = replicaId >= 0;
    const followerAllowed =
      follower && allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME);
    // By id, the name is the topic's; an unknown id gets UNKNOWN_TOPIC_ID whoever asks.
    const nameOf = (t: { topic: string; topicId: string }) =>
      byId ? broker.topics.getById(t.topicId)?.record.name : t.topic;
    const readable = follower
      ? new Set<string>()
      : allowedNames(
          ctx,
          AclOperation.READ,
          ResourceType.TOPIC,
          request.topics.map(nameOf).filter((n) => n !== undefined),
        );
    const wanted: WantedPartition[] = [];
    const responses = request.topics.map((t) => {
      const topic = byId ? broker.topics.getById(t.topicId) : broker.topics.get(t.topic);
      const unknown = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      const name = nameOf(t);
      const authorized = follower ? followerAllowed : name === undefined || readable.has(name);
      return {
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => {
          const out: PartitionData = emptyPartition(p.partition);
          const log = topic?.logs[p.partition];
          if (!authorized) out.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          else if (!log || !topic) out.errorCode = unknown;
          else out.errorCode = servingError(p.currentLeaderEpoch, topic, log, broker);
          if (out.errorCode === ErrorCode.NONE && log) {
            wanted.push({
              out,
              log,
              fetchOffset: Number(p.fetchOffset),
              maxBytes: p.partitionMaxBytes,
              bytes: 0,
            });
          }
          return out;
        }),
      };
    });
    let maxBytes = ctx.apiVersion >= 3 ? request.maxBytes : Number.MAX_SAFE_INTEGER;
    let { minBytes } = request;
    // A consumer's fetch is capped at what its consumer_byte_rate allows in one quota window, so that
    // one response is not throttled for sure (KafkaApis.handleFetchRequest); followers are exempt.
    const { quotas } = broker;
    const quotaBound = quotas.active && !follower;
    if (quotaBound) {
      maxBytes = Math.min(maxBytes, quotas.maxFetchBytes(ctx));
      minBytes = Math.min(minBytes, maxBytes);
    }
    const deadline = Date.now() + Math.max(0, request.maxWaitMs);
    // read_committed (1): data up to the last stable offset, and the list of aborted transactions,
    // empty because an ABORT takes its transaction's batches out of the log (storage.ts); Kafka sends
    // that list null to read_uncommitted consumers.
    const isolation: Isolation = request.isolationLevel === READ_COMMITTED ? 'committed' : 'uncommitted';
    if (isolation === 'uncommitted') for (const w of wanted) w.out.abortedTransactions = null;
    if (!follower) broker.committedReaders.fetched(ctx.header.clientId, isolation === 'committed');
    for (;;) {
      const bytes = await readAll(wanted, maxBytes, isolation);
      const failed = wanted.some((w) => w.out.errorCode !== ErrorCode.NONE);
      const remaining = deadline - Date.now();
      if (bytes >= minBytes || failed || remaining <= 0 || wanted.length === 0 || ctx.broker.closing) {
        break;
      }
      await waitForAppend(wanted, remaining, ctx);
    }
    const response = {
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses,
      throttleTimeMs: 0,
      nodeEndpoints: pointToLeaders(request.topics, responses, ctx),
    };
    if (quotaBound) {
      const throttleTimeMs = quotas.throttleFetch(ctx, () => responseSize(response, ctx.apiVersion));
      // Kafka answers a throttled fetch empty (FetchContext.getThrottledResponse): nothing read is sent.
      if (throttleTimeMs > 0)
        return { errorCode: ErrorCode.NONE, sessionId: 0, responses: [], throttleTimeMs };
    }
    reportFetched(wanted, ctx);
    return response;
  },
  errorResponse(_request, errorCode) {
    return { errorCode, sessionId: 0, responses: [] };
  },
});

/**
 * KIP-951 (v12+ CurrentLeader, v16+ NodeEndpoints): each partition answered NOT_LEADER_OR_FOLLOWER
 * or FENCED_LEADER_EPOCH names its leader; the response says how to reach them.
 */
function pointToLeaders(
  requested: readonly { topic: string; topicId: string }[],
  responses: { partitions: PartitionData[] }[],
  ctx: RequestContext,
): PartitionNodeEndpoints {
  if (ctx.apiVersion < 12) return [];
  const hints = new LeaderHints(ctx.broker, ctx.connection.listener);
  responses.forEach((r, i) => {
    const t = requested[i]!;
    const topic =
      ctx.apiVersion >= 13 ? ctx.broker.topics.getById(t.topicId) : ctx.broker.topics.get(t.topic);
    for (const p of r.partitions) {
      if (p.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || p.errorCode === ErrorCode.FENCED_LEADER_EPOCH)
        p.currentLeader = hints.currentLeader(topic, p.partitionIndex!);
    }
  });
  return ctx.apiVersion >= 16 ? hints.endpoints() : [];
}

type PartitionNodeEndpoints = Init<FetchResponse>['nodeEndpoints'];

function emptyPartition(partitionIndex: number): PartitionData {
  return {
    partitionIndex,
    errorCode: ErrorCode.NONE,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
}

/**
 * Reads every wanted partition into its response entry; returns the bytes gathered. The first
 * partition with data gets a whole batch even past the limits (KIP-74), so a large batch never
 * blocks a consumer; after that, the response and partition limits hold.
 */
async function readAll(wanted: WantedPartition[], maxBytes: number, isolation: Isolation): Promise<number> {
  let total = 0;
  for (const w of wanted) {
    const budget = Math.max(0, Math.min(w.maxBytes, maxBytes - total));
    try {
      const result = await w.log!.read(w.fetchOffset, total === 0 ? Math.max(budget, 1) : budget, isolation);
      let batches = result.batches;
      if (total > 0) {
        // Only whole batches that fit, once the response already has data.
        let used = 0;
        let n = 0;
        while (n < batches.length && used + batches[n]!.bytes.length <= budget)
          used += batches[n++]!.bytes.length;
        batches = batches.slice(0, n);
      }
      const chunks = batches.map((b) => b.bytes);
      let size = 0;
      for (const c of chunks) size += c.length;
      total += size;
      w.out.errorCode = ErrorCode.NONE;
      w.out.highWatermark = BigInt(result.highWatermark);
      w.out.lastStableOffset = BigInt(result.lastStableOffset);
      w.out.logStartOffset = BigInt(result.logStartOffset);
      w.out.records = chunks.length > 0 ? chunks : NO_RECORDS;
      w.bytes = size;
    } catch (e) {
      if (!(e instanceof KafkaProtocolError)) throw e;
      w.out.errorCode = e.code;
      w.out.highWatermark = BigInt(w.log!.highWatermark);
      w.out.lastStableOffset = BigInt(w.log!.lastStableOffset);
      w.out.logStartOffset = BigInt(w.log!.logStartOffset);
      w.out.records = NO_RECORDS;
      w.bytes = 0;
    }
  }
  return total;
}

/**
 * A `fetch` event for each partition the response returns records from: once, for what is sent (a long
 * poll reads again after each append; a throttled fetch sends nothing).
 */
function reportFetched(wanted: WantedPartition[], ctx: RequestContext): void {
  for (const w of wanted) {
    if (w.bytes === 0) continue;
    const { topic, partition } = w.log!;
    ctx.broker.events.emit('fetch', { topic, partition, offset: w.fetchOffset, bytes: w.bytes });
  }
}

/**
 * The size Kafka counts toward consumer_byte_rate (FetchResponse.sizeOf): the encoded response and 4
 * bytes. Encoded only when a fetch quota applies; record batches are referenced, not copied.
 */
function responseSize(response: Init<FetchResponse>, version: number): number {
  const w = new Writer();
  FetchResponse.encode(w, response, version);
  return 4 + w.length;
}

/** Resolves after the next append to any wanted partition, or after `ms`. */
function waitForAppend(wanted: WantedPartition[], ms: number, ctx: RequestContext): Promise<void> {
  return new Promise((resolve) => {
    const stops: (() => void)[] = [];
    const done = () => {
      clearTimeout(timer);
      for (const s of stops) s();
      ctx.broker.offClosing(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const w of wanted) stops.push(w.log!.onAppend(done));
    ctx.broker.onClosing(done);
  });
}
