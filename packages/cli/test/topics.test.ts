import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import topics from '../src/commands/topics.js';
import { freePort, run, startTestBroker, type TestBroker } from './client-helpers.js';

let broker: TestBroker;
const kch = (args: string[]) => run(topics, args, { bootstrap: broker.bootstrap });

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

describe('kch topics: arguments', () => {
  it('prints its usage for --help', async () => {
    const r = await kch(['--help']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^Usage: kch topics <command>/);
    expect(r.stdout).toContain('--bootstrap-server');
    expect(topics.usage).toBe(r.stdout);
  });

  it.each([
    [[], /missing command: list, create, describe, alter or delete/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['create'], /"topics create" needs a topic name/],
    [['create', 'a', 'b'], /takes one topic name, got 2/],
    [['list', 'x'], /"topics list" takes no topic name/],
    [['create', 't', '--partitions', 'many'], /--partitions needs an integer of 1 or more, got "many"/],
    [['create', 't', '--partitions', '0'], /--partitions needs an integer of 1 or more, got "0"/],
    [['create', 't', '--config', 'retention.ms'], /--config needs key=value, got "retention.ms"/],
    [['create', 't', '--delete-config', 'x'], /--delete-config does not apply to "topics create"/],
    [['alter', 't'], /"topics alter" needs --partitions, --config or --delete-config/],
    [['alter', 't', '--config', 'a=1', '--delete-config', 'a'], /both name "a"/],
    [['list', '--bogus'], /^kch topics: unknown option --bogus\n/],
    [['list', '--boot', 'x'], /^kch topics: unknown option --boot \(did you mean --bootstrap-server\?\)\n/],
  ])('refuses %j with the usage and exit 2', async (args, message) => {
    const r = await kch(args);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: kch topics');
    expect(r.stdout).toBe('');
  });

  it('says how to start a broker when none is reachable, and exits 69', async () => {
    const port = await freePort();
    const r = await run(topics, ['list', '--bootstrap-server', `127.0.0.1:${port}`]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toBe(
      `kch topics: cannot connect to 127.0.0.1:${port}: connection refused; is a broker running? start one with \`kch broker\`\n`,
    );
  });

  it('takes the bootstrap server from KCH_BOOTSTRAP_SERVER, and -b over it', async () => {
    const port = await freePort();
    const bad = { KCH_BOOTSTRAP_SERVER: `127.0.0.1:${port}` };
    expect((await run(topics, ['list'], { env: bad })).code).toBe(ExitCode.UNAVAILABLE);
    expect((await run(topics, ['list', '-b', broker.bootstrap], { env: bad })).code).toBe(ExitCode.OK);
  });

  it('refuses a malformed bootstrap server', async () => {
    const r = await run(topics, ['list', '-b', 'localhost:http']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('bootstrap server "localhost:http" is not host:port');
  });
});

describe('kch topics: create, list, describe, alter, delete', () => {
  it('creates a topic and refuses to create it twice', async () => {
    const r = await kch(['create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000']);
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: 'Created topic orders.\n', stderr: '' });

    const again = await kch(['create', 'orders']);
    expect(again.code).toBe(ExitCode.FAILURE);
    expect(again.stderr).toContain('creating topic "orders" failed: TOPIC_ALREADY_EXISTS');
    expect(again.stderr).toContain('--if-not-exists');

    const tolerated = await kch(['create', 'orders', '--if-not-exists']);
    expect(tolerated).toMatchObject({ code: ExitCode.OK, stdout: '', stderr: '' });
  });

  it('creates with the broker default partitions, and prints JSON', async () => {
    const r = await kch(['create', 'defaults', '--json']);
    expect(r.code).toBe(ExitCode.OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'defaults', partitions: 1, replicationFactor: 1 });
    expect(JSON.parse(r.stdout).topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('reports what the broker refuses: a bad config value, a bad name, too many replicas', async () => {
    const cfg = await kch(['create', 'badcfg', '--config', 'retention.ms=soon']);
    expect(cfg.code).toBe(ExitCode.FAILURE);
    expect(cfg.stderr).toContain('INVALID_CONFIG');

    const name = await kch(['create', 'no spaces']);
    expect(name.code).toBe(ExitCode.FAILURE);
    expect(name.stderr).toContain('INVALID_TOPIC_EXCEPTION');

    const rf = await kch(['create', 'replicated', '--replication-factor', '3']);
    expect(rf.code).toBe(ExitCode.FAILURE);
    expect(rf.stderr).toContain('INVALID_REPLICATION_FACTOR');
  });

  it('lists topic names one per line, sorted, or as JSON', async () => {
    await kch(['create', 'alpha']);
    const r = await kch(['list']);
    expect(r.code).toBe(ExitCode.OK);
    const names = r.stdout.trimEnd().split('\n');
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['alpha', 'orders']));

    const json = JSON.parse((await kch(['list', '--json'])).stdout);
    expect(json).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'orders', partitions: 3 })]),
    );
  });

  it('describes a topic as kafka-topics.sh does, with its config overrides only', async () => {
    const r = await kch(['describe', 'orders']);
    expect(r.code).toBe(ExitCode.OK);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=86400000$/,
    );
    expect(lines.slice(1)).toEqual([
      '\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1',
      '\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1\tIsr: 1',
      '\tTopic: orders\tPartition: 2\tLeader: 1\tReplicas: 1\tIsr: 1',
    ]);
  });

  it('describes every topic without a name, and one as JSON', async () => {
    const all = await kch(['describe']);
    expect(all.stdout).toMatch(/^Topic: alpha\t/m);
    expect(all.stdout).toMatch(/^Topic: orders\t/m);

    const json = JSON.parse((await kch(['describe', 'orders', '--json'])).stdout);
    expect(json).toMatchObject({
      name: 'orders',
      partitionCount: 3,
      replicationFactor: 1,
      configs: { 'retention.ms': '86400000' },
      partitions: [
        { partition: 0, leader: 1, replicas: [1], isr: [1] },
        { partition: 1, leader: 1, replicas: [1], isr: [1] },
        { partition: 2, leader: 1, replicas: [1], isr: [1] },
      ],
    });
  });

  it('says so when the described topic does not exist, without creating it', async () => {
    const r = await kch(['describe', 'ghost']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('topic "ghost" does not exist');
    expect(r.stderr).toContain('kch topics create ghost');
    expect((await kch(['list'])).stdout).not.toContain('ghost');
  });

  it('adds partitions and sets and deletes config overrides', async () => {
    await kch(['create', 'growing', '--partitions', '2', '--config', 'retention.ms=1000']);
    const r = await kch([
      'alter',
      'growing',
      '--partitions',
      '4',
      '--config',
      'cleanup.policy=compact',
      '--delete-config',
      'retention.ms',
    ]);
    expect(r).toMatchObject({
      code: ExitCode.OK,
      stdout: 'Altered topic growing: partitions 2 -> 4, set cleanup.policy=compact, deleted retention.ms.\n',
    });
    const d = JSON.parse((await kch(['describe', 'growing', '--json'])).stdout);
    expect(d.partitionCount).toBe(4);
    expect(d.configs).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('refuses to remove partitions or to alter a missing topic', async () => {
    const fewer = await kch(['alter', 'growing', '--partitions', '1']);
    expect(fewer.code).toBe(ExitCode.FAILURE);
    expect(fewer.stderr).toContain('Kafka can add partitions but not remove them');

    const missing = await kch(['alter', 'ghost', '--partitions', '3']);
    expect(missing.code).toBe(ExitCode.FAILURE);
    expect(missing.stderr).toContain('topic "ghost" does not exist');
    expect((await kch(['alter', 'ghost', '--partitions', '3', '--if-exists'])).code).toBe(ExitCode.OK);

    const badValue = await kch(['alter', 'growing', '--config', 'retention.ms=later']);
    expect(badValue.code).toBe(ExitCode.FAILURE);
    expect(badValue.stderr).toContain('INVALID_CONFIG');
  });

  it('deletes a topic, and says so when it does not exist', async () => {
    await kch(['create', 'doomed']);
    expect(await kch(['delete', 'doomed'])).toMatchObject({
      code: ExitCode.OK,
      stdout: 'Deleted topic doomed.\n',
    });
    expect((await kch(['list'])).stdout.split('\n')).not.toContain('doomed');

    const again = await kch(['delete', 'doomed']);
    expect(again.code).toBe(ExitCode.FAILURE);
    expect(again.stderr).toContain(`Topic 'doomed' does not exist.`);
    expect((await kch(['delete', 'doomed', '--if-exists'])).code).toBe(ExitCode.OK);
  });
});
