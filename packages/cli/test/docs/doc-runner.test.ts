/** The doc runner itself: how it reads a document, and that a document that drifted fails it. */
import { describe, expect, it } from 'vitest';
import { brokerStartArgs, PortMap, shellWords } from './doc-broker.js';
import {
  DocMismatch,
  isCompleteCommand,
  normalize,
  outputMatches,
  parseBlocks,
  planDoc,
  runMarkdown,
} from './doc-runner.js';

const fence = '```';

describe('reading a document', () => {
  it('takes `$ ` lines as commands and the lines after them as their output', () => {
    const [step] = planDoc(
      [
        `${fence}`,
        '$ kch topics create orders',
        'Created topic orders.',
        `$ kch sql "SELECT 1,`,
        `  2"`,
        '1\t2',
        '$ echo a \\',
        '  b',
        '$ kch sql <<SQL',
        'SELECT 1',
        'SQL',
        '1',
        fence,
      ].join('\n'),
    );
    expect(step!.kind).toBe('session');
    if (step!.kind !== 'session') return;
    expect(step!.commands.map((c) => [c.command, c.expected, c.line])).toEqual([
      ['kch topics create orders', ['Created topic orders.'], 2],
      ['kch sql "SELECT 1,\n  2"', ['1\t2'], 4],
      ['echo a \\\n  b', [], 7],
      ['kch sql <<SQL\nSELECT 1\nSQL', ['1'], 9],
    ]);
  });

  it('knows when a command is complete', () => {
    expect(isCompleteCommand(`echo 'it''s'`)).toBe(true);
    expect(isCompleteCommand(`echo "a \\" b`)).toBe(false);
    expect(isCompleteCommand(`echo "a \\" b"`)).toBe(true);
    expect(isCompleteCommand(`echo $'a\\'b'`)).toBe(true);
    expect(isCompleteCommand(`echo a # it's a comment`)).toBe(true);
    expect(isCompleteCommand('cat <<-EOF\n\tx\n\tEOF')).toBe(true);
    expect(isCompleteCommand("cat <<'EOF'\nx")).toBe(false);
    expect(isCompleteCommand("kch produce t <<< 'x'")).toBe(true);
  });

  it('runs sh blocks as scripts, SQL with the block after it as output, and follows directives', () => {
    const steps = planDoc(
      [
        `${fence}sh`,
        'kch sql "CREATE DATABASE shop"',
        fence,
        '',
        `${fence}sql`,
        'SELECT 1',
        fence,
        '',
        fence,
        '1',
        fence,
        '',
        `${fence}sql`,
        'CREATE TABLE t (x UInt8) ENGINE = Memory',
        fence,
        'Some text.',
        fence,
        'not output: text came between',
        fence,
        '<!-- doc-test: file view.sql -->',
        `${fence}sql`,
        'SELECT 2',
        fence,
        '<!-- doc-test: skip needs a ClickHouse server -->',
        '',
        `${fence}sh`,
        'kch broker --storage http://localhost:8123',
        fence,
        `${fence}json`,
        '{}',
        fence,
      ].join('\n'),
    );
    expect(
      steps.map((s) => [
        s.kind,
        s.block.line,
        s.kind === 'sql' ? (s.expected?.lines ?? null) : s.kind === 'skip' ? s.reason : null,
      ]),
    ).toEqual([
      ['script', 1, null],
      ['sql', 5, ['1']],
      ['sql', 13, null],
      ['text', 17, null],
      ['file', 21, null],
      ['skip', 26, 'needs a ClickHouse server'],
      ['text', 29, null],
    ]);
  });

  it('refuses a skip without a reason, and directives it does not know', () => {
    expect(() => parseBlocks(`<!-- doc-test: skip -->\n${fence}sh\nkch\n${fence}`)).toThrow(/needs a reason/);
    expect(() => parseBlocks(`<!-- doc-test: only -->\n${fence}sh\nkch\n${fence}`)).toThrow(/unknown/);
    expect(() => parseBlocks(`<!-- doc-test: cwd /etc -->\n${fence}sh\nls\n${fence}`)).toThrow(/clone/);
    expect(parseBlocks(`<!-- doc-test: cwd examples/x -->\n${fence}sh\nls\n${fence}`)[0]!.directive).toEqual({
      kind: 'cwd',
      dir: 'examples/x',
    });
  });

  it('restarts the broker where a broker directive says, standing for a `$ kch broker` session', () => {
    const steps = planDoc(
      [
        '<!-- doc-test: broker -->',
        fence,
        '$ kch broker --server-properties server.properties',
        'kch 0.1.0: a Kafka-compatible broker on ClickHouse',
        fence,
        `<!-- doc-test: broker --override 'ssl.principal.mapping.rules=RULE:^CN=(.*?)$/$1/' -->`,
        `${fence}sh`,
        'kcat -b localhost:9093 -L',
        fence,
      ].join('\n'),
    );
    expect(steps.map((s) => [s.kind, s.block.line, s.kind === 'broker' ? s.args : null])).toEqual([
      ['broker', 2, ['--server-properties', 'server.properties']],
      ['broker', 7, ['--override', 'ssl.principal.mapping.rules=RULE:^CN=(.*?)$/$1/']],
      ['script', 7, null],
    ]);
    const [start] = steps;
    expect(start!.kind === 'broker' && start!.banner?.expected).toEqual([
      'kch 0.1.0: a Kafka-compatible broker on ClickHouse',
    ]);
    expect(() => planDoc(`<!-- doc-test: broker -->\n${fence}sh\nkcat -L\n${fence}`)).toThrow(
      /needs arguments/,
    );
    expect(() =>
      planDoc(`<!-- doc-test: broker -->\n${fence}\n$ kch broker\n$ kch topics list\n${fence}`),
    ).toThrow(/nothing can follow/);
  });

  it('maps documented ports to real ones and back, and completes the broker arguments', () => {
    const ports = new PortMap(
      new Map([
        [9092, 41001],
        [9644, 41002],
        [9093, 41003],
      ]),
    );
    expect(
      ports.toRun(
        'listeners=PLAINTEXT://127.0.0.1:9092,SASL_SSL://localhost:9093,SSL://:9093 https://localhost:9644',
      ),
    ).toBe(
      'listeners=PLAINTEXT://127.0.0.1:41001,SASL_SSL://localhost:41003,SSL://:41003 https://localhost:41002',
    );
    expect(ports.toRun('example.com:9093 127.0.0.1:90930 localhost:9094')).toBe(
      'example.com:9093 127.0.0.1:90930 localhost:9094',
    );
    expect(
      ports.fromRun('broker 1 at localhost:41003 (sasl_ssl://localhost:41003/1), 127.0.0.1:410031'),
    ).toBe('broker 1 at localhost:9093 (sasl_ssl://localhost:9093/1), 127.0.0.1:410031');
    expect(shellWords(`a 'b c' "d \\"e\\"" f\\ g ''`)).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
    expect(brokerStartArgs(['--server-properties', 'server.properties'], ports, 'chdb:/d')).toEqual([
      'broker',
      '--server-properties',
      'server.properties',
      '--storage',
      'chdb:/d',
      '--admin-port',
      '41002',
    ]);
    expect(brokerStartArgs(['--partitions', '3', '--admin-port', '9644'], ports, 'memory')).toEqual([
      'broker',
      '--partitions',
      '3',
      '--admin-port',
      '41002',
      '--storage',
      'memory',
      '--port',
      '41001',
    ]);
  });

  it('normalizes only what varies per run', () => {
    expect(normalize('storage   embedded ClickHouse (chdb) in /home/ann/kch/kch-data, database kafka')).toBe(
      'storage   embedded ClickHouse (chdb) in <dir>/kch-data, database kafka',
    );
    expect(normalize('Topic: orders\tTopicId: NtYUIuUh8xOaKo46523E4A\tPartitionCount: 3')).toBe(
      'Topic: orders\tTopicId: <topic id>\tPartitionCount: 3',
    );
    expect(normalize('{"offset":0,"timestamp":1795352713372,"key":"a"}')).toBe(
      '{"offset":0,"timestamp":<ms>,"key":"a"}',
    );
    expect(normalize("'2026-11-22 13:01:31.550'")).toBe("'<date-time>'");
    expect(normalize('stored in /tmp/tmp.OAOxAM2LJl:')).toBe('stored in /tmp/tmp.<random>:');
    // Not a run's time: as written.
    expect(normalize('12.50 2024-06-03 09:15:00 1717416000')).toBe('12.50 2024-06-03 09:15:00 1717416000');
  });

  it('reads `...` alone on a line as one or more lines', () => {
    expect(outputMatches('a\n...\nz', 'a\nb\nc\nz')).toBe(true);
    expect(outputMatches('a\n...\nz', 'a\nb\nz')).toBe(true);
    expect(outputMatches('a\n...\nz', 'a\nz')).toBe(false);
    expect(outputMatches('a\n...\nz', 'a\nb\ny')).toBe(false);
    expect(outputMatches('a.b', 'axb')).toBe(false);
  });
});

describe('running a document against a broker', () => {
  const doc = (created: string) =>
    [
      '# A doc',
      '',
      fence,
      '$ kch topics create notes --partitions 2',
      created,
      `$ printf 'a:1\\nb:2\\n' | kch produce notes -K: -v`,
      'notes-0@0',
      'notes-0@1',
      `$ echo 'to stderr' >&2; (exit 3); echo "exit $?"`,
      'to stderr',
      'exit 3',
      fence,
    ].join('\n');

  it('passes when every command prints what the document shows', async () => {
    const run = await runMarkdown('ok.md', doc('Created topic notes.'), { storage: 'memory' });
    expect(run.ran).toEqual([{ line: 3, kind: 'session' }]);
  });

  it('fails at the command whose output differs, saying where and showing both', async () => {
    const failed = await runMarkdown('drifted.md', doc('Created topic notes!'), { storage: 'memory' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(DocMismatch);
    const e = failed as DocMismatch;
    expect(e.line).toBe(4);
    expect(e.expected).toBe('Created topic notes!');
    expect(e.actual).toBe('Created topic notes.');
    expect(e.message).toMatch(/^drifted\.md:4: kch topics create notes --partitions 2\n/);
  });

  it('restarts the broker with the listeners of a server.properties, on ports standing for 9092 and 9093', async () => {
    const markdown = [
      '<!-- doc-test: file server.properties -->',
      `${fence}properties`,
      'listeners=PLAINTEXT://127.0.0.1:9092,LOCAL://localhost:9093',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,LOCAL:PLAINTEXT',
      fence,
      '<!-- doc-test: broker -->',
      fence,
      '$ kch broker --server-properties server.properties',
      'kch 0.1.0: a Kafka-compatible broker on ClickHouse',
      '',
      '  Kafka     127.0.0.1:9092  (PLAINTEXT)',
      '            localhost:9093  (LOCAL, PLAINTEXT)',
      '...',
      fence,
      fence,
      '$ kch topics create notes -b localhost:9093',
      'Created topic notes.',
      '$ kch topics list',
      'notes',
      fence,
      '<!-- doc-test: broker --partitions 2 -->',
      fence,
      '$ kch topics create more',
      'Created topic more.',
      '$ kch topics describe more | head -1 | cut -f3',
      'PartitionCount: 2',
      fence,
    ].join('\n');
    const run = await runMarkdown('restart.md', markdown, { storage: 'memory' });
    expect(run.ran.map((r) => r.kind)).toEqual(['file', 'broker', 'session', 'broker', 'session']);
  }, 60_000);
});
