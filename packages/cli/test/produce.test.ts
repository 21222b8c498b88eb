import { RawClient } from '@kch/kafka-connection';
import { CompressionType, readBatchHeader, splitBatches } from '@kch/protocol';
import { murmur2 as libraryMurmur2 } from '@platformatic/kafka';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBootstrap } from '../src/client/kafka-config.js';
import { murmur2, partitionForKey } from '../src/client/partitioner.js';
import { ExitCode } from '../src/command.js';
import consume from '../src/commands/consume.js';
import produce from '../src/commands/produce.js';
import topics from '../src/commands/topics.js';
import { freePort, run, startTestBroker, type TestBroker } from './client-helpers.js';

let broker: TestBroker;
const kch = (command: typeof produce, args: string[], input?: string | Buffer) =>
  run(command, args, { bootstrap: broker.bootstrap, input });

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  keyEncoding?: string;
  value: string | null;
  valueEncoding?: string;
  headers: { key: string; value: string | null; valueEncoding?: string }[];
}

/** Every record of a topic, through `kch consume --format json`. */
async function readAll(topic: string): Promise<JsonRecord[]> {
  const r = await kch(consume, [topic, '--from-beginning', '--exit-at-end', '--format', 'json']);
  expect(r.code).toBe(ExitCode.OK);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** `topic-partition@offset` lines of --verbose. */
function deliveries(stdout: string): { partition: number; offset: number }[] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => {
      const m = /^.+-(\d+)@(\d+)$/.exec(l);
      if (!m) throw new Error(`not a delivery line: ${l}`);
      return { partition: Number(m[1]), offset: Number(m[2]) };
    });
}

describe('kch produce: arguments', () => {
  it('prints its usage for --help', async () => {
    const r = await kch(produce, ['--help']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^Usage: kch produce <topic>/);
    expect(r.stdout).toContain('murmur2(key) % partitions');
  });

  it.each([
    [[], /missing the topic to produce to/],
    [['a', 'b'], /one topic only, got a b/],
    [['t', '--compression', 'brotli'], /--compression must be none, gzip, snappy, lz4 or zstd, got "brotli"/],
    [['t', '--acks', '2'], /--acks must be all, -1, 1 or 0, got "2"/],
    [['t', '--partition=-1'], /--partition needs an integer of 0 or more/],
    [['t', '--partition', '-1'], /--partition needs an integer of 0 or more, got "-1"/],
    [['t', '--partiton', '1'], /^kch produce: unknown option --partiton \(did you mean --partition\?\)\n/],
    [['t', '--null-marker', ''], /--null-marker must not be empty \(-Z sends empty values as null\)/],
    [['t', '--null-marker', 'a\nb'], /--null-marker cannot hold a line break/],
    [['t', '--null-empty=yes'], /^kch produce: --null-empty takes no value\n/],
    [['t', '--key-separator', ''], /--key-separator must not be empty/],
    [['t', '--header', 'novalue'], /--header needs key=value, got "novalue"/],
  ])('refuses %j with the usage and exit 2', async (args, message) => {
    const r = await kch(produce, args, 'x\n');
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: kch produce');
  });

  it('exits 69 with the reason when no broker is reachable', async () => {
    const port = await freePort();
    const r = await run(produce, ['t', '-b', `127.0.0.1:${port}`], { input: 'x\n' });
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toContain(
      `cannot connect to 127.0.0.1:${port}: connection refused; is a broker running?`,
    );
  });
});

describe('kch produce', () => {
  it('produces each line as a record, silently, and they consume back in order', async () => {
    await kch(topics, ['create', 'lines']);
    const r = await kch(produce, ['lines'], 'one\ntwo\r\n\nthree');
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: '', stderr: '' });
    const records = await readAll('lines');
    // \r\n ends a line too; an empty line is an empty value; the last line needs no newline.
    expect(records.map((x) => x.value)).toEqual(['one', 'two', '', 'three']);
    expect(records.map((x) => x.offset)).toEqual([0, 1, 2, 3]);
    expect(records.every((x) => x.key === null && x.headers.length === 0)).toBe(true);
    expect(Math.abs(records[0]!.timestamp - Date.now())).toBeLessThan(60_000);
  });

  it('splits keys at --key-separator, adds --header to every record, and reports offsets with --verbose', async () => {
    await kch(topics, ['create', 'keyed']);
    const r = await kch(
      produce,
      ['keyed', '-K', '::', '-H', 'source=cli', '-H', 'trace=a=b', '--verbose'],
      'k1::v1\nk2::v::2\n::empty key\n',
    );
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toBe('keyed-0@0\nkeyed-0@1\nkeyed-0@2\n');
    const records = await readAll('keyed');
    expect(records.map((x) => [x.key, x.value])).toEqual([
      ['k1', 'v1'],
      ['k2', 'v::2'],
      ['', 'empty key'],
    ]);
    expect(records[0]!.headers).toEqual([
      { key: 'source', value: 'cli' },
      { key: 'trace', value: 'a=b' },
    ]);
  });

  it('fails on a line without the key separator, after producing the lines before it', async () => {
    await kch(topics, ['create', 'strict']);
    const r = await kch(produce, ['strict', '-K', ':'], 'a:1\nb:2\nnoseparator\nc:3\n');
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('line 3 has no key separator ":" (the lines before it were produced)');
    expect((await readAll('strict')).map((x) => x.key)).toEqual(['a', 'b']);
  });

  it('sends tombstones: -Z makes empty values (and with -K empty keys) null, --null-marker those equal to it', async () => {
    await kch(topics, ['create', 'tombstones', '--partitions', '1']);
    const z = await kch(produce, ['tombstones', '-K', ':', '-Z'], 'user1:\n:keyless\nuser2:v2\n');
    expect(z).toMatchObject({ code: ExitCode.OK, stderr: '' });
    // Without -K the key is null anyway; an empty line is a null value.
    expect((await kch(produce, ['tombstones', '--null-empty'], '\n')).code).toBe(ExitCode.OK);
    const marked = await kch(
      produce,
      ['tombstones', '-K', ':', '--null-marker', 'NULL'],
      'user1:NULL\nNULL:v\nuser3:\nuser4:NULLish\n',
    );
    expect(marked.code).toBe(ExitCode.OK);
    // Without either, empty stays empty: a value of zero bytes, not a tombstone.
    expect((await kch(produce, ['tombstones', '-K', ':'], 'user5:\n')).code).toBe(ExitCode.OK);
    expect((await readAll('tombstones')).map((r) => [r.key, r.value])).toEqual([
      ['user1', null],
      [null, 'keyless'],
      ['user2', 'v2'],
      [null, null],
      ['user1', null],
      [null, 'v'],
      ['user3', ''],
      ['user4', 'NULLish'],
      ['user5', ''],
    ]);
  });

  it('keeps bytes exact: invalid UTF-8 comes back as base64', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
    const r = await kch(produce, ['binary'], Buffer.concat([bytes, Buffer.from('\n')]));
    expect(r.code).toBe(ExitCode.OK);
    const [record] = await readAll('binary');
    expect(record).toMatchObject({ value: bytes.toString('base64'), valueEncoding: 'base64', key: null });
  });

  it('puts a keyed record where the Java producer (and kafkajs) would', async () => {
    await kch(topics, ['create', 'hashed', '--partitions', '4']);
    const keys = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const r = await kch(produce, ['hashed', '-K', '\t', '-v'], keys.map((k) => `${k}\tv`).join('\n'));
    expect(r.code).toBe(ExitCode.OK);
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    const expected = keys.map((key) =>
      partitioner({ topic: 'hashed', partitionMetadata, message: { key, value: 'v' } }),
    );
    expect(deliveries(r.stdout).map((d) => d.partition)).toEqual(expected);
    expect(new Set(expected).size).toBeGreaterThan(1);
  });

  it('sends keyless records of one read to one partition (sticky), and --partition overrides', async () => {
    await kch(topics, ['create', 'sticky', '--partitions', '3']);
    const r = await kch(produce, ['sticky', '-v'], 'a\nb\nc\nd\ne\n');
    const parts = deliveries(r.stdout).map((d) => d.partition);
    expect(parts).toHaveLength(5);
    expect(new Set(parts).size).toBe(1);

    const pinned = await kch(produce, ['sticky', '-v', '--partition', '2', '-K', ':'], 'k1:a\nk2:b\n');
    expect(deliveries(pinned.stdout).map((d) => d.partition)).toEqual([2, 2]);

    const missing = await kch(produce, ['sticky', '--partition', '7'], 'x\n');
    expect(missing.code).toBe(ExitCode.FAILURE);
    expect(missing.stderr).toContain('topic "sticky" has no partition 7: it has 3 (0-2)');
  });

  it.each([
    ['none', CompressionType.None],
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ])('compresses with %s, and keys, values and headers round-trip', async (codec, type) => {
    const topic = `compressed-${codec}`;
    const lines = Array.from({ length: 50 }, (_, i) => `key-${i}|${'value '.repeat(i)}${i}`);
    const r = await kch(
      produce,
      [topic, '-z', codec, '-K', '|', '-H', `codec=${codec}`],
      `${lines.join('\n')}\n`,
    );
    expect(r).toMatchObject({ code: ExitCode.OK, stderr: '' });
    const records = await readAll(topic);
    expect(records.map((x) => `${x.key}|${x.value}`)).toEqual(lines);
    expect(records.every((x) => x.headers[0]?.value === codec)).toBe(true);
    expect(await storedCodecs(topic)).toEqual([type]);
  });

  it('produces with acks=1 and acks=0', async () => {
    expect((await kch(produce, ['acks', '--acks', '1', '-v'], 'one\n')).stdout).toBe('acks-0@0\n');
    const r = await kch(produce, ['acks', '--acks', '0', '-v'], 'zero\n');
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: 'acks-0@unknown (acks=0)\n' });
    // acks=0 gets no answer: wait for the broker to have appended it.
    for (let i = 0; i < 50 && (await readAll('acks')).length < 2; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect((await readAll('acks')).map((x) => x.value)).toEqual(['one', 'zero']);
  });

  it("reports the broker's refusal: a record over max.message.bytes", async () => {
    await kch(topics, ['create', 'small', '--config', 'max.message.bytes=200']);
    const r = await kch(produce, ['small'], `${'x'.repeat(1000)}\n`);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('producing to small-0 failed: MESSAGE_TOO_LARGE');
    expect(r.stderr).toContain('max.message.bytes');
  });

  it('creates a missing topic when the broker auto-creates, and says it is missing otherwise', async () => {
    expect((await kch(produce, ['auto-created'], 'x\n')).code).toBe(ExitCode.OK);
    expect((await kch(topics, ['list'])).stdout.split('\n')).toContain('auto-created');

    const strict = await startTestBroker({ autoCreateTopics: false });
    try {
      const r = await run(produce, ['nowhere'], { bootstrap: strict.bootstrap, input: 'x\n' });
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stderr).toContain(
        'topic "nowhere" does not exist; create it with `kch topics create nowhere`',
      );
    } finally {
      await strict.close();
    }
  });

  it('produces nothing from empty input', async () => {
    await kch(topics, ['create', 'empty-input']);
    expect(await kch(produce, ['empty-input'], '')).toMatchObject({
      code: ExitCode.OK,
      stdout: '',
      stderr: '',
    });
    expect(await readAll('empty-input')).toEqual([]);
  });
});

describe('partitioner', () => {
  it("matches Kafka's murmur2 test vectors (UtilsTest)", () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, h] of cases) expect(murmur2(Buffer.from(s))).toBe(h);
  });

  it("agrees with @platformatic/kafka's murmur2 (which kch does not use on its hot path: it computes in BigInt)", () => {
    for (let i = 0; i < 500; i++) {
      const key = Buffer.from(`key-${i}-${'x'.repeat(i % 7)}`);
      expect(murmur2(key)).toBe(libraryMurmur2(key));
    }
  });

  it('never gives a negative partition', () => {
    for (let i = 0; i < 1000; i++) {
      const p = partitionForKey(Buffer.from(`k${i}`), 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
  });
});

/** The codec of each stored batch of partition 0, read with a raw Fetch. */
async function storedCodecs(topic: string): Promise<number[]> {
  const [{ host, port }] = parseBootstrap(broker.bootstrap) as [{ host: string; port: number }];
  const client = await RawClient.connect(host, port);
  try {
    const response = await client.send('Fetch', 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 24,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 24,
            },
          ],
        },
      ],
    });
    const records = response.responses[0]!.partitions[0]!.records!;
    return splitBatches(records).batches.map((b) => readBatchHeader(b).compression);
  } finally {
    client.close();
  }
}
