/**
 * This broker's registration in the storage's cluster store: taken when it starts listening, renewed
 * on a timer, given up when it closes. Its deadline is what a leader checks before it acknowledges
 * (docs/architecture.md, "Many brokers"); and it is what keeps two brokers from serving one database
 * that cannot coordinate them: a ClickHouse without Keeper lets one broker register at a time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ClusterEndpoint, ClusterStore } from '@kch/storage';
import { StorageError } from '@kch/storage';
import type { Logger } from '../logger.js';

/** How long a registration lasts unless renewed, and how often it is renewed. */
export const REGISTRATION_TTL_MS = 10_000;
export const RENEW_INTERVAL_MS = 3_000;
/**
 * How much sooner than the store this broker gives its own registration up: room for clocks that run
 * at slightly different rates (the store's and this process's) over one registration's life.
 */
const DEADLINE_MARGIN_MS = 1_000;
/** How often a broker whose node id is still held tries again while the holder's registration may expire. */
const REJOIN_POLL_MS = 500;

/** What a broker checks before it answers for something it holds through its registration. */
export interface LeaseCheck {
  /** False once this broker may have lost what it holds (its registration's local deadline passed). */
  held(): boolean;
  /**
   * Whether it still holds it, asking the store when the local deadline has passed: a renewal that
   * succeeds proves nobody fenced this broker so far, so nothing it held was taken over.
   */
  confirm(): Promise<boolean>;
}

export class Membership implements LeaseCheck {
  /** Random per process start: tells this broker from an earlier life under the same node id. */
  readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private registered: number | undefined;
  /**
   * Until when (performance.now()) the registration certainly holds: the time the last successful
   * register or renew was sent, plus its TTL. The store counts the TTL from when it received the
   * call, later, so the store's expiry never comes before this deadline; another broker takes this
   * one's partitions only after the store's expiry (docs/architecture.md, "Many brokers").
   */
  private deadline = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly logger: Logger,
    /** Called when the registration was lost (the broker paused longer than its lease): stop serving. */
    private readonly onLost: (reason: string) => void,
  ) {}

  /** Whether this broker may still act on its registration (acknowledge appends as a leader). */
  held(): boolean {
    return this.registered !== undefined && performance.now() < this.deadline - DEADLINE_MARGIN_MS;
  }

  async confirm(): Promise<boolean> {
    if (this.held()) return true;
    await this.renew();
    return this.held();
  }

  /**
   * Registers under `nodeId`, or the lowest free one when null, and resolves the id; refuses (a
   * StorageError saying who serves) when a live broker holds the id, or when the store allows one
   * broker and another serves.
   */
  async join(
    nodeId: number | null,
    rack: string | null,
    endpoints: readonly ClusterEndpoint[],
  ): Promise<number> {
    const member = { nodeId, instance: this.instance, rack, endpoints };
    for (;;) {
      const sent = performance.now();
      try {
        this.registered = await this.store.register(member, REGISTRATION_TTL_MS);
        this.deadline = sent + REGISTRATION_TTL_MS;
        break;
      } catch (e) {
        const held =
          e instanceof StorageError &&
          e.kind === 'INVALID_REQUEST' &&
          this.store.manyBrokers &&
          nodeId !== null;
        if (!held || !(await this.heldByEarlierLife(nodeId))) throw e;
      }
    }
    const id = this.registered;
    this.timer = setInterval(() => void this.renew(), RENEW_INTERVAL_MS);
    this.timer.unref();
    return id;
  }

  /**
   * Whether the live registration of `nodeId` is this broker's own earlier life (killed and started
   * again at once): it is not renewed, so it expires within its TTL; waits for that and resolves
   * true. A registration that is renewed meanwhile is a live broker's: resolves false at once.
   */
  private async heldByEarlierLife(nodeId: number): Promise<boolean> {
    const expiryOf = async () =>
      (await this.store.view()).members.find((m) => m.nodeId === nodeId)?.expiresAt;
    const first = await expiryOf();
    const giveUpAt = performance.now() + REGISTRATION_TTL_MS + RENEW_INTERVAL_MS;
    this.logger.info('waiting for an earlier registration of this node id to expire', { nodeId });
    for (;;) {
      const now = await expiryOf();
      if (now === undefined) return true;
      if (now !== first || performance.now() > giveUpAt) return false;
      await new Promise((r) => setTimeout(r, REJOIN_POLL_MS));
    }
  }

  private async renew(): Promise<void> {
    if (this.registered === undefined) return;
    let held: boolean;
    const sent = performance.now();
    try {
      held = await this.store.renew(this.registered, this.instance, REGISTRATION_TTL_MS);
    } catch (e) {
      // A storage hiccup: the next renewal may get through before the registration expires.
      this.logger.warn('broker registration not renewed', { error: (e as Error).message });
      return;
    }
    if (!held) {
      this.stopTimer();
      this.registered = undefined;
      this.onLost(
        `this broker's registration expired (it did not renew it for ${REGISTRATION_TTL_MS} ms: paused, or cut off from ClickHouse) and another broker took its place`,
      );
      return;
    }
    // Renewals may overlap (a slow one, then the timer's next): the latest sent one counts.
    this.deadline = Math.max(this.deadline, sent + REGISTRATION_TTL_MS);
  }

  /** Gives the registration up, so that another broker may start at once. */
  async leave(): Promise<void> {
    this.stopTimer();
    const id = this.registered;
    this.registered = undefined;
    if (id !== undefined) await this.store.leave(id, this.instance);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
