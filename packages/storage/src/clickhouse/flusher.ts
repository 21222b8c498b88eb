/**
 * Group commit for one table: rows handed in together go out as one insert, and every caller learns
 * the outcome of that insert.
 *
 * - Idle (no insert running): what arrives is sent at the end of the current turn of the event loop
 *   (setImmediate), so the partitions of one Produce request, and requests read together, share an
 *   insert, and nothing waits for a timer.
 * - Busy: rows gather while inserts run. Up to `maxInFlight` inserts run at once (ClickHouse parses
 *   one insert on about one thread, so a second one uses another core); a further insert starts once
 *   its oldest rows have waited `lingerMs` or `maxBytes` are waiting, and otherwise when an insert ends.
 *   Under load, inserts run back to back and each carries everything that arrived meanwhile (few, large
 *   parts, as ClickHouse wants).
 *
 * Inserts of one Flusher may therefore overlap and end in any order; callers that need an order between
 * their rows (one partition's appends) must not hand in rows before the earlier ones are settled, or
 * must order the outcomes themselves.
 */

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface Pending {
  chunks: Buffer[];
  bytes: number;
  rows: number;
  waiters: Waiter[];
  /** performance.now() when the first chunk arrived. */
  since: number;
}

/** What one insert of a Flusher carried and how it went, for metrics (see `ClickHouseStorage.onFlush`). */
export interface FlushObservation {
  /** Appends (callers) the insert carried. */
  appends: number;
  rows: number;
  bytes: number;
  durationMs: number;
  /** How long its oldest rows waited before the insert started (linger, or inserts already running). */
  queuedMs: number;
  /** The error callers got, when the insert failed. */
  error?: unknown;
}

export class Flusher {
  private pending: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    /** Inserts the chunks (whole rows each) as one insert; rejects with the error callers get. */
    private readonly insert: (chunks: Buffer[]) => Promise<void>,
    private readonly lingerMs: number,
    private readonly maxBytes: number,
    /** Told about every insert once it ended (optional; must not throw). */
    private readonly observe?: (o: FlushObservation) => void,
    /** Inserts that may run at once. */
    private readonly maxInFlight = 1,
  ) {}

  /** Resolves when an insert holding `chunk` (`rows` rows) succeeded; rejects with its error otherwise. */
  add(chunk: Buffer, rows = 0): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.pending)
        this.pending = { chunks: [], bytes: 0, rows: 0, waiters: [], since: performance.now() };
      const p = this.pending;
      p.chunks.push(chunk);
      p.bytes += chunk.length;
      p.rows += rows;
      p.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Sends what is waiting now and resolves when nothing is left in flight. Never rejects. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.pending && this.inFlight.size < this.maxInFlight) this.flush();
      if (this.inFlight.size === 0 && !this.pending) return;
      await Promise.race(this.inFlight);
    }
  }

  /** Starts an insert of what is pending when it is due, or arranges for that. */
  private schedule(): void {
    const p = this.pending;
    if (!p || this.inFlight.size >= this.maxInFlight) return; // an ending insert calls schedule again
    if (p.bytes >= this.maxBytes || this.lingerMs === 0) {
      this.flush();
      return;
    }
    if (this.inFlight.size === 0) {
      // Idle: send at the end of this turn, once the rest of what arrived with it has been added.
      // (Any insert started meanwhile went through flush(), which cancels this.)
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
      return;
    }
    const wait = this.lingerMs - (performance.now() - p.since);
    if (wait <= 0) this.flush();
    else
      this.timer ??= setTimeout(() => {
        this.timer = null;
        if (this.pending && this.inFlight.size < this.maxInFlight) this.flush();
      }, wait);
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (!this.pending || this.inFlight.size >= this.maxInFlight) return;
    const batch = this.pending;
    this.pending = null;
    const running: Promise<void> = this.run(batch).finally(() => {
      this.inFlight.delete(running);
      this.schedule();
    });
    this.inFlight.add(running);
  }

  private async run(batch: Pending): Promise<void> {
    const started = performance.now();
    const queuedMs = started - batch.since;
    let error: unknown;
    let failed = false;
    try {
      await this.insert(batch.chunks);
    } catch (e) {
      failed = true;
      error = e;
    }
    // The rows are no longer needed; let them go before the callers run.
    batch.chunks = [];
    if (this.observe) {
      const { waiters, rows, bytes } = batch;
      const durationMs = performance.now() - started;
      try {
        this.observe({
          appends: waiters.length,
          rows,
          bytes,
          durationMs,
          queuedMs,
          ...(failed ? { error } : {}),
        });
      } catch {
        // an observer's failure never reaches the callers
      }
    }
    for (const w of batch.waiters) {
      if (failed) w.reject(error);
      else w.resolve();
    }
  }
}
