/**
 * One Ctrl-C is one stop request, even when a wrapper passes it on a second time: a second signal within
 * the grace period of the first is taken as the same. The signals are real: sent to this process for the
 * rule itself, to `kch` child processes for the broker and a group consumer.
 *
 * The two signals are SIGINT and SIGTERM: two of one kind sent back to back may merge into one in the
 * kernel, two of different kinds never do.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import groups from '../src/commands/groups.js';
import produce from '../src/commands/produce.js';
import topics from '../src/commands/topics.js';
import { onStopSignals } from '../src/signals.js';
import { run, spawnKch, startTestBroker, type TestBroker, waitFor } from './client-helpers.js';
import { brokerArgs } from './kch-process.js';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

/**
 * SIGINT and SIGTERM to a child, both pending when it runs again: sent while it is stopped (SIGSTOP, as
 * Ctrl-Z stops a job), they are delivered together when it continues. Sent to a running child, the
 * first could complete the stop (a memory broker stops in a few milliseconds) before the second even
 * arrived, and the test would pass whatever a second signal did.
 */
async function signalTwiceAtOnce(child: ChildProcess): Promise<void> {
  child.kill('SIGSTOP');
  // The state field of /proc/<pid>/stat (after the parenthesised name) is T once it stopped.
  await waitFor(
    () => / T /.test(readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\)/s, '')),
    'the child to stop',
  );
  child.kill('SIGINT');
  child.kill('SIGTERM');
  child.kill('SIGCONT');
}

/** Sends SIGINT then SIGTERM to this process; resolves with what the handlers saw once two were seen. */
async function twoSignals(graceMs: number): Promise<string[]> {
  const seen: string[] = [];
  let second!: () => void;
  const done = new Promise<void>((resolve) => {
    second = resolve;
  });
  const dispose = onStopSignals(
    {
      stop: () => seen.push('stop'),
      force: () => {
        seen.push('force');
        second();
      },
      repeated: () => {
        seen.push('repeated');
        second();
      },
    },
    graceMs,
  );
  try {
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGTERM');
    await done;
    return seen;
  } finally {
    dispose();
  }
}

describe('stop signals', () => {
  it('take a second signal within the grace period as the first one', async () => {
    expect(await twoSignals(60_000)).toEqual(['stop', 'repeated']);
  });

  it('take a second signal after the grace period as "exit now"', async () => {
    expect(await twoSignals(0)).toEqual(['stop', 'force']);
  });
});

describe('kch broker, signalled twice at once', () => {
  // While embedded ClickHouse opens (seconds), so that the broker surely handles both signals before
  // its graceful stop is done: a running memory broker stops in a millisecond or two.
  it('stops gracefully, during start-up too, and exits 0', async () => {
    const kch = spawnKch(brokerArgs(`chdb:${tempDir('kch-signals-')}`));
    await waitFor(() => kch.stderr().includes('"msg":"opening storage"'), 'the broker to open storage');
    await signalTwiceAtOnce(kch.child);
    expect(await kch.exited).toBe(ExitCode.OK);
    const messages = kch
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toContain('shutting down');
    expect(
      messages.filter((m) => m.startsWith('signal within 1000 ms of the first, taken as the same')),
    ).toHaveLength(1);
    expect(messages).toContain('stopped');
    // It never listened: the stop came first.
    expect(kch.stdout()).toBe('');
    expect(messages).not.toContain('listening');
  });
});

describe('kch consume --group, signalled twice at once', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(() => broker?.close());

  it('still commits, leaves the group and prints its summary', async () => {
    const bootstrap = broker.bootstrap;
    expect((await run(topics, ['create', 'twice'], { bootstrap })).code).toBe(ExitCode.OK);
    expect((await run(produce, ['twice'], { bootstrap, input: 'a\nb\n' })).code).toBe(ExitCode.OK);
    const consumer = spawnKch(['consume', 'twice', '--group', 'once', '--from-beginning'], {
      env: { KCH_BOOTSTRAP_SERVER: bootstrap },
    });
    await waitFor(() => consumer.stdout() === 'a\nb\n', 'the two records', 30_000);
    await signalTwiceAtOnce(consumer.child);
    expect(await consumer.exited).toBe(ExitCode.OK);
    expect(consumer.stderr()).toBe('Processed a total of 2 messages\n');
    // It left the group (no member stays behind until its session times out) and committed.
    const described = await run(groups, ['describe', 'once', '--json'], { bootstrap });
    const group = JSON.parse(described.stdout);
    expect(group.state).toBe('Empty');
    expect(group.members).toEqual([]);
    expect(group.offsets.map((o: { currentOffset: number }) => o.currentOffset)).toEqual([2]);
  });
});
