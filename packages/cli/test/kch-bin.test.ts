/**
 * The installed `kch` command (node_modules/.bin/kch: linked by `pnpm install`, built by its prepare
 * script), started as a user's shell or a supervisor (systemd, a container runtime, a CI runner) starts
 * it: stdout carries the command's output and nothing else, and a SIGTERM to the started process stops
 * the broker gracefully, since no wrapper stands between the two.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { brokerArgs, installedKch, KCH_BIN, type RunningKch, runKch, startKch } from './kch-process.js';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const kch = installedKch();

/** Whether something accepts connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function logMessages(stderr: string): { msg: string; signal?: string }[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('the installed kch command', () => {
  // Each test says why it is skipped (vitest prints ctx.skip's reason; describe.skipIf's is lost).
  beforeEach((ctx) => ctx.skip(!kch.available, kch.reason));
  const dataDir = tempDir('kch-bin-');
  const args = brokerArgs(`chdb:${dataDir}`, '--group-initial-rebalance-delay-ms', '0');
  let broker: RunningKch;
  const bin = (a: string[], input?: string) =>
    runKch(a, { bin: KCH_BIN, env: { KCH_BOOTSTRAP_SERVER: broker.bootstrap }, ...(input ? { input } : {}) });

  beforeAll(async () => {
    if (kch.available) broker = await startKch(args, { bin: KCH_BIN });
  });
  afterAll(async () => {
    await broker?.stop('SIGKILL');
  });

  it('is the broker process itself: the shim execs node, so a signal to it reaches the broker', () => {
    const argv = readFileSync(`/proc/${broker.child.pid}/cmdline`, 'utf8').split('\0');
    expect(basename(argv[0]!)).toMatch(/^node/);
    expect(argv[1]).toMatch(/packages\/cli\/bin\/kch\.js$|@kch\/cli\/bin\/kch\.js$/);
  });

  it('prints only the output of kch topics list and kch sql on stdout', async () => {
    expect(await bin(['topics', 'create', 'orders'])).toMatchObject({
      code: 0,
      stdout: 'Created topic orders.\n',
    });
    expect(await bin(['produce', 'orders', '-K', ':'], 'alice:1\nbob:2\n')).toMatchObject({ code: 0 });
    expect(await bin(['topics', 'list'])).toMatchObject({ code: 0, stdout: 'orders\n', stderr: '' });
    const csv = await bin([
      'sql',
      '--admin-url',
      broker.adminUrl!,
      '--format',
      'CSVWithNames',
      'SELECT key, value FROM kafka.orders ORDER BY offset',
    ]);
    expect(csv).toMatchObject({ code: 0, stdout: '"key","value"\n"alice","1"\n"bob","2"\n', stderr: '' });
  });

  it('stops the broker gracefully on SIGTERM to the started process, and keeps what was produced', async () => {
    const { port } = broker.kafka;
    expect(broker.child.kill('SIGTERM')).toBe(true);
    expect(await broker.exited).toEqual({ code: 0, signal: null });
    expect(logMessages(broker.stderr()).map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'closed', 'stopped']),
    );
    expect(logMessages(broker.stderr()).find((l) => l.msg === 'shutting down')?.signal).toBe('SIGTERM');
    expect(await accepts(port)).toBe(false);

    // Nothing kept the data directory open (embedded ClickHouse allows one process): a new broker opens
    // it and has the records.
    broker = await startKch(args, { bin: KCH_BIN });
    const rows = await bin([
      'sql',
      '--admin-url',
      broker.adminUrl!,
      'SELECT key, value FROM kafka.orders ORDER BY offset',
    ]);
    expect(rows).toMatchObject({ code: 0, stdout: 'alice\t1\nbob\t2\n' });
    expect((await broker.stop('SIGTERM')).code).toBe(0);
  });
});
