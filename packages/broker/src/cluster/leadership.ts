/**
 * Partition leadership over several brokers sharing one database: each partition is owned by one live
 * broker at a time through an ownership in the cluster store (key `p:<topicId>:<partition>`), whose
 * epoch is the partition's leader epoch. Every broker looks at the cluster every second (and when it
 * creates a topic), and
 * - claims the partitions it should lead whose owner is gone (released, left, or expired and fenced),
 * - gives up the ones another live broker should lead (it stops appending, lets its writes settle,
 *   then releases the ownership, which the other claims at its next look).
 * The compare-and-set on the epoch makes sure one broker wins each claim; the fencing of the old
 * owner's registration and of its late rows (Storage.openPartition) is what makes a claim safe
 * (docs/architecture.md, "Many brokers over one database").
 */
import type { ClusterMember, ClusterStore, LeaderEpochStart, Ownership } from '@kch/storage';
import type { PartitionLog } from '../log/partition-log.js';
import type { TopicManager } from '../log/topics.js';
import type { Logger } from '../logger.js';
import type { Membership } from './membership.js';

/** The ownership key of a partition's leadership: by topic id, so a re-created name starts afresh. */
export function partitionKey(topicId: string, partition: number): string {
  return `p:${topicId}:${partition}`;
}

/** A partition's leader as Metadata and NOT_LEADER_OR_FOLLOWER answers give it. */
export interface PartitionLeader {
  readonly nodeId: number;
  readonly epoch: number;
}

/**
 * How often a broker looks at the cluster: the delay before it takes a partition another broker
 * handed over, or leads a partition of a topic another broker created. Three small reads each time.
 */
export const LOOK_INTERVAL_MS = 1_000;

/** The owner id of an ownership nobody holds (given up by its leader, for the next to claim). */
const RELEASED = -1;

type LiveMember = ClusterMember & { readonly expiresAt: number };

export class Leadership {
  private members: readonly LiveMember[] = [];
  private owners = new Map<string, Ownership>();
  private looking: Promise<void> | undefined;
  private lookAgain = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ClusterStore,
    private readonly membership: Membership,
    private readonly topics: TopicManager,
    private readonly nodeId: number,
    private readonly logger: Logger,
  ) {}

  /** The live brokers, by node id, as last seen. */
  liveMembers(): readonly LiveMember[] {
    return this.members;
  }

  /** The partition's live leader as last seen, or null while it has none (LEADER_NOT_AVAILABLE). */
  leaderOf(topicId: string, partition: number): PartitionLeader | null {
    const o = this.owners.get(partitionKey(topicId, partition));
    if (!o || !this.isLive(o)) return null;
    return { nodeId: o.nodeId, epoch: o.epoch };
  }

  /** Where each leader epoch of the partition began, oldest first, as last seen. */
  epochStarts(topicId: string, partition: number): readonly LeaderEpochStart[] {
    return this.owners.get(partitionKey(topicId, partition))?.epochStarts ?? [];
  }

  /**
   * Looks at the cluster and moves leadership where it should be. Calls that come while a look is
   * under way make one more look after it, so a change is never missed and looks never overlap.
   */
  look(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.looking) {
      this.lookAgain = true;
      return this.looking;
    }
    this.looking = (async () => {
      do {
        this.lookAgain = false;
        try {
          await this.rebalance();
        } catch (e) {
          // The next renewal looks again; until then partitions stay where they are.
          this.logger.warn('partition leadership not updated', { error: (e as Error).message });
        }
      } while (this.lookAgain && !this.stopped);
    })().finally(() => {
      this.looking = undefined;
    });
    return this.looking;
  }

  /** Looks now and then every {@link LOOK_INTERVAL_MS}, until `stop`. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.look(), LOOK_INTERVAL_MS);
    this.timer.unref();
    return this.look();
  }

  /** Gives up every partition this broker leads (a clean stop): the others take them at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.looking;
    const releases: Promise<void>[] = [];
    for (const topic of this.topics.list()) {
      topic.logs.forEach((log, p) => {
        const o = this.owners.get(partitionKey(topic.record.topicId, p));
        if (o && this.isMine(o)) releases.push(this.release(log, o));
      });
    }
    await Promise.all(releases);
  }

  private async rebalance(): Promise<void> {
    // Topics other brokers created, grew or deleted since the last look get their leaders too.
    await this.topics.refresh();
    const view = await this.store.view();
    const owned = await this.store.owners();
    this.members = [...view.members].sort((a, b) => a.nodeId - b.nodeId);
    // Only partitions' ownerships (the storage keeps topic-name claims, `t:<name>`, in the same store).
    this.owners = new Map(owned.filter((o) => o.key.startsWith('p:')).map((o) => [o.key, o]));
    const nodes = this.members.map((m) => m.nodeId);
    // Not a member (the registration was lost: the broker is closing): claim nothing.
    if (!nodes.includes(this.nodeId) || this.stopped) return;
    const moves: Promise<void>[] = [];
    for (const topic of this.topics.list()) {
      const { topicId } = topic.record;
      // Each topic's partitions go round the brokers from a point of its own, so that topics with
      // few partitions do not all land on the lowest node id.
      const shift = spreadOf(topicId);
      topic.logs.forEach((log, p) => {
        const key = partitionKey(topicId, p);
        const wanted = nodes[(p + shift) % nodes.length];
        const o = this.owners.get(key);
        if (o && this.isMine(o)) {
          // Ours but not served (a claim whose open failed), or another broker should lead it.
          if (wanted !== this.nodeId || !log.isLeader) moves.push(this.release(log, o));
        } else if (wanted === this.nodeId && (!o || !this.isLive(o))) {
          moves.push(this.claim(log, key, o, view.now));
        } else if (log.isLeader && o) {
          // Another broker holds it now (this one lost it while paused): stop serving it.
          moves.push(log.resign());
        }
      });
    }
    await Promise.all(moves);
  }

  /**
   * Takes the partition from an owner that is gone: its registration is fenced first (it can never
   * renew, so it acknowledges nothing more), then the epoch is raised by compare-and-set, the
   * partition is opened with its fences, and the new epoch's start is recorded.
   */
  private async claim(
    log: PartitionLog,
    key: string,
    was: Ownership | undefined,
    now: number,
  ): Promise<void> {
    if (was && was.nodeId !== RELEASED && !(await this.store.fence(was.nodeId, was.instance, now))) return;
    const epoch = was ? was.epoch + 1 : 0;
    const epochStarts = was?.epochStarts ?? [];
    const mine: Ownership = {
      key,
      nodeId: this.nodeId,
      instance: this.membership.instance,
      epoch,
      epochStarts,
    };
    if (!(await this.store.setOwner(was ? was.epoch : null, mine))) return;
    this.owners.set(key, mine);
    let start: number;
    try {
      start = await log.lead({ epoch, epochStarts }, this.membership);
    } catch (e) {
      // Owned but not served: the next look releases it for another try.
      this.logger.warn('partition not opened after its leadership was won', {
        topic: log.topic,
        partition: log.partition,
        error: (e as Error).message,
      });
      return;
    }
    const recorded: Ownership = { ...mine, epochStarts: [...epochStarts, { epoch, startOffset: start }] };
    if (await this.store.setOwner(epoch, recorded)) this.owners.set(key, recorded);
    else await log.resign();
    this.logger.info('partition leadership taken', {
      topic: log.topic,
      partition: log.partition,
      leaderEpoch: epoch,
      startOffset: start,
      ...(was && was.nodeId !== RELEASED ? { from: was.nodeId } : {}),
    });
  }

  /** Stops serving the partition, waits for its writes to settle, then lets the ownership go. */
  private async release(log: PartitionLog, o: Ownership): Promise<void> {
    await log.resign();
    const released: Ownership = { ...o, nodeId: RELEASED, instance: '' };
    if (await this.store.setOwner(o.epoch, released)) this.owners.set(o.key, released);
  }

  private isMine(o: Ownership): boolean {
    return o.nodeId === this.nodeId && o.instance === this.membership.instance;
  }

  private isLive(o: Ownership): boolean {
    return (
      o.nodeId !== RELEASED && this.members.some((m) => m.nodeId === o.nodeId && m.instance === o.instance)
    );
  }
}

/** A topic's starting point round the brokers: a stable hash of its id. */
function spreadOf(topicId: string): number {
  let h = 0;
  for (let i = 0; i < topicId.length; i++) h = (h * 31 + topicId.charCodeAt(i)) >>> 0;
  return h;
}
