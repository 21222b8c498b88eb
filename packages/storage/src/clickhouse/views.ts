/**
 * Materialized views on topics: a ClickHouse MATERIALIZED VIEW over a topic's table, in the storage's
 * database, that turns each appended block of records into rows of a target table (a typed table of
 * a CDC stream, counters per experiment variant...). This module holds the SQL and the rules;
 * ClickHouseStorage exposes it as createView / ensureView / listViews / dropView.
 *
 * Where a view's definition is kept: in the view itself, as its COMMENT (`kch-view:{json}`), so that
 * listing needs no table of kch's own that could drift from what ClickHouse has (a view dropped with
 * SQL is gone from the list too), and the declared SELECT with its `{topic}` placeholder comes back
 * as written. Views made with SQL by hand are listed too, from what ClickHouse knows of them.
 *
 * A view runs inside the topic's insert (ClickHouse pushes each inserted block through it). A view
 * whose SELECT fails on a block fails that insert, so the produce is refused (retriably) until the view
 * is fixed or dropped: kch never acknowledges records that a view silently missed.
 */
import { z } from 'zod';
import { StorageError } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import { ident, int, str, tableName } from './sql.js';

/** What a view's SELECT writes where the topic's table goes. */
export const TOPIC_PLACEHOLDER = '{topic}';
const COMMENT_PREFIX = 'kch-view:';
/** Plain ClickHouse identifiers: views and their targets are typed by hand in SQL, unquoted. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE_REF = /^(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)$/;
const MAX_SELECT_CHARS = 256 * 1024;

/** A view definition, as `kch views create`, `POST /views` and the broker's `views` config give it. */
export const viewDefinitionSchema = z
  .object({
    /** The view's name in the storage's database: letters, digits and underscores. */
    name: z
      .string()
      .trim()
      .max(200, { error: 'must be at most 200 characters' })
      .regex(IDENTIFIER, {
        error: 'must be a plain ClickHouse identifier: a letter or _, then letters, digits and _',
      })
      .refine((n) => !n.startsWith('_kch_'), { error: 'names starting with _kch_ are kch’s own' }),
    /** The topic whose records the view reads. */
    topic: z.string().min(1, { error: 'must name a topic' }),
    /** The SELECT over the topic: `{topic}` stands for its table. A trailing `;` is dropped. */
    select: z
      .string()
      .max(MAX_SELECT_CHARS, { error: `must be at most ${MAX_SELECT_CHARS} characters` })
      .transform((s) => s.trim().replace(/;+\s*$/, ''))
      .refine((s) => s.includes(TOPIC_PLACEHOLDER), {
        error: `must read the topic as ${TOPIC_PLACEHOLDER}, e.g. SELECT ... FROM ${TOPIC_PLACEHOLDER}`,
      }),
    /** The table the rows go to: `db.table`, or `table` in the storage's database. */
    to: z
      .string()
      .trim()
      .regex(TABLE_REF, { error: 'must be table or db.table (letters, digits and _)' })
      .optional(),
    /** Instead of `to`: the engine of a table the view keeps itself, e.g. `SummingMergeTree ORDER BY k`. */
    engine: z
      .string()
      .trim()
      .transform((s) => s.replace(/^ENGINE\s*=\s*/i, ''))
      .refine((s) => s !== '', { error: 'must not be empty' })
      .optional(),
    /** Backfill: the records already in the topic go through the view too. */
    populate: z.boolean().default(false),
  })
  .strict()
  .refine((d) => (d.to === undefined) !== (d.engine === undefined), {
    error: 'give either to (a target table) or engine (for a table the view keeps), not both or neither',
    path: ['to'],
  });

export type ViewDefinitionInput = z.input<typeof viewDefinitionSchema>;
export type ViewDefinition = z.output<typeof viewDefinitionSchema>;

/** A view as listed. */
export interface ViewInfo {
  name: string;
  /** The topic it reads; null for a view made by hand that reads no topic's table. */
  topic: string | null;
  /** The SELECT as declared (`{topic}` for the topic's table); ClickHouse's own for views made by hand. */
  select: string;
  /** The TO table (qualified: `db.table`), when the rows go to a table of the user's. */
  to: string | null;
  /** The engine of the table the view keeps, when declared with one. */
  engine: string | null;
  /** Where the rows are: the TO table, or ClickHouse's inner table (query the view itself for those). */
  target: string | null;
  /** The SELECT ClickHouse runs, with the topic's table in it. */
  query: string;
  /** Created through kch (its definition is known), not by hand with SQL. */
  managed: boolean;
}

/** What `ensureView` found: created now, there with the same definition, or there but different. */
export type EnsureViewResult = { status: 'created' | 'unchanged' | 'different'; view: ViewInfo };

/** Refusals particular to views, so that callers can tell them apart (HTTP 404 and 409). */
export class ViewError extends StorageError {
  constructor(
    readonly reason: 'not-found' | 'exists',
    message: string,
  ) {
    super('INVALID_REQUEST', message, false);
  }
}

/** What the views need of the storage. */
export interface ViewHost {
  readonly database: string;
  /** How DDL reads on this ClickHouse (./cluster-ddl.ts): a view and the table it keeps are made on every server. */
  readonly dialect: Dialect;
  /** Any SQL; failures are StorageErrors (INVALID_REQUEST for what ClickHouse refused). */
  query(sql: string, format?: string): Promise<Buffer>;
  /** The quoted table of a topic; UNKNOWN_TOPIC_OR_PARTITION when there is no such topic. */
  topicTable(topic: string): string;
  /** Whether the topic's records are in a table of the user's (kch.table) rather than kch's own. */
  isBound(topic: string): boolean;
  topicNames(): Promise<string[]>;
  /**
   * Runs `f` while no append to the topic runs (appends that started have ended; new ones wait), so
   * that what is in the topic's table is exactly what came before.
   */
  holdAppends<T>(topic: string, f: () => Promise<T>): Promise<T>;
}

/** What the comment keeps (`to` qualified, so that the same definition compares equal). */
const storedSchema = z.object({
  topic: z.string(),
  select: z.string(),
  to: z.string().nullable(),
  engine: z.string().nullable(),
});
type Stored = z.infer<typeof storedSchema>;

/** Validates a definition, as StorageError INVALID_REQUEST naming the field. */
export function parseViewDefinition(input: unknown): ViewDefinition {
  const parsed = viewDefinitionSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues
    .map((i) => `${i.path.join('.') || 'definition'}: ${i.message}`)
    .join('; ');
  throw new StorageError('INVALID_REQUEST', `invalid view definition: ${detail}`, false);
}

function stored(def: ViewDefinition, database: string): Stored {
  let to: string | null = null;
  if (def.to !== undefined) {
    const [, db, table] = TABLE_REF.exec(def.to)!;
    to = `${db ?? database}.${table}`;
  }
  return { topic: def.topic, select: def.select, to, engine: def.engine ?? null };
}

function sameDefinition(a: Stored, b: Stored): boolean {
  return a.topic === b.topic && a.select === b.select && a.to === b.to && a.engine === b.engine;
}

/**
 * CREATE MATERIALIZED VIEW: rows go to a table of the user's (`to`), or to a table of the view's own
 * with `engine` (replicated on a cluster, as kch's own tables are).
 */
export function materializedViewDdl(
  view: string,
  target: { to: string } | { engine: string },
  comment: string,
  select: string,
  dialect: Dialect,
): string {
  const into = 'to' in target ? `TO ${target.to}` : `ENGINE = ${dialect.engine(target.engine)}`;
  return `CREATE MATERIALIZED VIEW ${view}${dialect.onCluster} ${into}
COMMENT ${str(comment)}
AS ${select}`;
}

/** DROP VIEW, now (SYNC): the name is free when it returns. */
export function dropViewSql(view: string, ifExists: boolean, dialect: Dialect): string {
  return `DROP VIEW ${ifExists ? 'IF EXISTS ' : ''}${view}${dialect.onCluster} SYNC`;
}

/** The SELECT with the topic's table (or another source, for the backfill) in place of `{topic}`. */
function withSource(select: string, source: string): string {
  return select.split(TOPIC_PLACEHOLDER).join(source);
}

/** `db.table` for messages and listings, backquoted only where a part needs it. */
function displayName(database: string, table: string): string {
  const part = (s: string) => (IDENTIFIER.test(s) ? s : `\`${s.replace(/[\\`]/g, (c) => `\\${c}`)}\``);
  return `${part(database)}.${part(table)}`;
}

async function rows(host: ViewHost, sql: string): Promise<Record<string, unknown>[]> {
  const text = (await host.query(sql, 'JSONEachRow')).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The engine of a table in the storage's database, or null when there is no such table. */
async function engineOf(host: ViewHost, name: string): Promise<string | null> {
  const [row] = await rows(
    host,
    `SELECT engine FROM system.tables WHERE database = ${str(host.database)} AND name = ${str(name)}`,
  );
  return row ? String(row.engine) : null;
}

/**
 * Creates the view. Refuses a topic that does not exist (UNKNOWN_TOPIC_OR_PARTITION), a name a view
 * has (ViewError 'exists') or a topic or table has (INVALID_REQUEST), and a SELECT, target or engine
 * ClickHouse refuses (INVALID_REQUEST with ClickHouse's message).
 *
 * With `populate`, the records already stored go through the view as well, each exactly once: the
 * view is created while the topic's appends are held (for the milliseconds of the DDL), the log ends
 * are read in the same pause, and the backfill then reads the records below those ends. ClickHouse's
 * own POPULATE would miss the records appended while it runs, and cannot be used with TO.
 */
export async function createView(host: ViewHost, input: unknown): Promise<ViewInfo> {
  const def = parseViewDefinition(input);
  const source = host.topicTable(def.topic);
  await checkNameFree(host, def.name);
  const meta = stored(def, host.database);
  if (def.populate && host.isBound(def.topic)) {
    throw new StorageError(
      'INVALID_REQUEST',
      `topic ${def.topic} is bound to the table ${source}: populate backfills kch's own topic tables only; create the view without it and fill it with INSERT INTO ${displayName(host.database, def.name)} SELECT ...`,
      false,
    );
  }
  const view = tableName(host.database, def.name);
  const ddl = materializedViewDdl(
    view,
    meta.to !== null ? { to: qualified(meta.to) } : { engine: meta.engine! },
    COMMENT_PREFIX + JSON.stringify(meta),
    withSource(def.select, source),
    host.dialect,
  );
  const create = () => refused(def.name, host.query(ddl));
  if (!def.populate) {
    await create();
  } else {
    const ends = await host.holdAppends(def.topic, async () => {
      await create();
      return logEnds(host, source);
    });
    if (ends.length > 0) {
      try {
        await refused(def.name, backfill(host, def, source, ends), 'backfill');
      } catch (e) {
        // Half a view is worse than none: a SELECT that fails on stored records fails on new ones too.
        await host.query(dropViewSql(view, true, host.dialect)).catch(() => {});
        if (!(e instanceof StorageError)) throw e;
        throw new StorageError(
          e.kind,
          `${e.message} (the view was dropped again${meta.to !== null ? `; ${meta.to} may hold rows it wrote` : ''})`,
          e.retriable,
          { cause: e },
        );
      }
    }
  }
  const created = (await listViews(host)).find((v) => v.name === def.name);
  if (!created) throw new StorageError('UNAVAILABLE', `view ${def.name} was created but is not listed`, true);
  return created;
}

/**
 * Creates the view when no view has the name (as createView); otherwise leaves it as it is and says
 * whether its definition is the one given. For views declared in the broker's config, created at each
 * start: a view is never replaced behind its user's back, as dropping one may drop its data.
 */
export async function ensureView(host: ViewHost, input: unknown): Promise<EnsureViewResult> {
  const def = parseViewDefinition(input);
  const existing = (await listViews(host)).find((v) => v.name === def.name);
  if (!existing) return { status: 'created', view: await createView(host, def) };
  const mine = stored(def, host.database);
  const theirs: Stored = existing.managed
    ? { topic: existing.topic ?? '', select: existing.select, to: existing.to, engine: existing.engine }
    : { topic: '', select: '', to: null, engine: null };
  return { status: sameDefinition(mine, theirs) ? 'unchanged' : 'different', view: existing };
}

/** Every materialized view in the storage's database, by name. */
export async function listViews(host: ViewHost): Promise<ViewInfo[]> {
  const db = str(host.database);
  // SELECT *: target_database and target_table are recent (ClickHouse 24.x+); older servers lack them.
  const views = await rows(
    host,
    `SELECT * FROM system.tables WHERE database = ${db} AND engine = 'MaterializedView' ORDER BY name`,
  );
  if (views.length === 0) return [];
  // The topic a hand-made view reads: the topic table that lists it among its dependents.
  const byTable = new Map<string, string>();
  for (const topic of await host.topicNames()) {
    try {
      byTable.set(host.topicTable(topic), topic);
    } catch {
      // deleted meanwhile
    }
  }
  const sourceOf = new Map<string, string>();
  for (const t of await rows(
    host,
    `SELECT database, name, dependencies_database, dependencies_table FROM system.tables WHERE has(dependencies_database, ${db})`,
  )) {
    const topic = byTable.get(tableName(String(t.database), String(t.name)));
    if (topic === undefined) continue;
    const dbs = t.dependencies_database as string[];
    (t.dependencies_table as string[]).forEach((v, i) => {
      if (dbs[i] === host.database) sourceOf.set(v, topic);
    });
  }
  return views.map((v) => {
    const name = String(v.name);
    const meta = managedDefinition(v.comment);
    const target =
      typeof v.target_table === 'string' && v.target_table !== ''
        ? displayName(String(v.target_database), v.target_table)
        : (meta?.to ?? null);
    return {
      name,
      topic: meta?.topic ?? sourceOf.get(name) ?? null,
      select: meta?.select ?? String(v.as_select),
      to: meta ? meta.to : null,
      engine: meta ? meta.engine : null,
      target,
      query: String(v.as_select),
      managed: meta !== null,
    };
  });
}

/**
 * Drops a view (ViewError 'not-found' when there is none; INVALID_REQUEST for a table that is not a
 * view). A TO table keeps its rows; the inner table of a view declared with an engine goes with it.
 */
export async function dropView(host: ViewHost, name: string): Promise<void> {
  const engine = await engineOf(host, name);
  if (engine === null) throw new ViewError('not-found', `there is no view ${name} in ${host.database}`);
  if (engine !== 'MaterializedView')
    throw new StorageError(
      'INVALID_REQUEST',
      `${displayName(host.database, name)} is a table (${engine}), not a materialized view`,
      false,
    );
  await host.query(dropViewSql(tableName(host.database, name), false, host.dialect));
}

function managedDefinition(comment: unknown): Stored | null {
  if (typeof comment !== 'string' || !comment.startsWith(COMMENT_PREFIX)) return null;
  try {
    const parsed = storedSchema.safeParse(JSON.parse(comment.slice(COMMENT_PREFIX.length)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function qualified(dbDotTable: string): string {
  const dot = dbDotTable.indexOf('.');
  return tableName(dbDotTable.slice(0, dot), dbDotTable.slice(dot + 1));
}

async function checkNameFree(host: ViewHost, name: string): Promise<void> {
  if ((await host.topicNames()).includes(name))
    throw new StorageError(
      'INVALID_REQUEST',
      `${name} is the name of a topic; choose another view name`,
      false,
    );
  const engine = await engineOf(host, name);
  if (engine === 'MaterializedView') throw new ViewError('exists', `view ${name} already exists`);
  if (engine !== null)
    throw new StorageError(
      'INVALID_REQUEST',
      `${displayName(host.database, name)} is already a table (${engine}); choose another view name`,
      false,
    );
}

/** The log end of each partition of a topic table (offsets below it are stored). */
async function logEnds(host: ViewHost, table: string): Promise<{ partition: number; end: number }[]> {
  const found = await rows(
    host,
    `SELECT partition, toString(max(offset) + 1) AS end FROM ${table} GROUP BY partition ORDER BY partition`,
  );
  return found.map((r) => ({ partition: Number(r.partition), end: Number(r.end) }));
}

/**
 * Sends the records below `ends` through the view's SELECT into its target table, matching columns by
 * name as the view does. (An INSERT into the view itself reaches the same table, but ClickHouse then
 * refuses conversions the view makes, e.g. String into LowCardinality(String).)
 */
async function backfill(
  host: ViewHost,
  def: ViewDefinition,
  source: string,
  ends: readonly { partition: number; end: number }[],
): Promise<void> {
  const db = str(host.database);
  // SELECT *: target_database and target_table are recent (ClickHouse 24.x+).
  const [v] = await rows(
    host,
    `SELECT * FROM system.tables WHERE database = ${db} AND name = ${str(def.name)}`,
  );
  const targetDb =
    typeof v?.target_database === 'string' && v.target_database !== '' ? v.target_database : null;
  const targetTable = typeof v?.target_table === 'string' && v.target_table !== '' ? v.target_table : null;
  const below = `(SELECT * FROM ${source} WHERE offset < transform(partition, [${ends.map((e) => int(e.partition)).join(', ')}], [${ends.map((e) => int(e.end)).join(', ')}], 0))`;
  const select = withSource(def.select, below);
  if (targetDb === null || targetTable === null) {
    await host.query(`INSERT INTO ${tableName(host.database, def.name)} ${select}`);
    return;
  }
  const columns = (
    await rows(
      host,
      `SELECT name FROM system.columns WHERE database = ${str(targetDb)} AND table = ${str(targetTable)}
  AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL')
  AND name IN (SELECT name FROM system.columns WHERE database = ${db} AND table = ${str(def.name)})
ORDER BY position`,
    )
  ).map((c) => ident(String(c.name)));
  if (columns.length === 0) return;
  await host.query(
    `INSERT INTO ${tableName(targetDb, targetTable)} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM (${select})`,
  );
}

/** A ClickHouse refusal of the view's SQL, said as such; other failures pass unchanged. */
async function refused<T>(name: string, p: Promise<T>, what = 'view'): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof StorageError && e.kind === 'INVALID_REQUEST' && !(e instanceof ViewError)) {
      const doing = what === 'view' ? `the view ${name}` : `the backfill of view ${name}`;
      throw new StorageError('INVALID_REQUEST', `ClickHouse refused ${doing}: ${e.message}`, false, {
        cause: e,
      });
    }
    throw e;
  }
}
