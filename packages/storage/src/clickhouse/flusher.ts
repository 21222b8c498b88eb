/**
 * Group commit for one table: rows handed in within the linger window go out as one insert, and every
 * caller learns the outcome of that insert. While an insert runs, new rows gather for the next one,
 * which starts as soon as it ends: under load, inserts run back to back and each carries everything
 * that arrived during the previous one (few, large parts, as ClickHouse wants).
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
}

/** What one insert of a Flusher carried and how it went, for metrics (see `ClickHouseStorage.onFlush`). */
export interface FlushObservation {
  /** Appends (callers) the insert carried. */
  appends: number;
  rows: number;
  bytes: number;
  durationMs: number;
  /** The error callers got, when the insert failed. */
  error?: unknown;
}

export class Flusher {
  private pending: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    /** Inserts the chunks (whole rows each) as one insert; rejects with the error callers get. */
    private readonly insert: (chunks: Buffer[]) => Promise<void>,
    private readonly lingerMs: number,
    private readonly maxBytes: number,
    /** Told about every insert once it ended (optional; must not throw). */
    private readonly observe?: (o: FlushObservation) => void,
  ) {}

  /** Resolves when an insert holding `chunk` (`rows` rows) succeeded; rejects with its error otherwise. */
  add(chunk: Buffer, rows = 0): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.pending) this.pending = { chunks: [], bytes: 0, rows: 0, waiters: [] };
      const p = this.pending;
      p.chunks.push(chunk);
      p.bytes += chunk.length;
      p.rows += rows;
      p.waiters.push({ resolve, reject });
      if (this.running) return; // the running insert starts the next one when it ends
      if (p.bytes >= this.maxBytes || this.lingerMs === 0) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  /** Sends what is waiting now and resolves when nothing is left in flight. Never rejects. */
  async drain(): Promise<void> {
    this.flush();
    while (this.running) await this.running;
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || !this.pending) return;
    const batch = this.pending;
    this.pending = null;
    this.running = this.run(batch);
  }

  private async run(batch: Pending): Promise<void> {
    const started = performance.now();
    let error: unknown;
    let failed = false;
    try {
      await this.insert(batch.chunks);
    } catch (e) {
      failed = true;
      error = e;
    }
    if (this.observe) {
      const { waiters, rows, bytes } = batch;
      const durationMs = performance.now() - started;
      try {
        this.observe({ appends: waiters.length, rows, bytes, durationMs, ...(failed ? { error } : {}) });
      } catch {
        // an observer's failure never reaches the callers
      }
    }
    try {
      for (const w of batch.waiters) {
        if (failed) w.reject(error);
        else w.resolve();
      }
    } finally {
      this.running = null;
      if (this.pending) this.flush();
    }
  }
}
