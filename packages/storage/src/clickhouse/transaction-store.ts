/**
 * The storage's TransactionStore: the transaction coordinator's state in `_kch_transactions`
 * (./schema.ts, migration 5), one row per transactional id.
 *
 * As every metadata table: a put inserts a row with a newer version (MetadataStore's clock, so it
 * orders with every other metadata row, also across restarts), a removal a row marked deleted, and a
 * list reads the latest row of each id (FINAL), also what another broker over the database wrote.
 * Writes are inserted at once, in the order they were called: the coordinator writes a state before it
 * acts on it.
 */
import {
  type CommittedOffset,
  StorageError,
  type TopicPartition,
  TRANSACTION_STATE_NAMES,
  type TransactionGroupOffsets,
  type TransactionMetadata,
  type TransactionStateName,
  type TransactionStore,
} from '../storage.js';
import { readCommittedOffset } from './committed-offsets.js';
import { OrderedStore } from './ordered-store.js';
import type { RowBinaryReader } from './rowbinary.js';
import { TRANSACTION_ROW_COLUMNS, TRANSACTIONS_TABLE } from './schema.js';
import { storedTransactions } from './statements.js';
import { TsvWriter } from './tsv.js';

const NULL_BYTES = Buffer.from('NULL', 'latin1');

const STATES: readonly string[] = TRANSACTION_STATE_NAMES;

/** The row of a removed id: its fields empty. */
function removed(transactionalId: string): TransactionMetadata {
  return {
    transactionalId,
    producerId: -1,
    previousProducerId: -1,
    producerEpoch: -1,
    lastProducerEpoch: -1,
    timeoutMs: 0,
    state: 'Empty',
    partitions: [],
    groups: [],
    startedAt: -1,
    updatedAt: -1,
  };
}

export class ClickHouseTransactionStore extends OrderedStore implements TransactionStore {
  async list(): Promise<TransactionMetadata[]> {
    this.backend.checkOpen();
    const r = await this.backend.select('list transactions', storedTransactions(this.backend.database));
    const out: TransactionMetadata[] = [];
    while (!r.done) {
      const transactionalId = r.string();
      const producerId = r.i64();
      const producerEpoch = r.i16();
      const state = r.string();
      const timeoutMs = r.i64();
      const startedAt = r.i64();
      const updatedAt = r.i64();
      const previousProducerId = r.i64();
      const lastProducerEpoch = r.i16();
      const partitions = readPartitions(r);
      const groups = readGroups(r);
      // A state this kch does not know (a newer one wrote it) is not one it can resume.
      if (!STATES.includes(state)) continue;
      out.push({
        transactionalId,
        producerId,
        previousProducerId,
        producerEpoch,
        lastProducerEpoch,
        timeoutMs,
        state: state as TransactionStateName,
        partitions,
        groups,
        startedAt,
        updatedAt,
      });
    }
    return out;
  }

  put(state: TransactionMetadata): Promise<void> {
    for (const [value, min, max, what] of [
      [state.producerEpoch, -1, 32767, 'a producer epoch'],
      [state.lastProducerEpoch, -1, 32767, 'a producer epoch'],
    ] as const) {
      if (!Number.isInteger(value) || value < min || value > max)
        throw new StorageError(
          'INVALID_REQUEST',
          `${what} must be an integer from ${min} to ${max}, not ${value}`,
          false,
        );
    }
    return this.store(`store the transaction of ${state.transactionalId}`, state, false);
  }

  remove(transactionalId: string): Promise<void> {
    return this.store(`remove the transaction of ${transactionalId}`, removed(transactionalId), true);
  }

  /** Writes one row, after the writes called before it. */
  private store(what: string, s: TransactionMetadata, deleted: boolean): Promise<void> {
    return this.write(async () => {
      const w = new TsvWriter(512);
      w.text(s.transactionalId).tab().int(s.producerId).tab().int(s.producerEpoch).tab();
      w.text(s.state).tab().int(s.timeoutMs).tab().int(s.startedAt).tab().int(s.updatedAt).tab();
      w.int(s.previousProducerId).tab().int(s.lastProducerEpoch).tab();
      writePartitions(w, s.partitions);
      w.tab();
      writeGroups(w, s.groups);
      w.tab()
        .int(deleted ? 1 : 0)
        .tab()
        .int(this.metadata.nextVersion())
        .newline();
      await this.backend.insertRows(what, TRANSACTIONS_TABLE, TRANSACTION_ROW_COLUMNS, w);
    });
  }
}

/** `Array(Tuple(topic String, partition Int32))` as TabSeparated. */
function writePartitions(w: TsvWriter, partitions: readonly TopicPartition[]): void {
  w.byte(0x5b); // [
  partitions.forEach((p, i) => {
    if (i > 0) w.byte(0x2c);
    w.byte(0x28).quotedText(p.topic).byte(0x2c).int(p.partition).byte(0x29);
  });
  w.byte(0x5d); // ]
}

/** The groups and their pending offsets, as the `groups` column's nested tuples. */
function writeGroups(w: TsvWriter, groups: readonly TransactionGroupOffsets[]): void {
  w.byte(0x5b);
  groups.forEach((g, i) => {
    if (i > 0) w.byte(0x2c);
    w.byte(0x28).quotedText(g.group).byte(0x2c).byte(0x5b);
    g.offsets.forEach((o, j) => {
      if (j > 0) w.byte(0x2c);
      w.byte(0x28).quotedText(o.topic).byte(0x2c).int(o.partition).byte(0x2c).int(o.offset).byte(0x2c);
      w.int(o.leaderEpoch).byte(0x2c);
      if (o.metadata === null) w.raw(NULL_BYTES);
      else w.quotedText(o.metadata);
      w.byte(0x2c).int(o.commitTimestamp).byte(0x29);
    });
    w.byte(0x5d).byte(0x29);
  });
  w.byte(0x5d);
}

function readPartitions(r: RowBinaryReader): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (let n = r.uvarint(); n > 0; n--) out.push({ topic: r.string(), partition: r.i32() });
  return out;
}

function readGroups(r: RowBinaryReader): TransactionGroupOffsets[] {
  const out: TransactionGroupOffsets[] = [];
  for (let n = r.uvarint(); n > 0; n--) {
    const group = r.string();
    const offsets: CommittedOffset[] = [];
    for (let m = r.uvarint(); m > 0; m--) offsets.push(readCommittedOffset(r));
    out.push({ group, offsets });
  }
  return out;
}
