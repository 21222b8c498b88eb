/** The client commands through the real `kch` entry point in child processes, as a user runs them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import groups from '../src/commands/groups.js';
import {
  freePort,
  run,
  runKch,
  spawnKch,
  startTestBroker,
  type TestBroker,
  waitFor,
} from './client-helpers.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

describe('kch topics | produce | consume | groups, as processes', () => {
  it('creates, produces, consumes in a group until Ctrl-C, and shows the group caught up', async () => {
    const env = { KCH_BOOTSTRAP_SERVER: broker.bootstrap };
    const created = await runKch(['topics', 'create', 'events', '--partitions', '2'], { env });
    expect(created).toMatchObject({ code: ExitCode.OK, stdout: 'Created topic events.\n' });

    const produced = await runKch(['produce', 'events', '-K', ':', '-z', 'gzip', '-H', 'via=process'], {
      env,
      input: 'a:1\nb:2\nc:3\nd:4\n',
    });
    expect(produced).toMatchObject({ code: ExitCode.OK, stdout: '', stderr: '' });

    const consumer = spawnKch(['consume', 'events', '--group', 'procs', '--from-beginning', '-f', 'json'], {
      env,
    });
    const records = () =>
      consumer
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));
    await waitFor(() => records().length === 4, 'four records', 30_000);
    consumer.child.kill('SIGINT');
    expect(await consumer.exited).toBe(ExitCode.OK);
    expect(consumer.stderr()).toBe('Processed a total of 4 messages\n');
    expect(
      records()
        .map((r) => `${r.key}:${r.value}`)
        .sort(),
    ).toEqual(['a:1', 'b:2', 'c:3', 'd:4']);
    expect(records()[0].headers).toEqual([{ key: 'via', value: 'process' }]);

    // Ctrl-C committed and left the group: nothing left to read, no member left behind.
    const described = await run(groups, ['describe', 'procs', '--json'], { bootstrap: broker.bootstrap });
    const group = JSON.parse(described.stdout);
    expect(group.state).toBe('Empty');
    expect(group.offsets.map((o: { lag: number }) => o.lag)).toEqual([0, 0]);

    const table = await runKch(['groups', 'describe', 'procs'], { env });
    expect(table.code).toBe(ExitCode.OK);
    expect(table.stdout).toMatch(
      /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID$/m,
    );
  });

  it('exits 69 and says how to start a broker when none is reachable', async () => {
    const port = await freePort();
    const r = await runKch(['consume', 'events', '-b', `127.0.0.1:${port}`]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toBe(
      `kch consume: cannot connect to 127.0.0.1:${port}: connection refused; is a broker running? start one with \`kch broker\`\n`,
    );
  });

  it('exits 2 with the usage for bad arguments', async () => {
    const r = await runKch(['produce']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('kch produce: missing the topic to produce to');
    expect(r.stderr).toContain('Usage: kch produce <topic>');
  });
});
