/**
 * Idempotent producer state of one partition: the epoch and the last batches of each producer id, to
 * tell a new batch from a retried duplicate or a gap. The rules are Kafka's
 * (ProducerStateManager / ProducerAppendInfo.checkSequence).
 */
import { ErrorCode } from '@kch/protocol';
import { addSequence, PRODUCER_BATCHES_KEPT, type ProducerBatchInfo } from '@kch/storage';

export interface ProducerEntry {
  epoch: number;
  /** The last batches of the current epoch, oldest first. */
  batches: ProducerBatchInfo[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; original: ProducerBatchInfo }
  | { kind: 'error'; errorCode: number; message: string };

export interface SequencedBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
}

export class ProducerStateTable {
  private readonly entries = new Map<number, ProducerEntry>();

  /** With a base, this is a working copy: entries are copied from the base on first use. */
  constructor(private base?: ProducerStateTable) {}

  /**
   * Makes a working copy look through `base` instead: for a copy over another working copy whose
   * entries were just merged into `base` (so both say the same), which keeps chains of copies short.
   */
  rebase(base: ProducerStateTable): void {
    if (this.base) this.base = base;
  }

  /** Rebuilds the table from what storage recovered, keeping only each producer's latest epoch. */
  load(batches: readonly ProducerBatchInfo[]): void {
    this.entries.clear();
    for (const b of batches) this.record(b);
  }

  get(producerId: number): ProducerEntry | undefined {
    let entry = this.entries.get(producerId);
    if (!entry && this.base) {
      const b = this.base.get(producerId);
      if (b) {
        entry = { epoch: b.epoch, batches: [...b.batches] };
        this.entries.set(producerId, entry);
      }
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }

  producerIds(): IterableIterator<[number, ProducerEntry]> {
    return this.entries.entries();
  }

  /** Checks a batch against the state (in a working copy: including batches accepted earlier in the same commit). */
  check(batch: SequencedBatch): SequenceCheck {
    const entry = this.get(batch.producerId);
    if (!entry) return { kind: 'append' }; // unknown producer: Kafka accepts any sequence
    if (batch.producerEpoch < entry.epoch) {
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than the current epoch ${entry.epoch}: a newer producer with this id has fenced this one`,
      };
    }
    if (batch.producerEpoch > entry.epoch) {
      if (batch.baseSequence !== 0) {
        return {
          kind: 'error',
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `invalid sequence ${batch.baseSequence} for new epoch ${batch.producerEpoch} of producer ${batch.producerId}: a new epoch starts at 0`,
        };
      }
      return { kind: 'append' };
    }
    for (const b of entry.batches) {
      if (b.baseSequence === batch.baseSequence && b.lastSequence === batch.lastSequence) {
        return { kind: 'duplicate', original: b };
      }
    }
    const last = entry.batches[entry.batches.length - 1];
    if (last && batch.baseSequence !== addSequence(last.lastSequence, 1)) {
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `out of order sequence for producer ${batch.producerId}: expected ${addSequence(last.lastSequence, 1)}, got ${batch.baseSequence}`,
      };
    }
    return { kind: 'append' };
  }

  /** Records an appended batch; a newer epoch replaces what was known of the older one. */
  record(info: ProducerBatchInfo): void {
    let entry = this.get(info.producerId);
    if (!entry || info.producerEpoch > entry.epoch) {
      entry = { epoch: info.producerEpoch, batches: [] };
      this.entries.set(info.producerId, entry);
    } else if (info.producerEpoch < entry.epoch) {
      return;
    }
    entry.batches.push(info);
    if (entry.batches.length > PRODUCER_BATCHES_KEPT) entry.batches.shift();
  }

  /**
   * Records a transaction marker of the producer: a marker of a newer epoch (the coordinator fenced
   * the producer) starts that epoch with no batches, so the fenced producer's writes are refused and
   * the next one starts at sequence 0 (Kafka's ProducerStateEntry.maybeUpdateProducerEpoch).
   */
  recordMarker(producerId: number, producerEpoch: number): void {
    const entry = this.get(producerId);
    if (!entry || producerEpoch > entry.epoch)
      this.entries.set(producerId, { epoch: producerEpoch, batches: [] });
  }

  /** A working copy for one group commit; `merge` it back once its batches are stored. */
  overlay(): ProducerStateTable {
    return new ProducerStateTable(this);
  }

  /** Takes the entries of a working copy after its batches were stored. */
  merge(overlay: ProducerStateTable): void {
    for (const [id, e] of overlay.entries) this.entries.set(id, e);
  }
}
