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
import { performance } from 'node:perf_hooks';
import type { ClusterMember, ClusterStore, LeaderEpochStart, Ownership } from '@kch/storage';
import type { GroupCoordinator } from '../groups/coordinator.js';
import { GROUP_SLOTS, groupSlot } from '../groups/group-slots.js';
import { deadLetterTopicOf } from '../ingest/dead-letters.js';
import type { PartitionLog } from '../log/partition-log.js';
import type { TopicManager } from '../log/topics.js';
import type { Logger } from '../logger.js';
import { assign } from './assignment.js';
import type { LeaseCheck, Membership } from './membership.js';

/** The ownership key of a partition's leadership: by topic id, so a re-created name starts afresh. */
export function partitionKey(topicId: string, partition: number): string {
  return `p:${topicId}:${partition}`;
}

/** The ownership key of a coordinator slot (../groups/group-slots.ts). */
export function coordinatorKey(slot: number): string {
  return `g:${slot}`;
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

/**
 * The longest wait before a partition refused when taken up is won again: the first retry comes at
 * the next look, and each refusal after it doubles the wait up to this.
 */
const MAX_RETAKE_WAIT_MS = 30_000;

interface RefusedTake {
  readonly error: string;
  /** Refusals in a row. */
  readonly refusals: number;
  /** performance.now() before which it is not won again. */
  readonly retryAt: number;
}

/** The owner id of an ownership nobody holds (given up by its leader, for the next to claim). */
const RELEASED = -1;

type LiveMember = ClusterMember & { readonly expiresAt: number };

export class Leadership {
  private members: readonly LiveMember[] = [];
  private owners = new Map<string, Ownership>();
  private looking: Promise<void> | undefined;
  private lookAgain = false;
  /** Looks failed in a row: the first is logged with its error, the end of the streak with the count. */
  private failedLooks = 0;
  /**
   * Partitions won but not taken up: the error last logged, and when to try again. A refusal that
   * stands (a bound table without `_leader_epoch`, refused by the storage until someone adds it) is
   * logged once rather than at every look, and tried ever more rarely: each try raises the leader
   * epoch and writes to the cluster store.
   */
  private readonly refusedTakes = new Map<string, RefusedTake>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ClusterStore,
    private readonly membership: Membership,
    private readonly topics: TopicManager,
    private readonly groups: GroupCoordinator,
    private readonly nodeId: number,
    private readonly logger: Logger,
    /** Broker-level topic config defaults: whether a topic dead-letters depends on them too. */
    private readonly topicDefaults: Record<string, string> = {},
  ) {}

  /** The live brokers, by node id, as last seen. */
  liveMembers(): readonly LiveMember[] {
    return this.members;
  }

  /** The partition's live leader as last seen, or null while it has none (LEADER_NOT_AVAILABLE). */
  leaderOf(topicId: string, partition: number): PartitionLeader | null {
    return this.liveOwner(partitionKey(topicId, partition));
  }

  /** The group's live coordinator as last seen, or null while it has none (COORDINATOR_NOT_AVAILABLE). */
  coordinatorOf(groupId: string): number | null {
    return this.liveOwner(coordinatorKey(groupSlot(groupId)))?.nodeId ?? null;
  }

  private liveOwner(key: string): PartitionLeader | null {
    const o = this.owners.get(key);
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
          if (this.failedLooks > 0)
            this.logger.info('looks at the cluster work again', { failedLooks: this.failedLooks });
          this.failedLooks = 0;
        } catch (e) {
          // The next look (a second later) tries again; until then everything stays where it is.
          // Storage down fails every look: one line when that begins, one when it ends.
          if (this.failedLooks++ === 0)
            this.logger.warn('looks at the cluster failing, leadership not updated', {
              error: (e as Error).message,
            });
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

  /** Gives up everything this broker holds (a clean stop): the others take it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.looking;
    const releases: Promise<void>[] = [];
    for (const held of this.holdables()) {
      const o = this.owners.get(held.key);
      if (o && this.isMine(o)) releases.push(this.release(held, o));
    }
    await Promise.all(releases);
  }

  private async rebalance(): Promise<void> {
    // Topics other brokers created, grew or deleted since the last look get their leaders too.
    await this.topics.refresh();
    const view = await this.store.view();
    const owned = await this.store.owners();
    this.members = [...view.members].sort((a, b) => a.nodeId - b.nodeId);
    // Only what this module hands out (the storage keeps topic-name claims, `t:<name>`, in the same store).
    this.owners = new Map(owned.filter((o) => /^[pg]:/.test(o.key)).map((o) => [o.key, o]));
    const nodes = this.members.map((m) => m.nodeId);
    if (this.stopped) return;
    // Not a member: the registration expired (this broker was paused or cut off) and may have been
    // fenced. Serve nothing from now on; the membership closes the broker at its next renewal.
    if (!nodes.includes(this.nodeId)) {
      await Promise.all([...this.holdables()].filter((h) => h.serving()).map((h) => h.give()));
      return;
    }
    const holdables = [...this.holdables()];
    const wantedOf = this.placement(holdables, nodes);
    const moves: Promise<void>[] = [];
    const slotsWon: Promise<SlotWon | null>[] = [];
    for (const held of holdables) {
      const wanted = wantedOf.get(held.key);
      const o = this.owners.get(held.key);
      if (o && this.isMine(o)) {
        // Ours but not served (a claim whose opening failed), or another broker should hold it.
        if (wanted !== this.nodeId || !held.serving()) moves.push(this.release(held, o));
      } else if (wanted === this.nodeId && (!o || !this.isLive(o)) && !this.waitsAfterRefusal(held.key)) {
        const won = this.win(held, o, view.now);
        if (held.slot === undefined) {
          const partition = held;
          moves.push(won.then((w) => (w ? this.takePartition(partition, w) : undefined)));
        } else {
          const slot = held;
          slotsWon.push(won.then((w) => w && { held: slot, mine: w.mine }));
        }
      } else if (held.serving() && o) {
        // Another broker holds it now (this one lost it while paused): stop serving it.
        moves.push(held.give());
      }
    }
    moves.push(this.takeSlots(slotsWon));
    await Promise.all(moves);
  }

  /**
   * Where everything should be (./assignment.ts): each topic's partitions balanced over the live
   * brokers, the coordinator slots too, each thing staying with its live owner where balance allows.
   * A dead-letter topic's partition p goes where its source's partition p goes: the invalid records
   * of an append are written by the broker that leads the source partition.
   */
  private placement(holdables: readonly Holdable[], nodes: readonly number[]): Map<string, number> {
    const domains = new Map<string, { keys: string[]; spread: number }>();
    for (const held of holdables) {
      const domain = domains.get(held.domain) ?? { keys: [], spread: spreadOf(held.domain) };
      domains.set(held.domain, domain);
      domain.keys.push(held.key);
    }
    const ownerOf = (key: string) => {
      const o = this.owners.get(key);
      return o && this.isLive(o) ? o.nodeId : undefined;
    };
    const wanted = assign([...domains.values()], nodes, ownerOf);
    for (const topic of this.topics.list()) {
      const deadLetters = deadLetterTopicOf(topic, this.topicDefaults);
      const target = deadLetters === null ? undefined : this.topics.get(deadLetters);
      if (!target) continue;
      for (const log of target.logs) {
        const source = wanted.get(partitionKey(topic.record.topicId, log.partition));
        if (source !== undefined) wanted.set(partitionKey(target.record.topicId, log.partition), source);
      }
    }
    return wanted;
  }

  /** Everything handed out among the brokers: each partition's leadership, each coordinator slot. */
  private *holdables(): Generator<Holdable> {
    for (const topic of this.topics.list()) {
      const { topicId } = topic.record;
      for (const log of topic.logs)
        yield partitionHoldable(log, partitionKey(topicId, log.partition), topicId, this.membership);
    }
    for (let slot = 0; slot < GROUP_SLOTS; slot++) yield slotHoldable(this.groups, slot);
  }

  /**
   * Wins something whose owner is gone: its registration is fenced first (it can never renew, so it
   * acknowledges nothing more), then the epoch is raised by compare-and-set. Null when another won.
   */
  private async win(held: Holdable, was: Ownership | undefined, now: number): Promise<Won | null> {
    if (was && was.nodeId !== RELEASED && !(await this.store.fence(was.nodeId, was.instance, now)))
      return null;
    const mine: Ownership = {
      key: held.key,
      nodeId: this.nodeId,
      instance: this.membership.instance,
      epoch: was ? was.epoch + 1 : 0,
      epochStarts: was?.epochStarts ?? [],
    };
    if (!(await this.store.setOwner(was ? was.epoch : null, mine))) return null;
    this.owners.set(held.key, mine);
    return { mine, from: was && was.nodeId !== RELEASED ? was.nodeId : undefined };
  }

  /** Serves a partition won: opened with its fences, and the new epoch's start recorded. */
  private async takePartition(held: PartitionHoldable, { mine, from }: Won): Promise<void> {
    const { epoch, epochStarts } = mine;
    let start: number;
    try {
      start = await held.take(epoch, epochStarts);
    } catch (e) {
      // Owned but not served: released at once, for this broker's next look or another's to retry.
      const error = (e as Error).message;
      const before = this.refusedTakes.get(held.key);
      if (before?.error !== error)
        this.logger.warn('ownership won but not taken up', { ...held.label, error });
      const refusals = (before?.refusals ?? 0) + 1;
      const waitMs = refusals < 2 ? 0 : Math.min(LOOK_INTERVAL_MS * 2 ** (refusals - 2), MAX_RETAKE_WAIT_MS);
      this.refusedTakes.set(held.key, { error, refusals, retryAt: performance.now() + waitMs });
      return this.release(held, mine).catch(() => undefined);
    }
    this.refusedTakes.delete(held.key);
    const recorded: Ownership = { ...mine, epochStarts: [...epochStarts, { epoch, startOffset: start }] };
    if (await this.store.setOwner(epoch, recorded)) this.owners.set(held.key, recorded);
    else return held.give();
    this.logger.info('ownership taken', {
      ...held.label,
      epoch,
      startOffset: start,
      ...(from !== undefined ? { from } : {}),
    });
  }

  /**
   * Coordinates the slots won in one look. Their groups are loaded together, so storage lists the
   * groups with offsets once per look rather than once per slot (50 times for a broker alone).
   */
  private async takeSlots(wins: readonly Promise<SlotWon | null>[]): Promise<void> {
    const won = (await Promise.all(wins)).filter((w) => w !== null);
    if (won.length === 0) return;
    const slots = won.map((w) => w.held.slot);
    try {
      await this.groups.takeSlots(slots);
    } catch (e) {
      // Owned but not served: released at once, for this broker's next look or another's to retry.
      const error = (e as Error).message;
      this.logger.warn('ownership won but not taken up', { coordinatorSlots: slots, error });
      await Promise.all(won.map((w) => this.release(w.held, w.mine).catch(() => undefined)));
      return;
    }
    // A partition's leader change is what an operator looks for; coordinator slots are detail.
    this.logger.debug('ownership taken', { coordinatorSlots: slots });
  }

  /** Stops serving it, waits for its writes to settle, then lets the ownership go. */
  private async release(held: Holdable, o: Ownership): Promise<void> {
    await held.give();
    const released: Ownership = { ...o, nodeId: RELEASED, instance: '' };
    if (await this.store.setOwner(o.epoch, released)) this.owners.set(o.key, released);
  }

  private isMine(o: Ownership): boolean {
    return o.nodeId === this.nodeId && o.instance === this.membership.instance;
  }

  /** Whether a partition refused when taken up waits before it is won again. */
  private waitsAfterRefusal(key: string): boolean {
    const refused = this.refusedTakes.get(key);
    return refused !== undefined && performance.now() < refused.retryAt;
  }

  private isLive(o: Ownership): boolean {
    return (
      o.nodeId !== RELEASED && this.members.some((m) => m.nodeId === o.nodeId && m.instance === o.instance)
    );
  }
}

/** The domain of the coordinator slots, balanced among themselves. */
const SLOTS = 'slots';

/** What winning an ownership gave: the ownership, and the live broker it was taken from. */
interface Won {
  readonly mine: Ownership;
  readonly from: number | undefined;
}

/** A coordinator slot won in a look, to be taken with the others won in it. */
interface SlotWon {
  readonly held: SlotHoldable;
  readonly mine: Ownership;
}

/** Something held through an ownership: a partition's leadership, or a coordinator slot. */
type Holdable = PartitionHoldable | SlotHoldable;

interface Held {
  readonly key: string;
  /** What it is balanced with over the brokers: its topic's id, or {@link SLOTS}. */
  readonly domain: string;
  /** How the log names it. */
  readonly label: Record<string, unknown>;
  /** Whether this broker serves it now. */
  serving(): boolean;
  /** Stops serving it; resolves once what it was writing has settled. */
  give(): Promise<void>;
}

interface PartitionHoldable extends Held {
  readonly slot?: undefined;
  /** Starts serving it in `epoch`; resolves where the epoch starts. */
  take(epoch: number, epochStarts: readonly LeaderEpochStart[]): Promise<number>;
}

/** Taken through GroupCoordinator.takeSlots, all the slots won in one look at once. */
interface SlotHoldable extends Held {
  readonly slot: number;
}

function partitionHoldable(
  log: PartitionLog,
  key: string,
  domain: string,
  lease: LeaseCheck,
): PartitionHoldable {
  return {
    key,
    domain,
    label: { topic: log.topic, partition: log.partition },
    serving: () => log.isLeader,
    take: (epoch, epochStarts) => log.lead({ epoch, epochStarts }, lease),
    give: () => log.resign(),
  };
}

function slotHoldable(groups: GroupCoordinator, slot: number): SlotHoldable {
  return {
    key: coordinatorKey(slot),
    domain: SLOTS,
    slot,
    label: { coordinatorSlot: slot },
    serving: () => groups.holdsSlot(slot),
    give: () => groups.giveSlot(slot),
  };
}

/** A domain's starting point round the brokers: a stable hash of its name. */
function spreadOf(topicId: string): number {
  let h = 0;
  for (let i = 0; i < topicId.length; i++) h = (h * 31 + topicId.charCodeAt(i)) >>> 0;
  return h;
}
