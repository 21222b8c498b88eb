import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka } from '../src/client/kafka.js';
import { Producer } from '../src/client/producer.js';
import { ExitCode } from '../src/command.js';
import consume, { runConsume } from '../src/commands/consume.js';
import produce from '../src/commands/produce.js';
import topics from '../src/commands/topics.js';
import { freePort, memoryIO, run, startTestBroker, type TestBroker, waitFor } from './client-helpers.js';

let broker: TestBroker;
const kch = (command: typeof consume, args: string[], input?: string | Buffer) =>
  run(command, args, { bootstrap: broker.bootstrap, input });

const lines = (s: string) => s.split('\n').filter((l) => l !== '');
const values = (stdout: string) => lines(stdout).map((l) => JSON.parse(l).value);

beforeAll(async () => {
  broker = await startTestBroker();
  // "numbers": 3 partitions; partition p holds p0-0 .. p0-3 style values, 4 records each.
  await kch(topics, ['create', 'numbers', '--partitions', '3']);
  for (const p of [0, 1, 2]) {
    const input = [0, 1, 2, 3].map((i) => `p${p}-${i}`).join('\n');
    expect((await kch(produce, ['numbers', '--partition', String(p)], input)).code).toBe(ExitCode.OK);
  }
});
afterAll(() => broker?.close());

describe('kch consume: arguments', () => {
  it('prints its usage for --help', async () => {
    const r = await kch(consume, ['-h']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^Usage: kch consume <topic>/);
    expect(r.stdout).toContain('"valueEncoding":"base64"');
  });

  it.each([
    [[], /missing the topic to consume/],
    [['a', 'b'], /one topic only/],
    [['t', '--from-beginning', '--offset', '3'], /--from-beginning and --offset both say where to start/],
    [['t', '--group', 'g', '--offset', '3'], /--offset does not combine with --group/],
    [['t', '--group', 'g', '--partition', '0'], /--partition does not combine with --group/],
    [['t', '--format', 'avro'], /--format must be value or json, got "avro"/],
    [['t', '--format', 'json', '-K', ':'], /--key-separator applies to --format value/],
    [
      ['t', '--timestamp', 'yesterday'],
      /--timestamp needs milliseconds since the epoch or an ISO 8601 date-time/,
    ],
    [['t', '--max-messages', '0'], /--max-messages needs an integer of 1 or more/],
    [['t', '--offset', 'x'], /--offset needs an integer, got "x"/],
  ])('refuses %j with the usage and exit 2', async (args, message) => {
    const r = await kch(consume, args);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: kch consume');
  });

  it('exits 69 with the reason when no broker is reachable', async () => {
    const port = await freePort();
    const r = await run(consume, ['t', '-b', `localhost:${port}`]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toMatch(
      new RegExp(
        `cannot connect to localhost:${port}: .+; is a broker running\\? start one with \`kch broker\``,
      ),
    );
  });

  it('says so when the topic does not exist, without creating it', async () => {
    const r = await kch(consume, ['ghost', '-e']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('topic "ghost" does not exist');
    expect((await kch(topics, ['list'])).stdout).not.toContain('ghost');
  });

  it('says so when the partition does not exist', async () => {
    const r = await kch(consume, ['numbers', '-p', '5', '-e']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('topic "numbers" has no partition 5: it has 3 (0-2)');
  });
});

describe('kch consume: where to start and stop', () => {
  it('prints values from the beginning to the end (-e), partition by partition', async () => {
    const r = await kch(consume, ['numbers', '--from-beginning', '--exit-at-end']);
    expect(r.code).toBe(ExitCode.OK);
    expect(lines(r.stdout).sort()).toEqual(
      [0, 1, 2].flatMap((p) => [0, 1, 2, 3].map((i) => `p${p}-${i}`)).sort(),
    );
    for (const p of [0, 1, 2]) {
      const mine = lines(r.stdout).filter((l) => l.startsWith(`p${p}-`));
      expect(mine).toEqual([0, 1, 2, 3].map((i) => `p${p}-${i}`));
    }
    expect(r.stderr).toBe('Processed a total of 12 messages\n');
  });

  it('starts at the end by default', async () => {
    const r = await kch(consume, ['numbers', '-e']);
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: '', stderr: 'Processed a total of 0 messages\n' });
  });

  it('reads chosen partitions from an offset, or from n before the end', async () => {
    const at = await kch(consume, ['numbers', '-p', '1', '-p', '2', '--offset', '2', '-e']);
    expect(lines(at.stdout).sort()).toEqual(['p1-2', 'p1-3', 'p2-2', 'p2-3']);

    const tail = await kch(consume, ['numbers', '-p', '0', '--offset=-1', '-e']);
    expect(lines(tail.stdout)).toEqual(['p0-3']);

    const more = await kch(consume, ['numbers', '-p', '0', '--offset=-10', '-e']);
    expect(lines(more.stdout)).toHaveLength(4);
  });

  it('moves an offset past the end to the end, and says so with --verbose', async () => {
    const r = await kch(consume, ['numbers', '-p', '0', '--offset', '100', '-e', '-v']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'offset 100 is out of range for numbers-0; continuing from the latest offset 4',
    );
  });

  it('stops after --max-messages', async () => {
    const r = await kch(consume, ['numbers', '-p', '2', '--from-beginning', '-n', '3']);
    expect(r.code).toBe(ExitCode.OK);
    expect(lines(r.stdout)).toEqual(['p2-0', 'p2-1', 'p2-2']);
    expect(r.stderr).toBe('Processed a total of 3 messages\n');
  });

  it('starts at a time given in ms or ISO 8601', async () => {
    await kch(topics, ['create', 'timed']);
    const kafka = new Kafka(broker.bootstrap);
    try {
      const producer = await Producer.create(kafka, { topic: 'timed' });
      const base = Date.parse('2024-05-01T12:00:00Z');
      await producer.send(
        [0, 1, 2].map((i) => ({ key: null, value: Buffer.from(`t${i}`), timestamp: base + i * 60_000 })),
      );
    } finally {
      await kafka.close();
    }
    const iso = await kch(consume, ['timed', '--timestamp', '2024-05-01T12:00:30Z', '-e']);
    expect(lines(iso.stdout)).toEqual(['t1', 't2']);
    const ms = await kch(consume, ['timed', '--timestamp', String(Date.parse('2024-05-01T12:02:00Z')), '-e']);
    expect(lines(ms.stdout)).toEqual(['t2']);
    const after = await kch(consume, ['timed', '--timestamp', '2030-01-01T00:00:00Z', '-e']);
    expect(after.stdout).toBe('');
  });
});

describe('kch consume: formats', () => {
  it('prints JSON records, with base64 for bytes that are not UTF-8', async () => {
    await kch(topics, ['create', 'formats']);
    const kafka = new Kafka(broker.bootstrap);
    try {
      const producer = await Producer.create(kafka, { topic: 'formats' });
      await producer.send([
        {
          key: Buffer.from('k'),
          value: Buffer.from('{"a":1}'),
          headers: [
            { key: 'h', value: Buffer.from('v') },
            { key: 'bin', value: Buffer.from([0xc3, 0x28]) },
            { key: 'nil', value: null },
          ],
          timestamp: 1_700_000_000_000,
        },
        { key: Buffer.from([0xff]), value: null, timestamp: 1_700_000_000_001 },
      ]);
    } finally {
      await kafka.close();
    }
    const r = await kch(consume, ['formats', '--from-beginning', '-e', '-f', 'json']);
    expect(lines(r.stdout).map((l) => JSON.parse(l))).toEqual([
      {
        topic: 'formats',
        partition: 0,
        offset: 0,
        timestamp: 1_700_000_000_000,
        timestampType: 'CreateTime',
        key: 'k',
        value: '{"a":1}',
        headers: [
          { key: 'h', value: 'v' },
          { key: 'bin', value: Buffer.from([0xc3, 0x28]).toString('base64'), valueEncoding: 'base64' },
          { key: 'nil', value: null },
        ],
      },
      {
        topic: 'formats',
        partition: 0,
        offset: 1,
        timestamp: 1_700_000_000_001,
        timestampType: 'CreateTime',
        key: '/w==',
        keyEncoding: 'base64',
        value: null,
        headers: [],
      },
    ]);

    const plain = await kch(consume, ['formats', '--from-beginning', '-e', '-K', '=']);
    expect(plain.stdoutBytes).toEqual(Buffer.from('k={"a":1}\n\xff=\n', 'latin1'));
  });
});

describe('kch consume: running until stopped', () => {
  it('prints records as they arrive and stops cleanly when signalled', async () => {
    await kch(topics, ['create', 'live']);
    const m = memoryIO('', { KCH_BOOTSTRAP_SERVER: broker.bootstrap });
    const stop = new AbortController();
    const done = runConsume(['live', '--from-beginning', '-f', 'json'], m.io, stop.signal);
    await kch(produce, ['live'], 'a\nb\n');
    await waitFor(() => lines(m.stdout.text()).length === 2, 'two records');
    await kch(produce, ['live'], 'c\n');
    await waitFor(() => lines(m.stdout.text()).length === 3, 'the third record');
    stop.abort();
    expect(await done).toBe(ExitCode.OK);
    expect(values(m.stdout.text())).toEqual(['a', 'b', 'c']);
    expect(m.stderr.text()).toBe('Processed a total of 3 messages\n');
  });
});

describe('kch consume --group', () => {
  it('resumes from the offsets it committed', async () => {
    await kch(topics, ['create', 'resumable', '--partitions', '2']);
    await kch(produce, ['resumable', '-K', ':'], 'a:1\nb:2\nc:3\nd:4\n');

    const first = await kch(consume, ['resumable', '-g', 'resumer', '--from-beginning', '-e']);
    expect(first.code).toBe(ExitCode.OK);
    expect(lines(first.stdout).sort()).toEqual(['1', '2', '3', '4']);

    await kch(produce, ['resumable', '-K', ':'], 'e:5\n');
    const second = await kch(consume, ['resumable', '-g', 'resumer', '--from-beginning', '-e']);
    expect(lines(second.stdout)).toEqual(['5']);

    const none = await kch(consume, ['resumable', '-g', 'resumer', '-e']);
    expect(none.stdout).toBe('');
  });

  it('commits exactly what it printed when stopped by --max-messages', async () => {
    await kch(topics, ['create', 'limited']);
    await kch(produce, ['limited'], '1\n2\n3\n4\n5\n');
    expect(
      lines((await kch(consume, ['limited', '-g', 'limiter', '--from-beginning', '-n', '2'])).stdout),
    ).toEqual(['1', '2']);
    expect(lines((await kch(consume, ['limited', '-g', 'limiter', '-n', '2'])).stdout)).toEqual(['3', '4']);
    expect(lines((await kch(consume, ['limited', '-g', 'limiter', '-e'])).stdout)).toEqual(['5']);
  });

  it('starts a new group at the end without --from-beginning', async () => {
    const r = await kch(consume, ['numbers', '-g', 'latecomer', '-e', '-v']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('joined group "latecomer" (generation 1) with partitions 0,1,2 of numbers');
  });
});
