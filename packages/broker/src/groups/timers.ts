/**
 * The coordinator's timers (Kafka's purgatory operations, Kafka 4's CoordinatorTimer): every one is
 * known, so closing the coordinator cancels them all, and one that fires after close does nothing.
 * A callback that throws is a coordinator bug: it is logged and reported as the broker's 'error'
 * event instead of escaping into the event loop, which would take the process down.
 */
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../logger.js';

export class CoordinatorTimers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly logger: Logger,
    private readonly events: EventEmitter<BrokerEvents>,
  ) {}

  /** Runs `fn` after `ms` (unref'd: a pending session never keeps the process alive). */
  schedule(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.pending.delete(t);
        if (this.stopped) return;
        try {
          fn();
        } catch (e) {
          this.logger.error('group coordinator timer failed', { error: e });
          this.events.emit('error', e as Error, { component: 'group-coordinator' });
        }
      },
      Math.max(0, ms),
    );
    t.unref?.();
    this.pending.add(t);
    return t;
  }

  /** Timers armed and not yet fired or cancelled: sessions, rebalance phases, pending members. */
  get size(): number {
    return this.pending.size;
  }

  cancel(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.pending.delete(t);
  }

  /** Cancels every timer; none scheduled later runs its callback either. */
  stop(): void {
    this.stopped = true;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
