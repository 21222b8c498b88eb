/**
 * Producer ids, never handed out twice across restarts: taken from blocks whose end is written to
 * `_kch_producer_ids` before any id of the block is used (a restart starts after the last block).
 *
 * Reading that table's end and writing a new one is not atomic, so two brokers on one database would
 * reserve the same block. With a Keeper (many brokers), the block is reserved by a compare-and-set of
 * the `producer_ids` counter of `_kch_cluster_counters` (./cluster-store.ts) instead, which starts no
 * lower than the table's end: ids do not go back when a database moves from one broker to many. The
 * block's end is still written to the table too, so they do not go back if it moves to one again.
 */
import type { Backend } from './backend.js';
import type { KeeperCounter } from './cluster-store.js';
import { PRODUCER_IDS_TABLE } from './schema.js';
import { producerIdBlockEnd } from './statements.js';
import { TsvWriter } from './tsv.js';

const RESERVE = 'reserve producer ids';

export class ProducerIds {
  private next = 0;
  private blockEnd = 0;
  private reserving: Promise<void> | null = null;
  /** Set by open() when brokers share the database through Keeper. */
  private shared: KeeperCounter | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly blockSize: number,
  ) {}

  /**
   * Goes on after the last block reserved: the table's, or with `shared` the counter's, which moves
   * while this broker runs, so every block is reserved from it afresh.
   */
  async open(shared: KeeperCounter | null): Promise<void> {
    this.shared = shared;
    this.blockEnd = shared ? 0 : await this.tableEnd();
    this.next = this.blockEnd;
  }

  async allocate(): Promise<number> {
    while (this.next >= this.blockEnd) {
      this.reserving ??= this.reserve().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
    return this.next++;
  }

  /** Writes the end of a new block of ids before any of it is handed out. */
  private async reserve(): Promise<void> {
    const start = this.shared
      ? await this.shared.reserve(RESERVE, this.blockSize, await this.tableEnd())
      : this.blockEnd;
    const end = start + this.blockSize;
    const w = new TsvWriter(64).int(end).newline();
    await this.backend.insertRows(RESERVE, PRODUCER_IDS_TABLE, ['block_end'], w);
    this.next = start;
    this.blockEnd = end;
  }

  private async tableEnd(): Promise<number> {
    const r = await this.backend.select(
      'read the reserved producer ids',
      producerIdBlockEnd(this.backend.database),
    );
    return r.i64();
  }
}
