/**
 * This broker's registration in the storage's cluster store: taken when it starts listening, renewed
 * on a timer, given up when it closes. It is what keeps two brokers from serving one database unless
 * they can coordinate: a ClickHouse without Keeper lets one broker register at a time, and, until
 * partition leadership moves between brokers (docs/architecture.md, "Many brokers"), a broker also
 * refuses to start beside another live one on a ClickHouse with Keeper.
 */
import { randomUUID } from 'node:crypto';
import type { ClusterEndpoint, ClusterStore } from '@kch/storage';
import { memberAddress, StorageError } from '@kch/storage';
import type { Logger } from '../logger.js';

/** How long a registration lasts unless renewed, and how often it is renewed. */
export const REGISTRATION_TTL_MS = 10_000;
export const RENEW_INTERVAL_MS = 3_000;

export class Membership {
  /** Random per process start: tells this broker from an earlier life under the same node id. */
  readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private registered: number | undefined;

  constructor(
    private readonly store: ClusterStore,
    private readonly logger: Logger,
    /** Called when the registration was lost (the broker paused longer than its lease): stop serving. */
    private readonly onLost: (reason: string) => void,
  ) {}

  /** Registers under `nodeId`; refuses (a StorageError saying who serves) when another broker does. */
  async join(nodeId: number, rack: string | null, endpoints: readonly ClusterEndpoint[]): Promise<number> {
    const id = await this.store.register(
      { nodeId, instance: this.instance, rack, endpoints },
      REGISTRATION_TTL_MS,
    );
    this.registered = id;
    if (this.store.manyBrokers) {
      const other = (await this.store.view()).members.find((m) => m.instance !== this.instance);
      if (other) {
        await this.leave();
        throw new StorageError(
          'INVALID_REQUEST',
          `another kch broker (node.id ${other.nodeId}${memberAddress(other)}) serves this database, and this kch serves a database from one broker at a time: stop that broker first`,
          false,
        );
      }
    }
    this.timer = setInterval(() => void this.renew(), RENEW_INTERVAL_MS);
    this.timer.unref();
    return id;
  }

  private async renew(): Promise<void> {
    if (this.registered === undefined) return;
    let held: boolean;
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
    }
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
