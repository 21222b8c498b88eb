/**
 * Materialized views end to end, as docs/materialized-views.md shows them: a broker on embedded
 * ClickHouse with a view declared in its config file, a real Kafka client (kafkajs) producing Debezium
 * change events and experiment events over TCP, `kch views create | list | drop` and `kch sql` in
 * child processes, and the rows checked in the views' tables. The SQL here is the SQL of the page (a
 * test below checks that the page holds it verbatim).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerArgs, REPO_ROOT, type RunningKch, runKch, startKch } from './kch-process.js';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

const TOKEN = 'views-test-token';
const CDC_TOPIC = 'dbserver1.inventory.customers';
const EVENTS_TOPIC = 'experiment-events';

// --------------------------------------------------------------------- the SQL of the docs page

const CUSTOMERS_TABLE = `CREATE TABLE kafka.customers
(
    id         Int64,
    first_name String,
    last_name  String,
    email      String,
    updated_at DateTime64(3),   -- payload.ts_ms: the later change wins
    deleted    UInt8            -- 1 for op = 'd': FINAL leaves the row out
)
ENGINE = ReplacingMergeTree(updated_at, deleted)
ORDER BY id`;

const CUSTOMERS_SELECT = `SELECT
    JSONExtractInt(row, 'id')                                  AS id,
    JSONExtractString(row, 'first_name')                       AS first_name,
    JSONExtractString(row, 'last_name')                        AS last_name,
    JSONExtractString(row, 'email')                            AS email,
    fromUnixTimestamp64Milli(JSONExtractInt(payload, 'ts_ms')) AS updated_at,
    op = 'd'                                                   AS deleted
FROM
(
    SELECT
        JSONExtractRaw(value, 'payload')                         AS payload,
        JSONExtractString(payload, 'op')                         AS op,
        JSONExtractRaw(payload, if(op = 'd', 'before', 'after')) AS row
    FROM {topic}
    WHERE value IS NOT NULL                -- tombstones (null values) carry no change
)
WHERE op IN ('r', 'c', 'u', 'd')`;

const CUSTOMERS_QUERY = `SELECT id, first_name, last_name, email
FROM kafka.customers FINAL
ORDER BY id`;

const CONVERSIONS_VIEW = {
  name: 'conversions',
  topic: EVENTS_TOPIC,
  select: `SELECT
    JSONExtractString(v, 'experiment')                    AS experiment,
    JSONExtractString(v, 'variant')                       AS variant,
    countIf(JSONExtractString(v, 'event') = 'exposure')   AS exposures,
    countIf(JSONExtractString(v, 'event') = 'conversion') AS conversions
FROM (SELECT assumeNotNull(value) AS v FROM {topic} WHERE value IS NOT NULL)
GROUP BY experiment, variant`,
  engine: 'SummingMergeTree ORDER BY (experiment, variant)',
};

/** The broker's config file declaring it (JSON has no multi-line strings: the SELECT as lines). */
const CONFIG = JSON.stringify(
  { views: [{ ...CONVERSIONS_VIEW, select: CONVERSIONS_VIEW.select.split('\n') }] },
  null,
  2,
);

const CONVERSION_RATE = `SELECT
    variant,
    sum(exposures)                  AS exposed,
    sum(conversions)                AS converted,
    round(converted / exposed, 3)   AS conversion_rate
FROM kafka.conversions
WHERE experiment = 'checkout'
GROUP BY variant
ORDER BY variant`;

const USERS_TABLE = `CREATE TABLE kafka.experiment_users
(
    experiment LowCardinality(String),
    variant    LowCardinality(String),
    exposed    AggregateFunction(uniq, String),
    converted  AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (experiment, variant)`;

const USERS_SELECT = `SELECT
    JSONExtractString(v, 'experiment')                                   AS experiment,
    JSONExtractString(v, 'variant')                                      AS variant,
    uniqStateIf(JSONExtractString(v, 'user'), JSONExtractString(v, 'event') = 'exposure')   AS exposed,
    uniqStateIf(JSONExtractString(v, 'user'), JSONExtractString(v, 'event') = 'conversion') AS converted
FROM (SELECT assumeNotNull(value) AS v FROM {topic} WHERE value IS NOT NULL)
GROUP BY experiment, variant`;

const USERS_QUERY = `SELECT
    variant,
    uniqMerge(exposed)                          AS users_exposed,
    uniqMerge(converted)                        AS users_converted,
    round(users_converted / users_exposed, 3)   AS user_conversion_rate
FROM kafka.experiment_users
WHERE experiment = 'checkout'
GROUP BY variant
ORDER BY variant`;

// ------------------------------------------------------------------------------- the events

/** A Debezium change event of inventory.customers, as its JsonConverter (schemas enabled) writes it. */
function change(op: 'r' | 'c' | 'u' | 'd', tsMs: number, before: object | null, after: object | null) {
  const row = (after ?? before) as { id: number };
  return {
    key: JSON.stringify({
      schema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }] },
      payload: { id: row.id },
    }),
    value: JSON.stringify({
      schema: { type: 'struct', name: `${CDC_TOPIC}.Envelope`, optional: false, fields: [] },
      payload: {
        before,
        after,
        source: {
          version: '2.7.0.Final',
          connector: 'postgresql',
          name: 'dbserver1',
          db: 'inventory',
          table: 'customers',
        },
        op,
        ts_ms: tsMs,
        transaction: null,
      },
    }),
  };
}

const sally = { id: 1001, first_name: 'Sally', last_name: 'Thomas', email: 'sally.thomas@acme.com' };
const george = { id: 1002, first_name: 'George', last_name: 'Bailey', email: 'gbailey@foobar.com' };
const edward = { id: 1003, first_name: 'Edward', last_name: 'Walker', email: 'ed@walker.com' };
const anne = { id: 1004, first_name: 'Anne', last_name: 'Kretchmar', email: 'annek@noanswer.org' };

/** The snapshot: produced before the view exists, backfilled by --populate. */
const SNAPSHOT = [
  change('r', 1_700_000_000_000, null, sally),
  change('r', 1_700_000_000_000, null, george),
  change('r', 1_700_000_000_000, null, edward),
];
/** Changes after the view exists: an update, a delete with its tombstone, an insert, another update. */
const CHANGES = [
  change('u', 1_700_000_001_000, sally, { ...sally, email: 'sally@acme.com' }),
  change('d', 1_700_000_002_000, george, null),
  { key: change('d', 0, george, null).key, value: null },
  change('c', 1_700_000_003_000, null, anne),
  change('u', 1_700_000_004_000, anne, { ...anne, last_name: 'Kretchmar-Smith' }),
];

function experimentEvents(): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  // A: 4 users exposed, 1 converts; B: 4 users exposed, 2 convert, one of them twice.
  const plan: [string, string, string][] = [];
  for (const u of ['u1', 'u2', 'u3', 'u4']) plan.push([u, 'A', 'exposure']);
  plan.push(['u2', 'A', 'conversion']);
  for (const u of ['u5', 'u6', 'u7', 'u8']) plan.push([u, 'B', 'exposure']);
  plan.push(['u5', 'B', 'conversion'], ['u7', 'B', 'conversion'], ['u7', 'B', 'conversion']);
  for (const [user, variant, event] of plan)
    out.push({ key: user, value: JSON.stringify({ experiment: 'checkout', variant, event, user }) });
  return out;
}

// ------------------------------------------------------------------------------------- tests

describe('materialized views through kch views and the config', () => {
  let dir: string;
  let config: string;
  let kch: RunningKch;
  let producer: Producer;

  const args = () => brokerArgs(`chdb:${dir}`, '--admin-token', TOKEN, '--config', config);
  const kchAdmin = (command: string, rest: string[], input?: string) =>
    runKch(
      [command, '--admin-url', kch.adminUrl!, '--token', TOKEN, ...rest],
      input !== undefined ? { input } : {},
    );
  const views = (rest: string[], input?: string) => kchAdmin('views', rest, input);
  const sql = async (query: string, format = 'TabSeparated') => {
    const r = await kchAdmin('sql', ['--format', format, query]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };
  const rows = async (query: string) =>
    (await sql(query, 'JSONEachRow'))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      // 64-bit integers come quoted in JSON (output_format_json_quote_64bit_integers).
      .map(
        (l) =>
          JSON.parse(l, (_k, v) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v)) as Record<
            string,
            unknown
          >,
      );

  beforeAll(async () => {
    dir = tempDir('kch-views-cli-');
    // Outside the data directory, which ClickHouse owns.
    config = join(tempDir('kch-views-cli-config-'), 'config.json');
    writeFileSync(config, CONFIG);
    kch = await startKch(args());
    producer = new Kafka({
      clientId: 'views-cli-test',
      brokers: [kch.bootstrap],
      logLevel: logLevel.NOTHING,
    }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => {});
    await kch?.stop('SIGKILL');
  });

  it('creates the views of the config at start, with their topics', async () => {
    expect(kch.stderr()).toContain('"msg":"view created","view":"conversions"');
    expect(kch.stderr()).toMatch(
      new RegExp(
        `"msg":"topic created","topic":"${EVENTS_TOPIC}".*"via":"the view \\w+ of the broker's config"`,
      ),
    );
    const list = await views(['list']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(
      `NAME         TOPIC              TARGET\nconversions  ${EVENTS_TOPIC}  ENGINE = SummingMergeTree ORDER BY (experiment, variant)\n`,
    );
  });

  it('turns Debezium change events into the current table (pattern 1), snapshot backfilled', async () => {
    await producer.send({ topic: CDC_TOPIC, acks: -1, messages: SNAPSHOT });
    await sql(CUSTOMERS_TABLE);
    const created = await views(
      ['create', 'customers_cdc', '--topic', CDC_TOPIC, '--to', 'customers', '--populate', '--select', '-'],
      CUSTOMERS_SELECT,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toBe(
      `Created view customers_cdc on topic ${CDC_TOPIC} (the records already stored went through it too): its rows go to kafka.customers.\n`,
    );
    expect(await rows(CUSTOMERS_QUERY)).toEqual([sally, george, edward]);

    await producer.send({ topic: CDC_TOPIC, acks: -1, messages: CHANGES });
    expect(await rows(CUSTOMERS_QUERY)).toEqual([
      { ...sally, email: 'sally@acme.com' },
      edward,
      { ...anne, last_name: 'Kretchmar-Smith' },
    ]);
    // The delete is a version too (deleted = 1), which FINAL leaves out.
    expect(await sql('SELECT argMax(deleted, updated_at) FROM kafka.customers WHERE id = 1002')).toBe('1\n');
  });

  it('counts exposures and conversions per variant (pattern 2), in SummingMergeTree and AggregatingMergeTree', async () => {
    await producer.send({ topic: EVENTS_TOPIC, acks: -1, messages: experimentEvents() });
    // The config's view saw them as they came; this one gets them by --populate.
    await sql(USERS_TABLE);
    const created = await views([
      'create',
      'experiment_users_mv',
      '-t',
      EVENTS_TOPIC,
      '--to',
      'kafka.experiment_users',
      '--populate',
      '--select',
      USERS_SELECT,
    ]);
    expect(created.code, created.stderr).toBe(0);

    expect(await rows(CONVERSION_RATE)).toEqual([
      { variant: 'A', exposed: 4, converted: 1, conversion_rate: 0.25 },
      { variant: 'B', exposed: 4, converted: 3, conversion_rate: 0.75 },
    ]);
    expect(await rows(USERS_QUERY)).toEqual([
      { variant: 'A', users_exposed: 4, users_converted: 1, user_conversion_rate: 0.25 },
      { variant: 'B', users_exposed: 4, users_converted: 2, user_conversion_rate: 0.5 },
    ]);
  });

  it('lists the views, as a table and as JSON', async () => {
    const list = await views(['list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME +TOPIC +TARGET$/);
    expect(list.stdout).toMatch(
      new RegExp(`customers_cdc +${CDC_TOPIC.replace(/\./g, '\\.')} +kafka\\.customers\\n`),
    );
    expect(list.stdout).toMatch(/experiment_users_mv +experiment-events +kafka\.experiment_users\n/);
    const json = JSON.parse((await views(['list', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.map((v) => v.name)).toEqual(['conversions', 'customers_cdc', 'experiment_users_mv']);
    expect(json[1]).toMatchObject({
      topic: CDC_TOPIC,
      select: CUSTOMERS_SELECT,
      to: 'kafka.customers',
      managed: true,
    });
    expect(json[1]!.query).toContain(`FROM kafka.\`${CDC_TOPIC}\``);
  });

  it('refuses what cannot be a view, with the reason and exit code', async () => {
    const unknownTopic = await views([
      'create',
      'v1',
      '--topic',
      'nope',
      '--engine',
      'MergeTree ORDER BY tuple()',
      '--select',
      'SELECT offset FROM {topic}',
    ]);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.stderr).toBe('kch views: topic nope does not exist\n');
    const badSql = await views([
      'create',
      'v1',
      '--topic',
      EVENTS_TOPIC,
      '--engine',
      'MergeTree ORDER BY tuple()',
      '--select',
      'SELECT nope FROM {topic}',
    ]);
    expect(badSql.code).toBe(1);
    expect(badSql.stderr).toMatch(/^kch views: ClickHouse refused the view v1: UNKNOWN_IDENTIFIER \(47\)/);
    const taken = await views([
      'create',
      'conversions',
      '--topic',
      EVENTS_TOPIC,
      '--engine',
      'MergeTree ORDER BY tuple()',
      '--select',
      'SELECT offset FROM {topic}',
    ]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toBe('kch views: view conversions already exists\n');
    const noTarget = await views([
      'create',
      'v1',
      '--topic',
      EVENTS_TOPIC,
      '--select',
      'SELECT 1 FROM {topic}',
    ]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('give --to <table> or --engine "<engine>" (one of them)');
    const noPlaceholder = await views([
      'create',
      'v1',
      '--topic',
      EVENTS_TOPIC,
      '--engine',
      'Memory',
      '--select',
      'SELECT 1',
    ]);
    expect(noPlaceholder.code).toBe(1);
    expect(noPlaceholder.stderr).toContain('select: must read the topic as {topic}');
    const stray = await views(['list', '--topic', 'x']);
    expect(stray.code).toBe(2);
    const noToken = await runKch(['views', 'list', '--admin-url', kch.adminUrl!]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('kch views: the broker wants its admin token');
  });

  it('serves /views over HTTP with the token rules of /sql', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${kch.adminUrl}/views`)).status).toBe(401);
    const one = await fetch(`${kch.adminUrl}/views/conversions`, { headers: auth });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      name: 'conversions',
      topic: EVENTS_TOPIC,
      engine: CONVERSIONS_VIEW.engine,
    });
    const created = await fetch(`${kch.adminUrl}/views`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'offsets_seen',
        topic: EVENTS_TOPIC,
        select: 'SELECT partition, offset FROM {topic}',
        engine: 'MergeTree ORDER BY (partition, offset)',
      }),
    });
    expect(created.status).toBe(201);
    const conflict = await fetch(`${kch.adminUrl}/views`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: 'offsets_seen',
        topic: EVENTS_TOPIC,
        select: 'SELECT offset FROM {topic}',
        engine: 'Memory',
      }),
    });
    expect(conflict.status).toBe(409);
    const notJson = await fetch(`${kch.adminUrl}/views`, { method: 'POST', headers: auth, body: 'SELECT 1' });
    expect(notJson.status).toBe(400);
    expect(
      (await fetch(`${kch.adminUrl}/views/offsets_seen`, { method: 'DELETE', headers: auth })).status,
    ).toBe(200);
    expect(
      (await fetch(`${kch.adminUrl}/views/offsets_seen`, { method: 'DELETE', headers: auth })).status,
    ).toBe(404);
    expect((await fetch(`${kch.adminUrl}/views`, { method: 'PUT', headers: auth })).status).toBe(405);
  });

  it('refuses the produce while a view fails on its records, and takes it once the view is dropped', async () => {
    await sql('CREATE TABLE kafka.strict_values (v String) ENGINE = MergeTree ORDER BY v');
    const created = await views([
      'create',
      'strict_mv',
      '--topic',
      CDC_TOPIC,
      '--to',
      'strict_values',
      '--select',
      'SELECT value AS v FROM {topic}',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const tombstone = { key: change('d', 0, edward, null).key, value: null };
    const strict = new Kafka({
      clientId: 'views-strict',
      brokers: [kch.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 0 },
    });
    await strict.connect();
    try {
      const before = await sql(`SELECT count() FROM kafka.\`${CDC_TOPIC}\``);
      const error = await strict.send({ topic: CDC_TOPIC, acks: -1, messages: [tombstone] }).then(
        () => null,
        (e: { cause?: unknown }) => e.cause, // kafkajs: retries exceeded, caused by the broker's error
      );
      expect(error).toMatchObject({ type: 'KAFKA_STORAGE_ERROR', retriable: true });
      expect((await views(['drop', 'strict_mv'])).code).toBe(0);
      await strict.send({ topic: CDC_TOPIC, acks: -1, messages: [tombstone] });
      // Exactly the acknowledged records: what the failed insert left was removed before the next one.
      expect(await sql(`SELECT count() FROM kafka.\`${CDC_TOPIC}\``)).toBe(`${Number(before) + 1}\n`);
    } finally {
      await strict.disconnect();
    }
  });

  it('drops a view: its TO table keeps its rows', async () => {
    const dropped = await views(['drop', 'experiment_users_mv']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toBe('Dropped view experiment_users_mv.\n');
    expect(await sql("SELECT uniqMerge(exposed) FROM kafka.experiment_users WHERE variant = 'A'")).toBe(
      '4\n',
    );
    const again = await views(['drop', 'experiment_users_mv']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('kch views: there is no view experiment_users_mv in kafka\n');
  });

  it('keeps an existing view whose config definition changed, with a warning, after a restart', async () => {
    expect((await kch.stop('SIGTERM')).code).toBe(0);
    await producer.disconnect();
    const changed = {
      ...CONVERSIONS_VIEW,
      select: CONVERSIONS_VIEW.select.replace("'exposure'", "'impression'"),
    };
    writeFileSync(config, JSON.stringify({ views: [changed] }));
    kch = await startKch(args());
    expect(kch.stderr()).toContain(
      '"level":"warn","msg":"view exists with another definition: kept as it is (drop it to replace it)","view":"conversions"',
    );
    expect(await rows(CONVERSION_RATE)).toEqual([
      { variant: 'A', exposed: 4, converted: 1, conversion_rate: 0.25 },
      { variant: 'B', exposed: 4, converted: 3, conversion_rate: 0.75 },
    ]);
    expect(JSON.parse((await views(['list', '--json'])).stdout)[0].select).toBe(CONVERSIONS_VIEW.select);
  });

  it('has the SQL of docs/materialized-views.md', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'materialized-views.md'), 'utf8');
    for (const sqlText of [
      CONFIG,
      CUSTOMERS_TABLE,
      CUSTOMERS_SELECT,
      CUSTOMERS_QUERY,
      CONVERSIONS_VIEW.select,
      CONVERSIONS_VIEW.engine,
      CONVERSION_RATE,
      USERS_TABLE,
      USERS_SELECT,
      USERS_QUERY,
    ])
      expect(doc).toContain(sqlText);
  });
});

describe('views without ClickHouse storage', () => {
  it('refuses views in the config of a memory broker, and kch views on one', async () => {
    const dir = tempDir('kch-views-memory-');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ views: [CONVERSIONS_VIEW] }));
    const refused = await runKch(brokerArgs('memory', '--config', config));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'materialized views are ClickHouse tables: they need --storage chdb:<dir> or a ClickHouse URL, not memory',
    );

    const badView = await runKch([
      'broker',
      '--storage',
      'memory',
      '--port',
      '0',
      '--views',
      '[{"name":"x y"}]',
    ]);
    expect(badView.code).toBe(2);
    expect(badView.stderr).toContain('view x y: name: must be a plain ClickHouse identifier');

    const kch = await startKch(brokerArgs('memory'));
    try {
      const r = await runKch(['views', 'list', '--admin-url', kch.adminUrl!]);
      expect(r.code).toBe(69);
      expect(r.stderr).toContain("kch views: this broker's storage (memory) has no materialized views");
    } finally {
      await kch.stop('SIGTERM');
    }
  });
});
