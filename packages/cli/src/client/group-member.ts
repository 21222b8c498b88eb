/**
 * `kch consume --group`'s membership of a classic consumer group, on @platformatic/kafka's consumer:
 * the library joins (JoinGroup/SyncGroup, with kch's range assignor), heartbeats in the background,
 * rejoins when the group rebalances, and leaves. kch adds what its consume loop needs around that:
 * the assignment of each generation as it comes, and commits that belong to one generation.
 *
 * Commits go through the library's OffsetCommit request rather than `consumer.commit()`, which on a
 * rebalance error joins again and retries with the new generation: for partitions that may belong to
 * another member by then. Here a commit the group refuses is dropped (the consume loop says so), as
 * Kafka's Java consumer drops it.
 */
import { ErrorCode } from '@kch/protocol';
import { type Consumer, kGetApi } from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import type { Kafka } from './kafka.js';
import { protocolErrorOf, responseOf } from './kafka-errors.js';
import { RANGE_ASSIGNOR, rangeAssigner } from './range-assignor.js';

export interface GroupMemberOptions {
  groupId: string;
  topic: string;
  /** Kafka's session.timeout.ms (default 45 s). */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members to rejoin (max.poll.interval.ms; default 60 s here). */
  rebalanceTimeoutMs?: number;
  /** Kafka's heartbeat.interval.ms (default 3 s). */
  heartbeatIntervalMs?: number;
}

/** A generation's assignment: the partitions of the topic, sorted. */
export interface Generation {
  generationId: number;
  partitions: number[];
}

/** Errors after which a commit belongs to a generation that is gone. */
const REJOIN_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

type OffsetCommitApi = {
  async: (
    connection: unknown,
    groupId: string,
    generationIdOrMemberEpoch: number,
    memberId: string,
    groupInstanceId: string | null,
    topics: {
      name: string;
      partitions: {
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }[];
    }[],
  ) => Promise<unknown>;
};

export class GroupMember {
  /** The assignment of the generation joined last, until the loop takes it. */
  private pending: Generation | null = null;
  /** A failure of the library's background rejoin, for the loop to report. */
  private failure: Error | null = null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;

  constructor(
    private readonly kafka: Kafka,
    readonly client: Consumer,
    readonly options: GroupMemberOptions,
    /** Called when the group starts rebalancing, before this member joins again. */
    onRebalance: () => void,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 45_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 60_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
    client.on('consumer:group:rebalance', onRebalance);
    client.on('consumer:group:join', (payload) => {
      this.pending = {
        generationId: payload.generationId ?? client.generationId,
        partitions: partitionsOf(payload.assignments, options.topic),
      };
    });
    // The library reports a rejoin that failed as an 'error' event, which must have a listener.
    client.on('error', (e: Error) => {
      this.failure = e;
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  get generationId(): number {
    return this.client.generationId;
  }

  /** Whether the member is in the group (joined and not left). */
  get joined(): boolean {
    return this.client.memberId !== null;
  }

  /** Joins the group; resolves with this member's first assignment. */
  async join(): Promise<Generation> {
    this.client.topics.track(this.options.topic);
    await this.kafka.call(
      `joining group "${this.groupId}"`,
      () =>
        this.client.joinGroup({
          sessionTimeout: this.sessionTimeoutMs,
          rebalanceTimeout: this.rebalanceTimeoutMs,
          heartbeatInterval: this.heartbeatIntervalMs,
          protocols: [{ name: RANGE_ASSIGNOR, version: 0 }],
          partitionAssigner: rangeAssigner,
        }),
      (code) =>
        code === ErrorCode.INCONSISTENT_GROUP_PROTOCOL
          ? `The group's other members use another protocol or assignor; kch consume uses "${RANGE_ASSIGNOR}". Use another group id.`
          : undefined,
    );
    return this.takeGeneration() ?? { generationId: this.generationId, partitions: [] };
  }

  /** The assignment of a generation joined since the last call (the library rejoins by itself), if any. */
  takeGeneration(): Generation | null {
    if (this.failure) {
      const e = this.failure;
      this.failure = null;
      throw this.kafka.failure(e, `joining group "${this.groupId}" again`);
    }
    const g = this.pending;
    this.pending = null;
    return g;
  }

  /**
   * Commits offsets as a member of the current generation (or of `generationId`, captured when a
   * rebalance began). Resolves false when the group has moved on: the partitions may belong to
   * another member now, so the commit is dropped.
   */
  async commit(
    offsets: readonly { topic: string; partition: number; offset: bigint }[],
    generationId = this.generationId,
    memberId = this.client.memberId,
  ): Promise<boolean> {
    if (offsets.length === 0) return true;
    if (memberId === null) return false;
    const byTopic = [...new Set(offsets.map((o) => o.topic))].map((name) => ({
      name,
      partitions: offsets
        .filter((o) => o.topic === name)
        .map((o) => ({
          partitionIndex: o.partition,
          committedOffset: o.offset,
          committedLeaderEpoch: -1,
          committedMetadata: '',
        })),
    }));
    try {
      const connection = await this.coordinatorConnection();
      const api = await new Promise<OffsetCommitApi>((resolve, reject) =>
        this.client[kGetApi]('OffsetCommit', (e, a) =>
          e ? reject(e) : resolve(a as unknown as OffsetCommitApi),
        ),
      );
      await api.async(connection, this.groupId, generationId, memberId, null, byTopic);
      return true;
    } catch (e) {
      const code = protocolErrorOf(e)?.code;
      if (code !== undefined && REJOIN_ERRORS.has(code)) return false;
      throw (
        failedPartition(e, this.groupId) ??
        this.kafka.failure(e, `committing the offsets of group "${this.groupId}"`)
      );
    }
  }

  /** Leaves the group, so that its partitions are reassigned at once rather than after the session timeout. */
  async leave(): Promise<void> {
    if (!this.joined) return;
    await this.kafka.call(
      `leaving group "${this.groupId}"`,
      () =>
        new Promise<void>((resolve, reject) =>
          this.client.leaveGroup(false, (e) => (e ? reject(e) : resolve())),
        ),
    );
  }

  private async coordinatorConnection(): Promise<unknown> {
    const coordinator = await this.client.findGroupCoordinator();
    const md = await this.client.metadata({ topics: [] });
    const broker = md.brokers.get(coordinator);
    if (!broker)
      throw new CliError(
        `the coordinator of group "${this.groupId}" (broker ${coordinator}) is not in the metadata; try again`,
      );
    return new Promise((resolve, reject) =>
      this.client.connections.get(broker, (e, connection) => (e ? reject(e) : resolve(connection))),
    );
  }
}

function partitionsOf(
  assignments: { topic: string; partitions: number[] }[] | undefined,
  topic: string,
): number[] {
  return [...(assignments?.find((a) => a.topic === topic)?.partitions ?? [])].sort((a, b) => a - b);
}

/** The partition a commit failed for, as the old message named it. */
function failedPartition(e: unknown, groupId: string): BrokerError | null {
  const response = responseOf<{
    topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
  }>(e);
  for (const t of response?.topics ?? []) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) {
        return new BrokerError(
          p.errorCode,
          `committing the offset of group "${groupId}" for ${t.name}-${p.partitionIndex}`,
        );
      }
    }
  }
  return null;
}
