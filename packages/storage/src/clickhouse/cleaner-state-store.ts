/**
 * The storage's CleanerStateStore: the log cleaner's state of each partition in `_kch_cleaner_states`
 * (./schema.ts, migration 7), one row per cleaning; the latest row of a partition wins (FINAL), so a
 * broker that leads the partition after a restart, or after another broker, reads where it was cleaned.
 */
import type { CleanerState, CleanerStateStore, TopicPartition } from '../storage.js';
import { OrderedStore } from './ordered-store.js';
import { CLEANER_STATE_ROW_COLUMNS, CLEANER_STATES_TABLE } from './schema.js';
import { storedCleanerState } from './statements.js';
import { TsvWriter } from './tsv.js';

export class ClickHouseCleanerStateStore extends OrderedStore implements CleanerStateStore {
  async get(tp: TopicPartition): Promise<CleanerState | null> {
    this.backend.checkOpen();
    const r = await this.backend.select(
      `read the cleaner state of ${tp.topic}-${tp.partition}`,
      storedCleanerState(this.backend.database, tp.topic, tp.partition),
    );
    if (r.done) return null;
    const topicId = r.string();
    const cleanedTo = r.i64();
    const tombstonesBefore = r.i64();
    const passes: CleanerState['passes'] = [];
    for (let n = r.uvarint(); n > 0; n--) passes.push({ cleanedTo: r.i64(), at: r.i64() });
    return { topicId, cleanedTo, tombstonesBefore, passes };
  }

  put(tp: TopicPartition, s: CleanerState): Promise<void> {
    return this.write(async () => {
      const w = new TsvWriter(256 + 40 * s.passes.length);
      w.text(tp.topic).tab().int(tp.partition).tab().text(s.topicId).tab();
      w.int(s.cleanedTo).tab().int(s.tombstonesBefore).tab();
      w.byte(0x5b); // [
      s.passes.forEach((p, i) => {
        if (i > 0) w.byte(0x2c);
        w.byte(0x28).int(p.cleanedTo).byte(0x2c).int(p.at).byte(0x29);
      });
      w.byte(0x5d).tab().int(this.metadata.nextVersion()).newline();
      const what = `store the cleaner state of ${tp.topic}-${tp.partition}`;
      await this.backend.insertRows(what, CLEANER_STATES_TABLE, CLEANER_STATE_ROW_COLUMNS, w);
    });
  }
}
