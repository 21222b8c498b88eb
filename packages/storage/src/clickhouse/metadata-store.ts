/**
 * kch's metadata tables (./schema.ts): the migrations that make them, the lock that orders changes of
 * topics, the version clock of their rows, and the rows of topics and partitions.
 *
 * Rows are never updated in place: each change inserts a row with a higher version than any before
 * (microseconds of the clock, or one more than the last), and readers take the latest.
 */

import { StorageError, type TopicRecord } from '../storage.js';
import { Turns } from '../turns.js';
import type { Backend } from './backend.js';
import {
  MIGRATIONS,
  MIGRATIONS_TABLE,
  migrationsTableDdl,
  PARTITION_ROW_COLUMNS,
  PARTITIONS_TABLE,
  TOPIC_ROW_COLUMNS,
  TOPICS_TABLE,
} from './schema.js';
import { appliedMigrations, lastMetadataVersion, storedTopics } from './statements.js';
import type { OwnTable } from './topic-tables.js';
import { TsvWriter } from './tsv.js';

/** A topic as `_kch_topics` holds it, with the table kch made for it. */
export interface StoredTopic {
  record: TopicRecord;
  /** Its name is the topic's for topics stored before kch recorded table names; uuid '' when unknown. */
  own: OwnTable;
}

export class MetadataStore {
  private lastVersion = 0;
  private readonly topicChanges = new Turns();

  constructor(private readonly backend: Backend) {}

  /** Makes `_kch_migrations`, the first table of kch's in a database, if it is not there. */
  async createMigrationsTable(): Promise<void> {
    const b = this.backend;
    await b.command('create the migrations table', migrationsTableDdl(b.database, b.dialect));
  }

  /**
   * Applies the migrations this database lacks; refuses a database a newer kch has migrated. After
   * createMigrationsTable.
   */
  async migrate(): Promise<void> {
    const b = this.backend;
    const r = await b.select('read applied migrations', appliedMigrations(b.database));
    const applied = new Set<number>();
    while (!r.done) applied.add(r.u32());
    const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    const newer = [...applied].filter((v) => v > known);
    if (newer.length > 0) {
      throw new StorageError(
        'INVALID_REQUEST',
        `database ${b.database} has schema version ${Math.max(...newer)}, newer than this kch knows (${known}): upgrade kch`,
        false,
      );
    }
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      for (const sql of m.statements({ database: b.database, dialect: b.dialect })) {
        await b.command(`apply migration ${m.version} (${m.name})`, sql);
      }
      const w = new TsvWriter(256).int(m.version).tab().text(m.name).newline();
      await b.insertRows('record a migration', MIGRATIONS_TABLE, ['version', 'name'], w);
    }
  }

  /**
   * Reads the highest version stored, so that versions written from now on follow it: at open, and
   * before a change of topics when other brokers write rows too (their clocks may be ahead of ours).
   * Never lowers the clock: rows built here may not be stored yet.
   */
  async loadVersion(): Promise<void> {
    const r = await this.backend.select('read metadata versions', lastMetadataVersion(this.backend.database));
    this.lastVersion = Math.max(this.lastVersion, r.u64());
  }

  /** A version higher than every one written before, by this broker or an earlier one. */
  nextVersion(): number {
    this.lastVersion = Math.max(Date.now() * 1000, this.lastVersion + 1);
    return this.lastVersion;
  }

  /** Runs `f` after every change of topics begun before it has ended (creates, deletes, config changes). */
  withLock<T>(f: () => Promise<T>): Promise<T> {
    return this.topicChanges.run(f);
  }

  async loadTopics(): Promise<StoredTopic[]> {
    const r = await this.backend.select('list topics', storedTopics(this.backend.database));
    const topics: StoredTopic[] = [];
    while (!r.done) {
      const name = r.string();
      const topicId = r.string();
      const partitionCount = r.i32();
      const configs: Record<string, string> = {};
      for (let n = r.uvarint(); n > 0; n--) {
        const k = r.string();
        configs[k] = r.string();
      }
      const createdAt = r.i64();
      const tableName = r.string();
      const uuid = r.string();
      topics.push({
        record: { name, topicId, partitionCount, configs, createdAt },
        own: { name: tableName === '' ? name : tableName, uuid },
      });
    }
    return topics;
  }

  /** A new version of the topic's row: its record, and the identity of its own table (null if bound). */
  async storeTopic(topic: TopicRecord, deleted: boolean, own: OwnTable | null): Promise<void> {
    const w = new TsvWriter(1024);
    w.text(topic.name).tab().text(topic.topicId).tab().int(topic.partitionCount).tab().byte(0x5b);
    let first = true;
    for (const [k, v] of Object.entries(topic.configs)) {
      if (!first) w.byte(0x2c);
      first = false;
      w.byte(0x28).quotedText(k).byte(0x2c).quotedText(v).byte(0x29);
    }
    w.byte(0x5d)
      .tab()
      .int(topic.createdAt)
      .tab()
      .int(deleted ? 1 : 0)
      .tab()
      .int(this.nextVersion())
      .tab()
      .text(own?.name ?? '')
      .tab()
      .text(own?.uuid ?? '')
      .newline();
    await this.backend.insertRows(`store topic ${topic.name}`, TOPICS_TABLE, TOPIC_ROW_COLUMNS, w);
  }

  /** Adds a `_kch_partitions` row to `w`: a partition's log start marker and end, as of now. */
  partitionRow(w: TsvWriter, topicId: string, partition: number, marker: number, end: number): TsvWriter {
    return w
      .text(topicId)
      .tab()
      .int(partition)
      .tab()
      .int(marker)
      .tab()
      .int(end)
      .tab()
      .int(this.nextVersion())
      .newline();
  }

  /** Stores the `_kch_partitions` rows of `w`; failures become StorageErrors saying `what` failed. */
  storePartitionRows(what: string, w: TsvWriter): Promise<void> {
    return this.backend.insertRows(what, PARTITIONS_TABLE, PARTITION_ROW_COLUMNS, w);
  }
}
