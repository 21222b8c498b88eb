/**
 * Ends a decided transaction everywhere it wrote (Kafka's TransactionMarkerChannelManager): a COMMIT
 * or ABORT marker in each of its partitions, and on commit its pending offsets into their groups.
 * Whatever fails is tried again, with a growing pause, until everything is written; then the
 * coordinator stores the transaction complete. A broker killed on the way starts over from the
 * stored PrepareCommit/PrepareAbort: a marker written twice is harmless (the second finds no open
 * transaction), offsets committed twice are the same offsets.
 */
import type { CommittedOffset, TransactionMetadata } from '@kch/storage';
import type { PartitionLog } from '../log/partition-log.js';
import type { Logger } from '../logger.js';

/** Where markers and offsets go. */
export interface MarkerTargets {
  /** The partition's log, or undefined when its topic or partition no longer exists. */
  log(topic: string, partition: number): PartitionLog | undefined;
  /** Stores a committed transaction's offsets of a group as its committed offsets. */
  commitOffsets(group: string, offsets: readonly CommittedOffset[]): Promise<void>;
}

/** The coordinator epoch markers carry: one coordinator, never moved (many brokers: by slot, later). */
export const COORDINATOR_EPOCH = 0;

const FIRST_RETRY_MS = 50;
const LAST_RETRY_MS = 5_000;

export class MarkerWriter {
  /** Transactions whose markers are being written, so that one is never written by two loops. */
  private readonly writing = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly targets: MarkerTargets,
    private readonly logger: Logger,
    /** Stores the transaction complete; resolves false when that failed (it is tried again). */
    private readonly complete: (transactionalId: string) => Promise<boolean>,
  ) {}

  /**
   * Starts writing the markers of a PrepareCommit or PrepareAbort transaction; resolves once they are
   * written and the transaction is stored complete (or the writer stopped).
   */
  write(m: TransactionMetadata): Promise<void> {
    const running = this.writing.get(m.transactionalId);
    if (running) return running;
    const run = this.run(m)
      .catch((e: unknown) =>
        this.logger.error('transaction markers not written', {
          transactionalId: m.transactionalId,
          error: e,
        }),
      )
      .finally(() => this.writing.delete(m.transactionalId));
    this.writing.set(m.transactionalId, run);
    return run;
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(m: TransactionMetadata): Promise<void> {
    const commit = m.state === 'PrepareCommit';
    let partitions = [...m.partitions];
    let groups = commit ? [...m.groups] : [];
    let pause = FIRST_RETRY_MS;
    for (;;) {
      if (this.stopped) return;
      const failures: unknown[] = [];
      const written = await Promise.all(
        partitions.map(async (tp) => {
          const log = this.targets.log(tp.topic, tp.partition);
          // A deleted topic takes the transaction's records with it: nothing to end there.
          if (!log) return true;
          try {
            await log.appendMarker(m.producerId, m.producerEpoch, commit, COORDINATOR_EPOCH);
            return true;
          } catch (e) {
            failures.push(e);
            return false;
          }
        }),
      );
      partitions = partitions.filter((_, i) => !written[i]);
      const committed = await Promise.all(
        groups.map((g) =>
          this.targets.commitOffsets(g.group, g.offsets).then(
            () => true,
            (e: unknown) => {
              failures.push(e);
              return false;
            },
          ),
        ),
      );
      groups = groups.filter((_, i) => !committed[i]);
      if (partitions.length === 0 && groups.length === 0 && (await this.complete(m.transactionalId))) return;
      if (failures.length > 0)
        this.logger.warn('transaction markers not all written yet; trying again', {
          transactionalId: m.transactionalId,
          partitions: partitions.map((tp) => `${tp.topic}-${tp.partition}`),
          groups: groups.map((g) => g.group),
          error: failures[0],
        });
      await new Promise((resolve) => setTimeout(resolve, pause).unref?.());
      pause = Math.min(pause * 2, LAST_RETRY_MS);
    }
  }
}
