/**
 * The kch command over a database the user also keeps tables in (the walk-through): a topic
 * named like a user's table is refused with the reason, the table survives `kch topics delete`, and
 * `kch topics describe` shows where a topic's records are, also for names too long for ClickHouse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerArgs, type RunningKch, runKch, startKch } from './kch-process.js';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

describe('kch topics over a database shared with the user', () => {
  let kch: RunningKch;
  const kchArgs = (...args: string[]) => runKch([...args, '--bootstrap-server', kch.bootstrap]);
  const sql = (query: string) => runKch(['sql', '--admin-url', kch.adminUrl!, query]);

  beforeAll(async () => {
    kch = await startKch(brokerArgs(`chdb:${tempDir('kch-cli-topic-tables-')}`));
  });

  afterAll(async () => {
    await kch?.stop();
  });

  it("refuses a topic named like the user's table, says why once, and the table survives", async () => {
    expect(
      (await sql('CREATE TABLE kafka.customers (id UInt32, name String) ENGINE = MergeTree ORDER BY id'))
        .code,
    ).toBe(0);
    expect((await sql("INSERT INTO kafka.customers VALUES (1, 'ann')")).code).toBe(0);

    const produced = await runKch(['produce', 'customers', '--bootstrap-server', kch.bootstrap], {
      input: 'v1\n',
    });
    expect(produced.code).not.toBe(0);
    expect(produced.stderr).toContain('INVALID_TOPIC_EXCEPTION: the broker cannot create this topic');
    expect(produced.stderr).toContain('`kch topics create customers` shows why');

    const created = await kchArgs('topics', 'create', 'customers');
    expect(created.code).toBe(1);
    expect(created.stderr).toContain(
      'INVALID_TOPIC_EXCEPTION: topic customers cannot be created: kafka.customers is a table that kch did not create for this topic',
    );
    // The broker's reason, and no hint about config values after it.
    expect(created.stderr).not.toMatch(/Check the .*config/);
    expect(created.stderr.match(/kch did not create/g)).toHaveLength(1);

    const deleted = await kchArgs('topics', 'delete', 'customers');
    expect(deleted.code).not.toBe(0);
    expect((await sql('SELECT id, name FROM kafka.customers')).stdout).toBe('1\tann\n');
    expect(kch.stderr()).toMatch(/"msg":"topic not created","topic":"customers".*"via":"Metadata"/);
  });

  it('describe shows the ClickHouse table of a topic, derived for a name too long for ClickHouse', async () => {
    const long = `clicks.${'eu-west-1.'.repeat(25)}`.slice(0, 249);
    expect((await kchArgs('topics', 'create', 'orders')).code).toBe(0);
    expect((await kchArgs('topics', 'create', long)).code).toBe(0);
    const orders = await kchArgs('topics', 'describe', 'orders');
    expect(orders.stdout).toMatch(
      /^Topic: orders\tTopicId: \S+\tPartitionCount: 1\tReplicationFactor: 1\tTable: kafka\.orders\tConfigs: \n/,
    );
    const described = await kchArgs('topics', 'describe', long, '--json');
    const table = (JSON.parse(described.stdout) as { table: string }).table;
    expect(table).toMatch(/^kafka\.clicks_eu_west_1_[A-Za-z0-9_]+_[0-9a-f]{16}$/);
    const produced = await runKch(['produce', long, '--bootstrap-server', kch.bootstrap], {
      input: 'hello\n',
    });
    expect(produced.code).toBe(0);
    expect((await sql(`SELECT value FROM ${table}`)).stdout).toBe('hello\n');
  });
});
