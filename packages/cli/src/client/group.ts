/**
 * Membership of a classic consumer group (protocol type "consumer"): JoinGroup/SyncGroup with the
 * "range" assignor (the Java consumer's default first assignor, so `kch consume --group` can share a
 * group with Java consumers), Heartbeat, OffsetCommit as a member, LeaveGroup. Rebalancing is eager: on
 * a rebalance the member commits, gives up its partitions and joins again.
 */
import {
  decodeConsumerProtocolSubscription,
  ErrorCode,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  Reader,
  Writer,
} from '@kch/protocol';
import { commitOffsets, decodeAssignment, findCoordinator, type OffsetToCommit } from './admin.js';
import { type BrokerConnection, type KafkaClient, sleep } from './client.js';
import { BrokerError, CliError } from './errors.js';

export const RANGE_ASSIGNOR = 'range';
const PROTOCOL_TYPE = 'consumer';

export interface GroupMemberOptions {
  groupId: string;
  topics: string[];
  /** Kafka's session.timeout.ms (default 45 s). */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members to rejoin (max.poll.interval.ms; default 60 s here). */
  rebalanceTimeoutMs?: number;
  /** Kafka's heartbeat.interval.ms (default 3 s). */
  heartbeatIntervalMs?: number;
}

/** topic -> partitions. */
export type Assignment = Map<string, number[]>;

/** What a heartbeat says: keep going, or join again (a rebalance started, or the member was dropped). */
export type HeartbeatResult = 'ok' | 'rejoin';

/** Errors after which the member must join again rather than fail. */
const REJOIN_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

export class GroupMember {
  memberId = '';
  generationId = -1;
  assignment: Assignment = new Map();
  private coordinator: BrokerConnection | null = null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;

  constructor(
    private readonly client: KafkaClient,
    readonly options: GroupMemberOptions,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 45_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 60_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
  }

  get groupId(): string {
    return this.options.groupId;
  }

  private async coordinatorConnection(): Promise<BrokerConnection> {
    if (!this.coordinator || this.coordinator.connection.closed) {
      this.coordinator = await findCoordinator(this.client, this.groupId);
    }
    return this.coordinator;
  }

  private forgetCoordinatorOn(code: number): void {
    if (code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE) {
      this.coordinator = null;
    }
  }

  /** Joins (or rejoins) the group and resolves with this member's partitions. */
  async join(): Promise<Assignment> {
    for (let attempt = 0; ; attempt++) {
      if (attempt >= 20) {
        throw new CliError(
          `could not join group "${this.groupId}" after ${attempt} attempts: its members keep rebalancing; try again`,
        );
      }
      const conn = await this.coordinatorConnection();
      const { version: jv, response: join } = await conn.send(
        'JoinGroup',
        (v) => ({
          groupId: this.groupId,
          sessionTimeoutMs: this.sessionTimeoutMs,
          rebalanceTimeoutMs: v >= 1 ? this.rebalanceTimeoutMs : undefined,
          memberId: this.memberId,
          groupInstanceId: v >= 5 ? null : undefined,
          protocolType: PROTOCOL_TYPE,
          protocols: [{ name: RANGE_ASSIGNOR, metadata: encodeSubscription(this.options.topics) }],
          reason: v >= 8 ? null : undefined,
        }),
        { timeoutMs: this.rebalanceTimeoutMs + 5_000 },
      );
      if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        // KIP-394: the coordinator gave us an id; join again with it.
        this.memberId = join.memberId;
        continue;
      }
      if (join.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = '';
        continue;
      }
      if (join.errorCode !== ErrorCode.NONE) {
        if (REJOIN_ERRORS.has(join.errorCode)) {
          this.forgetCoordinatorOn(join.errorCode);
          await sleep(Math.min(100 * 2 ** attempt, 1_000));
          continue;
        }
        throw new BrokerError(
          join.errorCode,
          `joining group "${this.groupId}"`,
          null,
          join.errorCode === ErrorCode.INCONSISTENT_GROUP_PROTOCOL
            ? `The group's other members use another protocol or assignor; kch consume uses "${RANGE_ASSIGNOR}". Use another group id.`
            : undefined,
        );
      }
      this.memberId = join.memberId;
      this.generationId = join.generationId;
      const leader = join.leader === join.memberId;
      const assignments =
        leader && !(jv >= 9 && join.skipAssignment)
          ? await this.assign(join.members.map((m) => ({ memberId: m.memberId, metadata: m.metadata })))
          : [];
      const { response: sync } = await conn.send(
        'SyncGroup',
        (v) => ({
          groupId: this.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: v >= 3 ? null : undefined,
          protocolType: v >= 5 ? PROTOCOL_TYPE : undefined,
          protocolName: v >= 5 ? RANGE_ASSIGNOR : undefined,
          assignments,
        }),
        { timeoutMs: this.rebalanceTimeoutMs + 5_000 },
      );
      if (sync.errorCode !== ErrorCode.NONE) {
        if (REJOIN_ERRORS.has(sync.errorCode)) {
          if (sync.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
          this.forgetCoordinatorOn(sync.errorCode);
          continue;
        }
        throw new BrokerError(sync.errorCode, `syncing with group "${this.groupId}"`);
      }
      const decoded = sync.assignment.length === 0 ? null : decodeAssignment(sync.assignment);
      this.assignment = new Map();
      for (const tp of decoded?.assignedPartitions ?? []) {
        this.assignment.set(
          tp.topic,
          [...tp.partitions].sort((a, b) => a - b),
        );
      }
      return this.assignment;
    }
  }

  /** The leader's job: the range assignment of every member's subscription. */
  private async assign(
    members: { memberId: string; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map<string, string[]>();
    for (const m of members) subscriptions.set(m.memberId, decodeSubscription(m.metadata));
    const topics = [...new Set([...subscriptions.values()].flat())].sort();
    const counts = new Map<string, number>();
    if (topics.length > 0) {
      const md = await this.client.metadata(topics);
      for (const t of md.topics) if (t.errorCode === ErrorCode.NONE) counts.set(t.name, t.partitions.length);
    }
    const plan = rangeAssign(subscriptions, counts);
    return members.map((m) => ({
      memberId: m.memberId,
      assignment: encodeAssignment(plan.get(m.memberId)!),
    }));
  }

  /** Sends a heartbeat; 'rejoin' when the group is rebalancing or forgot this member. */
  async heartbeat(): Promise<HeartbeatResult> {
    const conn = await this.coordinatorConnection();
    const { response } = await conn.send('Heartbeat', (v) => ({
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: v >= 3 ? null : undefined,
    }));
    if (response.errorCode === ErrorCode.NONE) return 'ok';
    if (REJOIN_ERRORS.has(response.errorCode)) {
      if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
      this.forgetCoordinatorOn(response.errorCode);
      return 'rejoin';
    }
    throw new BrokerError(response.errorCode, `heartbeat to group "${this.groupId}"`);
  }

  /**
   * Commits offsets as a member of the current generation. Resolves false when the group has moved
   * on (a rebalance): the partitions may belong to another member now, so the commit is dropped.
   */
  async commit(offsets: readonly OffsetToCommit[]): Promise<boolean> {
    if (offsets.length === 0) return true;
    const conn = await this.coordinatorConnection();
    try {
      await commitOffsets(
        this.client,
        this.groupId,
        offsets,
        { generationId: this.generationId, memberId: this.memberId },
        conn,
      );
      return true;
    } catch (e) {
      if (e instanceof BrokerError && REJOIN_ERRORS.has(e.code)) {
        this.forgetCoordinatorOn(e.code);
        return false;
      }
      throw e;
    }
  }

  /** Leaves the group, so that its partitions are reassigned at once rather than after the session timeout. */
  async leave(): Promise<void> {
    if (this.memberId === '') return;
    const conn = await this.coordinatorConnection();
    const memberId = this.memberId;
    this.memberId = '';
    this.generationId = -1;
    const { version, response } = await conn.send('LeaveGroup', (v) =>
      v >= 3
        ? {
            groupId: this.groupId,
            members: [
              { memberId, groupInstanceId: null, reason: v >= 5 ? 'the consumer is closing' : undefined },
            ],
          }
        : { groupId: this.groupId, memberId },
    );
    const code =
      response.errorCode !== ErrorCode.NONE
        ? response.errorCode
        : version >= 3
          ? (response.members[0]?.errorCode ?? ErrorCode.NONE)
          : ErrorCode.NONE;
    // The member is gone either way when the coordinator does not know it.
    if (code !== ErrorCode.NONE && code !== ErrorCode.UNKNOWN_MEMBER_ID) {
      throw new BrokerError(code, `leaving group "${this.groupId}"`);
    }
  }
}

/**
 * Kafka's RangeAssignor: for each topic, its partitions split into contiguous ranges over the members
 * subscribed to it, sorted by member id; the first `partitions % members` members get one extra.
 */
export function rangeAssign(
  subscriptions: ReadonlyMap<string, readonly string[]>,
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Map<string, number[]>> {
  const plan = new Map<string, Map<string, number[]>>();
  for (const memberId of subscriptions.keys()) plan.set(memberId, new Map());
  const topics = [...new Set([...subscriptions.values()].flat())].sort();
  for (const topic of topics) {
    const count = partitionCounts.get(topic);
    if (count === undefined) continue;
    const members = [...subscriptions]
      .filter(([, t]) => t.includes(topic))
      .map(([m]) => m)
      .sort();
    const per = Math.floor(count / members.length);
    const extra = count % members.length;
    members.forEach((m, i) => {
      const start = per * i + Math.min(i, extra);
      const length = per + (i < extra ? 1 : 0);
      if (length === 0) return;
      plan.get(m)!.set(
        topic,
        Array.from({ length }, (_, k) => start + k),
      );
    });
  }
  return plan;
}

/** Consumer protocol subscription bytes: an int16 version (0), then the subscription. */
export function encodeSubscription(topics: readonly string[]): Buffer {
  const w = new Writer();
  w.int16(0);
  encodeConsumerProtocolSubscription(w, { topics: [...topics], userData: null }, 0);
  return w.toBuffer();
}

function decodeSubscription(bytes: Buffer): string[] {
  try {
    const r = new Reader(bytes);
    if (r.int16() < 0) return [];
    // Every version starts with version 0's fields.
    return decodeConsumerProtocolSubscription(r, 0).topics;
  } catch {
    return [];
  }
}

/** Consumer protocol assignment bytes: an int16 version (0), then the partitions by topic. */
export function encodeAssignment(partitions: ReadonlyMap<string, number[]>): Buffer {
  const w = new Writer();
  w.int16(0);
  encodeConsumerProtocolAssignment(
    w,
    {
      assignedPartitions: [...partitions].map(([topic, ps]) => ({ topic, partitions: ps })),
      userData: null,
    },
    0,
  );
  return w.toBuffer();
}
