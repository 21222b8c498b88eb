/** The listeners of `ClickHouseStorage.onFlush`, told about every group-commit insert (for metrics). */
import type { FlushStats } from '../storage.js';
import type { FlushObservation } from './flusher.js';

export class FlushReports {
  private readonly listeners = new Set<(stats: FlushStats) => void>();

  /** Returns a function that removes the listener. */
  add(listener: (stats: FlushStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  report(kind: FlushStats['kind'], topic: string | undefined, o: FlushObservation): void {
    if (this.listeners.size === 0) return;
    const stats: FlushStats = {
      kind,
      ...(topic !== undefined ? { topic } : {}),
      appends: o.appends,
      rows: o.rows,
      bytes: o.bytes,
      durationMs: o.durationMs,
      queuedMs: o.queuedMs,
      ok: !('error' in o),
    };
    for (const l of this.listeners) {
      try {
        l(stats);
      } catch {
        // a metrics listener never breaks a write
      }
    }
  }
}
