/**
 * The topics of the storage: created, altered and deleted under the metadata lock, each with its
 * table, which is kch's own (./topic-tables.ts: created only where no object has the name, dropped
 * only while it is still the one kch made) or a user's table the topic is bound to (never created,
 * altered or dropped). `retention.ms` is the TTL of kch's own tables.
 *
 * Also the way in to a partition for every read and write: the topic must be usable, its table there,
 * and the partition's state recovered and clean (./partition-states.ts).
 */

import {
  type ClusterStore,
  StorageError,
  type TopicDeletion,
  type TopicPartition,
  type TopicRecord,
} from '../storage.js';
import { KeyedTurns } from '../turns.js';
import type { Backend } from './backend.js';
import { type Binding, type BoundSchema, bindingOf, TABLE_CONFIG } from './bound-table.js';
import type { BoundTopics } from './bound-topics.js';
import type { CommittedOffsets } from './committed-offsets.js';
import type { MetadataStore } from './metadata-store.js';
import type { PartitionStates } from './partition-states.js';
import {
  DEFAULT_TOPIC_TABLE_SETTINGS,
  RESERVED_PREFIX,
  retentionOf,
  type TableSettings,
  topicTableDdl,
  ttlExpression,
} from './schema.js';
import { tableName } from './sql.js';
import { knownMergeTreeSettings, modifyTtl, removeTtl } from './statements.js';
import { type Claim, TopicClaims, type TopicRow } from './topic-claims.js';
import type { TopicDefaults } from './topic-defaults.js';
import {
  boundTopic,
  type PartitionState,
  type TopicState,
  unknownPartition,
  unknownTopic,
} from './topic-state.js';
import {
  isOwnTable,
  isTopicTableEngine,
  type OwnTable,
  objectKind,
  sqlName,
  type TableObject,
  type TopicTables,
  tableReplacedError,
  topicTableComment,
  topicTableName,
} from './topic-tables.js';
import { backendFailure } from './transport.js';

/** ClickHouse's BAD_ARGUMENTS, which REMOVE TTL answers for a table without TTL. */
const BAD_ARGUMENTS = 36;
/** Rows written again at most after one change, when the claim moved on meanwhile (see storeShared). */
const REWRITES = 8;

/** A row written to `_kch_topics` and the version of the claim it copies (see storeShared). */
interface Written {
  row: TopicRow;
  deleted: boolean;
  version: number;
}

export class TopicCatalog {
  private readonly topics = new Map<string, TopicState>();
  /** MergeTree settings of the topic tables this storage creates (resolved on open). */
  private tableSettings: TableSettings = {};
  private readonly claims: TopicClaims;
  /**
   * Ids of topics another broker won the deletion of, whose rows may still be listed (the winner
   * writes its deletion row after dropping the table): left out of the catalog until they are not.
   */
  private readonly deletedElsewhere = new Set<string>();

  constructor(
    private readonly backend: Backend,
    private readonly metadata: MetadataStore,
    private readonly tables: TopicTables,
    private readonly bound: BoundTopics,
    private readonly states: PartitionStates,
    private readonly offsets: CommittedOffsets,
    private readonly defaults: TopicDefaults,
    private readonly deduplicationWindow: number,
    /** The storage's cluster store, set on open; with many brokers, topics are shared (see reload). */
    private readonly cluster: () => ClusterStore | undefined = () => undefined,
    staleClaimMs?: number,
  ) {
    this.claims = new TopicClaims(staleClaimMs);
  }

  /** The cluster store when other brokers may change topics too, else undefined. */
  private shared(): ClusterStore | undefined {
    const c = this.cluster();
    return c?.manyBrokers ? c : undefined;
  }

  /** Settles the settings of new topic tables: the configured ones, or kch's defaults this ClickHouse knows. */
  async open(configured: TableSettings | undefined): Promise<void> {
    this.tableSettings = configured ?? (await this.knownSettings(DEFAULT_TOPIC_TABLE_SETTINGS));
    await this.tables.open();
  }

  /** The settings of `settings` this ClickHouse knows (an older server may lack some). */
  private async knownSettings(settings: TableSettings): Promise<TableSettings> {
    const names = Object.keys(settings);
    if (names.length === 0) return settings;
    const r = await this.backend.select('read MergeTree settings', knownMergeTreeSettings(names));
    const known = new Set<string>();
    while (!r.done) known.add(r.string());
    return Object.fromEntries(Object.entries(settings).filter(([name]) => known.has(name)));
  }

  async load(): Promise<void> {
    this.topics.clear();
    for (const { record, own } of await this.metadata.loadTopics()) this.add(record, undefined, own);
  }

  /**
   * Reads the topics again when other brokers may have changed them (many brokers over the database),
   * after the changes of this storage begun before it. A single broker's catalog is always current.
   */
  async refresh(): Promise<void> {
    if (!this.shared()) return;
    await this.metadata.withLock(() => this.reconcile());
  }

  /**
   * Brings the catalog to the stored topics, keeping the state of every topic whose identity did not
   * change (its partitions' recovered state, its group commit): a topic another broker created is
   * added, one it deleted dropped, one deleted and created again (another id) or moved to another
   * table replaced; a partition count never goes back (a row written late by a broker that raised it
   * less than another did is superseded, see ./topic-claims.ts).
   */
  private async reconcile(): Promise<void> {
    const stored = await this.metadata.loadTopics();
    const names = new Set<string>();
    const ids = new Set(stored.map((s) => s.record.topicId));
    for (const id of this.deletedElsewhere) if (!ids.has(id)) this.deletedElsewhere.delete(id);
    for (const { record, own } of stored) {
      if (this.deletedElsewhere.has(record.topicId)) continue;
      names.add(record.name);
      const t = this.topics.get(record.name);
      if (!t || t.record.topicId !== record.topicId || this.tableChanged(t, record, own)) {
        this.add(record, undefined, own);
        continue;
      }
      const binding = bindingOf(record.configs, this.backend.database);
      // Same table, another format: values are read as such from now on.
      if (t.bound && binding && t.bound.binding.format !== binding.format) t.bound = boundTopic(binding);
      t.record = { ...record, partitionCount: Math.max(record.partitionCount, t.record.partitionCount) };
    }
    for (const name of [...this.topics.keys()]) if (!names.has(name)) this.topics.delete(name);
  }

  /** Whether another broker moved the topic to another table (a binding, or its own table made again). */
  private tableChanged(t: TopicState, record: TopicRecord, own: OwnTable): boolean {
    let binding: Binding | null;
    try {
      binding = bindingOf(record.configs, this.backend.database);
    } catch {
      return t.unusable === null;
    }
    if ((t.bound?.binding.quoted ?? null) !== (binding?.quoted ?? null)) return true;
    if (binding || !t.own) return false;
    return t.own.name !== own.name || (own.uuid !== '' && t.own.uuid !== own.uuid);
  }

  /** Before a change of topics by this storage: the topics as stored, and a version clock past theirs. */
  private async catchUp(): Promise<ClusterStore | undefined> {
    const cluster = this.shared();
    if (cluster) {
      await this.reconcile();
      await this.metadata.loadVersion();
    }
    return cluster;
  }

  /**
   * Checks at open that each topic's own table is still the one kch created. A table missing is
   * created again on first use; one that is not kch's makes the topic unusable (never written, read
   * or dropped). Tables of topics stored before kch recorded identities are adopted when they have a
   * topic table's columns (so they are what kch made), and refused otherwise.
   */
  async checkOwnTables(): Promise<void> {
    const own = [...this.topics.values()].filter((t) => t.own !== null && t.unusable === null);
    const objects = await this.tables.objectsNamed(own.map((t) => t.own!.name));
    const legacy = own.filter((t) => t.own!.uuid === '' && objects.has(t.own!.name));
    const shaped = await this.tables.topicShaped(legacy.map((t) => t.own!.name));
    for (const t of own) {
      const o = objects.get(t.own!.name);
      if (!o) t.tableMissing = true;
      else if (t.own!.uuid === '' && isTopicTableEngine(o.engine) && shaped.has(o.name))
        await this.recordOwnTable(t, await this.tables.adopt(t.record.name, o)).catch((e) => {
          // Another broker deleted the topic since its row was read: the next look drops it.
          if (!(e instanceof StorageError && e.kind === 'UNKNOWN_TOPIC_OR_PARTITION')) throw e;
        });
      else if (!isOwnTable(o, t.own!, t.record.name))
        t.unusable = tableReplacedError(this.backend.database, t.record.name, o);
    }
  }

  private add(record: TopicRecord, schema?: BoundSchema, own?: OwnTable): TopicState {
    let binding: Binding | null = null;
    let unusable: StorageError | null = null;
    try {
      binding = bindingOf(record.configs, this.backend.database);
    } catch (e) {
      unusable = e as StorageError;
    }
    const ownTable = binding || unusable ? null : (own ?? { name: record.name, uuid: '' });
    const state: TopicState = {
      record,
      table: binding ? binding.quoted : tableName(this.backend.database, ownTable?.name ?? record.name),
      own: ownTable,
      partitions: new Map(),
      fences: new Map(),
      locks: new KeyedTurns(),
      flusher: null,
      bytesPerRecord: 256,
      tableMissing: false,
      verifyTable: false,
      bound: binding ? boundTopic(binding, schema) : null,
      unusable,
    };
    this.topics.set(record.name, state);
    return state;
  }

  all(): IterableIterator<TopicState> {
    return this.topics.values();
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  topicOf(name: string): TopicState {
    const t = this.topics.get(name);
    if (!t) throw unknownTopic(name);
    return t;
  }

  /** Where the topic's records are, as SQL names it: `kafka.orders`, or the table it is bound to. */
  location(topic: string): string | null {
    const t = this.topics.get(topic);
    if (!t) return null;
    if (t.bound) return sqlName(t.bound.binding.database, t.bound.binding.table);
    return t.own ? sqlName(this.backend.database, t.own.name) : null;
  }

  async create(topic: TopicRecord): Promise<void> {
    if (!topic.name || topic.name.includes('\u0000') || topic.name.startsWith(RESERVED_PREFIX)) {
      throw new StorageError(
        'INVALID_TOPIC',
        `topic name ${JSON.stringify(topic.name)} is reserved: names starting with ${RESERVED_PREFIX} are kch's metadata tables; choose another name`,
        false,
      );
    }
    const retention = retentionOf(this.defaults.effective(topic.configs));
    const binding = bindingOf(topic.configs, this.backend.database);
    await this.metadata.withLock(async () => {
      const cluster = await this.catchUp();
      if (this.topics.has(topic.name))
        throw new StorageError('TOPIC_EXISTS', `topic ${topic.name} already exists`);
      // With other brokers: the name is ours once claimed, before its table is made (two creations of
      // one name would otherwise share a table and leave two rows, two topic ids, one after the other).
      const claimed = cluster ? await this.claims.create(cluster, topic) : 0;
      try {
        // A bound topic's table is the user's: checked, never created (nor TTL'd, nor dropped).
        const schema = binding ? await this.bound.bind(binding, topic.name, this.topics.values()) : undefined;
        const own = binding
          ? undefined
          : await this.createOwnTable(
              topic.name,
              topicTableName(topic.name, this.tables.maxNameLength),
              retention,
            );
        const row = { record: topic, own: own ?? null };
        if (!cluster) await this.metadata.storeTopic(topic, false, row.own);
        else await this.confirmCreation(cluster, row, claimed);
        this.add(structuredClone(topic), schema, own);
      } catch (e) {
        if (cluster) await this.claims.release(cluster, topic);
        throw e;
      }
    });
  }

  /**
   * Writes the row of a topic this storage claimed at version `claimed`, unless the claim was taken
   * over meanwhile (this creation stalled past the stale time, ./topic-claims.ts): nothing is then
   * written over the topic that has the name now. The table made here stays: the creation that took
   * the name over adopts an empty table left by a creation of the name (./topic-tables.ts), so it may
   * be that topic's table by now; if not, the next creation of the name adopts it.
   */
  private async confirmCreation(cluster: ClusterStore, row: TopicRow, claimed: number): Promise<void> {
    const version = await this.claims.confirm(cluster, row, claimed);
    if (version === null) {
      throw new StorageError(
        'UNAVAILABLE',
        `creating topic ${row.record.name} took so long that another broker took the name over; the client may retry`,
        true,
      );
    }
    await this.storeShared(cluster, { row, deleted: false, version });
  }

  /**
   * Creates the table of a topic in kch's own tables, named by ./topic-tables.ts's rule, where no
   * object has that name (INVALID_TOPIC otherwise), and returns its identity.
   */
  private async createOwnTable(topic: string, name: string, retention: number | null): Promise<OwnTable> {
    const ddl = topicTableDdl(
      this.backend.database,
      name,
      retention,
      this.deduplicationWindow,
      this.tableSettings,
      topicTableComment(topic),
      this.backend.dialect,
    );
    const ownedByAnother = [...this.topics.values()].some(
      (u) => u.own?.name === name && u.record.name !== topic,
    );
    return this.tables.create(topic, name, ddl, ownedByAnother);
  }

  async delete(name: string): Promise<TopicDeletion | undefined> {
    return this.metadata.withLock(async () => {
      const cluster = await this.catchUp();
      const t = this.topicOf(name);
      // With other brokers: one of two deletions wins the topic's claim; the other finds it unknown.
      if (cluster && !(await this.claims.delete(cluster, t.record))) {
        this.deletedElsewhere.add(t.record.topicId);
        await this.reconcile();
        throw unknownTopic(name);
      }
      await t.flusher?.drain();
      let kept: TableObject | null = null;
      // Unbinding: the table and its rows stay, they are the user's.
      if (t.bound) await this.bound.drain(t.table);
      else if (t.own) kept = await this.tables.dropOwn(name, t.own);
      const row = { record: t.record, own: t.own };
      if (cluster) await this.storeShared(cluster, { row, deleted: true, version: 0 });
      else await this.metadata.storeTopic(t.record, true, t.own);
      this.topics.delete(name);
      await this.offsets.deleteTopic(name);
      if (!kept) return undefined;
      const kind = objectKind(kept.engine);
      return {
        kept: `${sqlName(this.backend.database, kept.name)} was left in place: it is a ${kind} kch did not create for topic ${name} (it was dropped and made again outside kch), so kch did not drop it`,
      };
    });
  }

  async setPartitionCount(name: string, partitionCount: number): Promise<void> {
    await this.metadata.withLock(async () => {
      await this.catchUp();
      const t = this.topicOf(name);
      if (partitionCount <= t.record.partitionCount) return;
      // Raised on the row as the claim holds it: another broker may have raised it further already.
      await this.change(t, (row) =>
        row.record.partitionCount >= partitionCount
          ? null
          : { ...row, record: { ...row.record, partitionCount } },
      );
    });
  }

  /**
   * Changes a topic's row. With other brokers, by compare-and-set on the topic's claim over the whole
   * row (./topic-claims.ts), made on the row the claim holds: a config change and a partition raise
   * at once both land, whatever each broker's view was. `change` returns null when there is nothing
   * to change. The topic's state takes the row it has now (a partition count never goes back).
   */
  private async change(t: TopicState, change: (row: TopicRow) => TopicRow | null): Promise<void> {
    const cluster = this.shared();
    const base = { record: t.record, own: t.own };
    if (!cluster) {
      const next = change(base);
      if (!next) return;
      await this.metadata.storeTopic(next.record, false, next.own);
      t.record = structuredClone(next.record);
      return;
    }
    const { row, version } = await this.claims.update(cluster, base, change);
    if (version !== null) await this.storeShared(cluster, { row, deleted: false, version });
    const partitionCount = Math.max(row.record.partitionCount, t.record.partitionCount);
    t.record = { ...structuredClone(row.record), partitionCount };
  }

  /**
   * Writes a row that copies the topic's claim, so that the latest row of the name ends as the claim's
   * latest even when rows of several brokers land out of order. The version clock is read again first
   * (another broker's clock may be ahead), so the row is later than every row that landed before.
   * A row that lands later (another broker's, written from an older claim) was written by a broker
   * that reads the claim after its insert, here: finding the claim moved on since what it wrote, it
   * writes the claim's row again (also another topic's that took the name over, or a deletion). If
   * it finds the claim unchanged, every later change of the claim is written after its row landed.
   */
  private async storeShared(cluster: ClusterStore, write: Written): Promise<void> {
    let w: Written | null = write;
    for (let n = 0; w && n < REWRITES; n++) {
      await this.metadata.loadVersion();
      await this.metadata.storeTopic(w.row.record, w.deleted, w.row.own);
      w = newerThan(await this.claims.read(cluster, w.row.record.name), w);
    }
  }

  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const retention = retentionOf(this.defaults.effective(configs));
    const binding = bindingOf(configs, this.backend.database);
    await this.metadata.withLock(async () => {
      await this.catchUp();
      const t = this.topicOf(name);
      const rebinds = (t.bound?.binding.quoted ?? null) !== (binding?.quoted ?? null);
      if (rebinds) {
        await this.rebind(t, binding, retention);
      } else if (t.bound && binding && t.bound.binding.format !== binding.format) {
        // Same table, another format: new values are read as such; read the columns again.
        t.bound = boundTopic(binding);
      } else if (!t.bound) {
        // retention.ms is the TTL of kch's own tables only; a user's table keeps its own TTL.
        const before = ttlExpression(retentionOf(this.defaults.effective(t.record.configs)));
        const after = ttlExpression(retention);
        if (before !== after) await this.setTtl(t, after);
      }
      // The configs replace the claim's; its partition count stays whatever another broker raised it to.
      const own = t.own;
      await this.change(t, (row) => ({
        record: { ...row.record, configs: { ...configs } },
        own: rebinds ? own : row.own,
      }));
    });
  }

  /**
   * Applies the broker's defaults of retention.ms and cleanup.policy (Storage.setTopicDefaults): to
   * topics made from now on, and to the TTL of each own table whose topic does not set them itself.
   */
  async setDefaults(defaults: Readonly<Record<string, string>>): Promise<void> {
    await this.metadata.withLock(async () => {
      await this.catchUp();
      const ttlOf = (t: TopicState) => ttlExpression(retentionOf(this.defaults.effective(t.record.configs)));
      const own = [...this.topics.values()].filter((t) => !t.bound && t.own && t.unusable === null);
      const before = new Map(own.map((t) => [t, ttlOf(t)]));
      this.defaults.set(defaults);
      for (const t of own) {
        const after = ttlOf(t);
        // A missing table gets the TTL when it is made again (ensureTable).
        if (after !== before.get(t) && !t.tableMissing) await this.setTtl(t, after);
      }
    });
  }

  private async setTtl(t: TopicState, ttl: string | null): Promise<void> {
    const what = `change the TTL of topic ${t.record.name}`;
    if (ttl !== null) {
      await this.backend.command(what, modifyTtl(t.table, ttl, this.backend.dialect), t);
      return;
    }
    try {
      await this.backend.t.command(removeTtl(t.table, this.backend.dialect));
    } catch (e) {
      const f = backendFailure(e);
      // The table has no TTL, which is what was asked.
      if (f.code !== BAD_ARGUMENTS) throw this.backend.unavailable(what, f, e);
    }
  }

  /**
   * Moves an empty topic to another table (or to or from kch's own table). A topic with records keeps
   * its table: they would be left behind, and offsets must go on where they are.
   */
  private async rebind(t: TopicState, binding: Binding | null, retention: number | null): Promise<void> {
    for (let partition = 0; partition < t.record.partitionCount; partition++) {
      const { p } = await this.partition({ topic: t.record.name, partition });
      if (p.nextOffset > 0 || p.appends.acceptedEnd > 0) {
        const where = t.bound ? `table ${t.bound.binding.database}.${t.bound.binding.table}` : "kch's table";
        throw new StorageError(
          'INVALID_REQUEST',
          `topic ${t.record.name} has records (in ${where}), so ${TABLE_CONFIG} cannot change: ` +
            'create a new topic with the new table, or delete this one and create it again',
          false,
        );
      }
    }
    const schema = binding ? await this.bound.bind(binding, t.record.name, this.topics.values()) : null;
    if (!binding) {
      t.own = await this.createOwnTable(
        t.record.name,
        topicTableName(t.record.name, this.tables.maxNameLength),
        retention,
      );
    } else if (t.own) {
      await t.flusher?.drain();
      // The (empty) table kch made goes, if it still is kch's.
      await this.tables.dropOwn(t.record.name, t.own);
      t.own = null;
    }
    t.bound = binding && schema ? boundTopic(binding, schema) : null;
    t.table = binding ? binding.quoted : tableName(this.backend.database, t.own!.name);
    t.tableMissing = false;
    t.partitions.clear();
  }

  /** The topic and the state of one of its partitions, recovered on first use and cleaned of suspects. */
  async partition(tp: TopicPartition): Promise<{ t: TopicState; p: PartitionState }> {
    this.backend.checkOpen();
    const t = this.topicOf(tp.topic);
    if (t.own && (t.unusable || t.verifyTable)) await this.checkOwnTable(t);
    if (t.unusable) throw t.unusable;
    if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= t.record.partitionCount) {
      throw unknownPartition(tp);
    }
    const p = await this.states.get(t, tp.partition, () => this.ensureTable(t));
    // A failure while it was recovered may have found the table gone.
    await this.ensureTable(t);
    if (p.suspectFrom !== null) await this.states.cleanSuspects(t, tp.partition, p);
    return { t, p };
  }

  /**
   * Creates a topic's own table again when it was found missing (dropped behind kch's back), under
   * its recorded name, and records the new table's identity. If something else has the name by now,
   * the topic is unusable until it is gone. A bound topic's table is the user's: never created.
   */
  private async ensureTable(t: TopicState): Promise<void> {
    if (!t.tableMissing || !t.own) return;
    const name = t.record.name;
    try {
      const own = await this.createOwnTable(
        name,
        t.own.name,
        retentionOf(this.defaults.effective(t.record.configs)),
      );
      await this.recordOwnTable(t, own);
    } catch (e) {
      if (e instanceof StorageError && e.kind === 'INVALID_TOPIC') {
        const o = await this.tables.objectAt(t.own.name);
        if (o) t.unusable = tableReplacedError(this.backend.database, name, o);
        throw t.unusable ?? e;
      }
      throw e;
    }
    t.tableMissing = false;
  }

  /**
   * Checks that a topic's own table is still the one kch created, after an insert failed for a reason
   * that was not load, or while it is unusable (the user may have moved their object away since).
   */
  private async checkOwnTable(t: TopicState): Promise<void> {
    const own = t.own!;
    const o = await this.tables.objectAt(own.name);
    t.verifyTable = false;
    if (!o) {
      t.unusable = null;
      t.tableMissing = true;
    } else if (isOwnTable(o, own, t.record.name)) {
      t.unusable = null;
    } else {
      t.unusable = tableReplacedError(this.backend.database, t.record.name, o);
    }
  }

  /** Records the table kch created for a topic with the topic. */
  private async recordOwnTable(t: TopicState, own: OwnTable): Promise<void> {
    t.own = own;
    await this.change(t, (row) => ({ ...row, own }));
  }
}

/**
 * What to write after `w` given the claim read after it landed: the claim's row when the claim has
 * moved on to another version or topic, a deletion when the topic written live is deleted by now,
 * else null. A claim of an older kch, or of a creation under way, has no row to write (the creator
 * writes it after confirming, so after `w` landed).
 */
function newerThan(claim: Claim | undefined, w: Written): Written | null {
  if (!claim) return null;
  const topicId = w.row.record.topicId;
  if (claim.kind === 'tombstone')
    return claim.topicId === topicId && !w.deleted ? { ...w, deleted: true } : null;
  if (!claim.row || claim.pending) return null;
  if (claim.topicId === topicId && !w.deleted && claim.version === w.version) return null;
  return { row: claim.row, deleted: false, version: claim.version };
}
