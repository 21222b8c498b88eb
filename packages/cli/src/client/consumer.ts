/**
 * The consume loop of `kch consume`: one topic, either assigned partitions (no group) or the partitions
 * a consumer group gives this member, fetched from a start position until stopped, a record limit, or
 * (with `exitAtEnd`) the end of every partition.
 *
 * The loop is kch's (it is what kcat and kafka-console-consumer.sh do: where to start, when to stop,
 * offsets out of range); the Kafka client under it is @platformatic/kafka's consumer, for fetching
 * and, with a group, for membership (./group-member.ts). With a group it behaves as Kafka's Java
 * consumer with enable.auto.commit: the position (the offset after the last record handed to
 * `onRecord`) is committed every `autoCommitIntervalMs`, when a rebalance starts, and on the way out,
 * and the member leaves the group when it stops.
 */
import { ErrorCode } from '@kch/protocol';
import { Consumer } from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import { type FetchedRecord, fetchOnce } from './fetcher.js';
import { GroupMember } from './group-member.js';
import { EARLIEST_TIMESTAMP, fetchCommittedOffsets, LATEST_TIMESTAMP, listOffsets } from './groups-admin.js';
import { isRetriable, type Kafka, sleep, type TopicInfo } from './kafka.js';

/** Where reading starts (without a group, or in a group for partitions without a committed offset). */
export type StartPosition =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  /** An absolute offset. */
  | { kind: 'offset'; offset: bigint }
  /** This many records before the end (kcat's -o -N). */
  | { kind: 'fromEnd'; count: bigint }
  /** The first record at or after this time (ms); the end when there is none. */
  | { kind: 'timestamp'; timestamp: bigint };

export interface ConsumeOptions {
  topic: string;
  /** Partitions to read without a group (default: all). */
  partitions?: number[];
  start: StartPosition;
  group?: string;
  /** Stop after this many records. */
  maxMessages?: number;
  /** Stop when every partition has been read to its end (kcat -e). */
  exitAtEnd?: boolean;
  /** Stops the loop (Ctrl-C); a group member commits and leaves first. */
  signal?: AbortSignal;
  /** Called for every record in order; awaited (backpressure). */
  onRecord: (record: FetchedRecord) => void | Promise<void>;
  /** Non-fatal events worth telling the user (offset resets, rebalances). */
  onNotice?: (message: string) => void;
  autoCommitIntervalMs?: number;
  fetchMaxWaitMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

export interface ConsumeResult {
  /** Records handed to onRecord. */
  count: number;
  /** Why the loop stopped. */
  reason: 'signal' | 'max-messages' | 'end';
}

/** How many fetch rounds in a row may fail with retriable errors before giving up (~15 s). */
const MAX_RETRIABLE_ROUNDS = 30;
/** A group that is never joined: the library's consumer needs a group id even to fetch. */
const NO_GROUP = 'kch-cli-no-group';

export async function consume(kafka: Kafka, options: ConsumeOptions): Promise<ConsumeResult> {
  const signal = options.signal;
  const notice = options.onNotice ?? (() => {});
  const client = kafka.track(
    new Consumer({
      ...kafka.options,
      groupId: options.group ?? NO_GROUP,
      autocommit: false,
      // A JoinGroup waits for the other members up to the rebalance timeout (60 s).
      requestTimeout: 65_000,
    }),
  );
  let topic = await kafka.topic(options.topic, false, client);
  const autoCommitIntervalMs = options.autoCommitIntervalMs ?? 5_000;
  let count = 0;
  /** partition -> the next offset to hand over. */
  let positions = new Map<number, bigint>();
  /** Partitions whose position reached the high watermark of the last fetch. */
  const atEnd = new Set<number>();
  /** partition -> position last committed. */
  const committed = new Map<number, bigint>();
  /** The commit started when a rebalance began, awaited before the next generation's positions. */
  let rebalanceCommit: Promise<void> = Promise.resolve();
  /** From a rebalance's start to the next generation: the partitions are being revoked, none is read. */
  let rebalancing = false;

  const member = options.group
    ? new GroupMember(
        kafka,
        client,
        {
          groupId: options.group,
          topic: options.topic,
          sessionTimeoutMs: options.sessionTimeoutMs,
          heartbeatIntervalMs: options.heartbeatIntervalMs,
        },
        () => {
          // As the Java consumer commits before its partitions are revoked: with the generation that
          // is ending, sent now, while the library sends its JoinGroup.
          notice(`group "${options.group}" is rebalancing; joining again`);
          rebalancing = true;
          rebalanceCommit = commit(member!.generationId, member!.client.memberId).catch(() => {});
        },
      )
    : null;

  const commit = async (generationId?: number, memberId?: string | null): Promise<void> => {
    if (!member) return;
    const offsets = [...positions]
      .filter(([p, o]) => committed.get(p) !== o)
      .map(([partition, offset]) => ({ topic: topic.name, partition, offset }));
    if (offsets.length === 0) return;
    if (await member.commit(offsets, generationId, memberId)) {
      for (const o of offsets) committed.set(o.partition, o.offset);
    } else {
      notice(`could not commit offsets of group "${member.groupId}": the group is rebalancing`);
    }
  };

  /** Positions without a group: the partitions asked for (all by default) from the start position. */
  const assignAll = async (): Promise<void> => {
    const all = topic.partitions.map((p) => p.partition);
    const wanted = options.partitions ?? all;
    for (const p of wanted) {
      if (!all.includes(p)) {
        throw new CliError(
          `topic "${topic.name}" has no partition ${p}: it has ${all.length} (0-${all.length - 1})`,
        );
      }
    }
    positions = await startPositions(kafka, topic, wanted, options.start);
  };

  /** Positions of a generation's partitions: committed offsets, else the start position. */
  const assign = async (m: GroupMember, generation: { generationId: number; partitions: number[] }) => {
    atEnd.clear();
    committed.clear();
    topic = await kafka.topic(options.topic, false, client);
    const mine = generation.partitions;
    notice(
      `joined group "${m.groupId}" (generation ${generation.generationId}) with partitions ${
        mine.length > 0 ? mine.join(',') : '(none)'
      } of ${topic.name}`,
    );
    positions = new Map();
    if (mine.length === 0) return;
    const offsets = await fetchCommittedOffsets(kafka, m.groupId, [{ topic: topic.name, partitions: mine }]);
    const uncommitted: number[] = [];
    for (const p of mine) {
      const o = offsets.find((x) => x.topic === topic.name && x.partition === p);
      if (o && o.offset >= 0n) {
        positions.set(p, o.offset);
        committed.set(p, o.offset);
      } else {
        uncommitted.push(p);
      }
    }
    for (const [p, o] of await startPositions(kafka, topic, uncommitted, options.start)) positions.set(p, o);
  };

  const aborted = () => signal?.aborted === true;
  let reason: ConsumeResult['reason'] = 'signal';
  try {
    if (member)
      await untilAborted(
        member.join().then((g) => assign(member, g)),
        signal,
      );
    else await untilAborted(assignAll(), signal);
    let lastCommit = Date.now();
    let failedRounds = 0;
    loop: while (!aborted()) {
      const generation = member?.takeGeneration();
      if (member && generation) {
        await rebalanceCommit;
        rebalancing = false;
        await untilAborted(assign(member, generation), signal);
      }
      if (options.exitAtEnd && positions.size > 0 && atEnd.size === positions.size) {
        reason = 'end';
        break;
      }
      if (options.exitAtEnd && member && positions.size === 0) {
        reason = 'end';
        break;
      }
      if (positions.size === 0 || rebalancing) {
        // A member without partitions (more members than partitions) waits for a rebalance; one whose
        // group is rebalancing waits for its next assignment.
        await untilAborted(sleep(options.fetchMaxWaitMs ?? 500), signal);
        continue;
      }
      const results = await fetchOnce(kafka, client, topic, positions, { maxWaitMs: options.fetchMaxWaitMs });
      let retriable = false;
      for (const r of results) {
        if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          const position = positions.get(r.partition)!;
          const earliest = (await listOffsets(kafka, topic, [r.partition], EARLIEST_TIMESTAMP)).get(
            r.partition,
          )!.offset;
          const to =
            position < earliest
              ? earliest
              : (await listOffsets(kafka, topic, [r.partition], LATEST_TIMESTAMP)).get(r.partition)!.offset;
          notice(
            `offset ${position} is out of range for ${topic.name}-${r.partition}; continuing from ${
              position < earliest ? 'the earliest' : 'the latest'
            } offset ${to}`,
          );
          positions.set(r.partition, to);
          continue;
        }
        if (r.errorCode !== ErrorCode.NONE) {
          if (isRetriable(r.errorCode)) {
            retriable = true;
            continue;
          }
          throw new BrokerError(r.errorCode, `fetching from ${topic.name}-${r.partition}`);
        }
        // A rebalance moved the partition away while this fetch was out: its records are another's now.
        if (!positions.has(r.partition)) continue;
        for (const record of r.records) {
          if (aborted()) break loop;
          await options.onRecord(record);
          positions.set(r.partition, record.offset + 1n);
          count++;
          if (options.maxMessages !== undefined && count >= options.maxMessages) {
            reason = 'max-messages';
            break loop;
          }
        }
        if (r.nextOffset > positions.get(r.partition)!) positions.set(r.partition, r.nextOffset);
        if (r.highWatermark >= 0n && positions.get(r.partition)! >= r.highWatermark) atEnd.add(r.partition);
        else atEnd.delete(r.partition);
      }
      if (retriable) {
        if (++failedRounds >= MAX_RETRIABLE_ROUNDS) {
          const r = results.find((x) => x.errorCode !== ErrorCode.NONE)!;
          throw new BrokerError(r.errorCode, `fetching from ${topic.name}-${r.partition}`);
        }
        await sleep(Math.min(100 * failedRounds, 1_000));
        topic = await kafka.topic(options.topic, false, client);
      } else {
        failedRounds = 0;
      }
      if (member && !aborted() && Date.now() - lastCommit >= autoCommitIntervalMs) {
        await commit();
        lastCommit = Date.now();
      }
    }
    if (member?.joined) {
      await rebalanceCommit;
      await commit();
      await member.leave();
    }
  } catch (e) {
    if (e instanceof AbortedError) {
      // Stopped while joining: the join request may still be parked at the coordinator, and anything
      // sent behind it would wait too, so the member just goes (the session timeout removes it).
      await client.connections.close().catch(() => {});
      return { count, reason: 'signal' };
    }
    throw e;
  }
  return { count, reason };
}

class AbortedError extends Error {}

/** Resolves with `promise`, or rejects with AbortedError as soon as the signal fires. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(new AbortedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(new AbortedError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The offsets to start from for partitions without a committed offset. */
export async function startPositions(
  kafka: Kafka,
  topic: TopicInfo,
  partitions: number[],
  start: StartPosition,
): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  if (partitions.length === 0) return out;
  switch (start.kind) {
    case 'earliest':
    case 'latest': {
      const listed = await listOffsets(
        kafka,
        topic,
        partitions,
        start.kind === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP,
      );
      for (const p of partitions) out.set(p, listed.get(p)!.offset);
      return out;
    }
    case 'offset':
      for (const p of partitions) out.set(p, start.offset);
      return out;
    case 'fromEnd': {
      const earliest = await listOffsets(kafka, topic, partitions, EARLIEST_TIMESTAMP);
      const latest = await listOffsets(kafka, topic, partitions, LATEST_TIMESTAMP);
      for (const p of partitions) {
        // bigint: no Math.max
        let from = latest.get(p)!.offset - start.count;
        const low = earliest.get(p)!.offset;
        if (from < low) from = low;
        out.set(p, from);
      }
      return out;
    }
    case 'timestamp': {
      const found = await listOffsets(kafka, topic, partitions, start.timestamp);
      const missing = partitions.filter((p) => found.get(p)!.offset < 0n);
      const latest = missing.length > 0 ? await listOffsets(kafka, topic, missing, LATEST_TIMESTAMP) : null;
      for (const p of partitions) {
        const o = found.get(p)!.offset;
        out.set(p, o >= 0n ? o : latest!.get(p)!.offset);
      }
      return out;
    }
  }
}
