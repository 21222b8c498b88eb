/**
 * Producer ids, never handed out twice across restarts: taken from blocks whose end is written to
 * `_kch_producer_ids` before any id of the block is used (a restart starts after the last block).
 */
import type { Backend } from './backend.js';
import { PRODUCER_IDS_TABLE } from './schema.js';
import { producerIdBlockEnd } from './statements.js';
import { TsvWriter } from './tsv.js';

export class ProducerIds {
  private next = 0;
  private blockEnd = 0;
  private reserving: Promise<void> | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly blockSize: number,
  ) {}

  /** Goes on after the last block reserved. */
  async open(): Promise<void> {
    const r = await this.backend.select(
      'read the reserved producer ids',
      producerIdBlockEnd(this.backend.database),
    );
    this.blockEnd = r.i64();
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
    const end = this.blockEnd + this.blockSize;
    const w = new TsvWriter(64).int(end).newline();
    await this.backend.insertRows('reserve producer ids', PRODUCER_IDS_TABLE, ['block_end'], w);
    this.next = this.blockEnd;
    this.blockEnd = end;
  }
}
