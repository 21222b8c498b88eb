/**
 * When the broker reads its topics from storage again: on demand (a lookup that missed), in the
 * background after a miss, and on a timer. Reads are coalesced so that many misses at once (a client
 * asking for a topic that does not exist, many partitions of a topic another broker just created) cost
 * one storage read, never a storm: at most one read is in flight, and at most one more waits behind it.
 */
export class CoalescedRefresh {
  private running: Promise<void> | null = null;
  /** The read that starts when the running one ends: callers who missed after it began need it. */
  private next: Promise<void> | null = null;
  private lastStart = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param read one read and reconcile of the topics.
   * @param onError a failed background read (a timer's, a miss's): logged, the next one may succeed.
   */
  constructor(
    private readonly read: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
    /** Least time between background reads after misses (ms). */
    private readonly missGapMs = 1000,
  ) {}

  /**
   * A read that begins after this call: the one waiting behind the running read, shared with every
   * other caller since the running one began.
   */
  run(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  private start(): Promise<void> {
    this.next = null;
    this.lastStart = Date.now();
    const p = this.read().finally(() => {
      if (this.running === p) this.running = null;
    });
    this.running = p;
    return p;
  }

  /**
   * A read in the background after a synchronous lookup missed: the answer already went out (unknown),
   * the client's retry finds the topic. Skipped when one ran less than the gap ago or is under way.
   */
  soon(): void {
    if (this.running || this.next || Date.now() - this.lastStart < this.missGapMs) return;
    this.run().catch(this.onError);
  }

  every(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      // A read still running (a slow storage) is not queued behind: the next tick comes soon enough.
      if (!this.running) this.run().catch(this.onError);
    }, intervalMs);
    // The timer alone must not keep a process alive: the broker's server does.
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
