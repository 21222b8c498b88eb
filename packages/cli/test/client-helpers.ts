/** A broker on a free port and in-memory stdio, for the tests of the client commands. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { type Broker, type BrokerOptionsInput, createBroker, silentLogger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import type { CliIO, Command } from '../src/command.js';
import { ensureKchBuilt, MAIN, REPO_ROOT } from './kch-process.js';

export interface TestBroker {
  broker: Broker;
  bootstrap: string;
  close(): Promise<void>;
}

/** A broker on memory storage, on a free loopback port, rebalancing without delay. */
export async function startTestBroker(options: Partial<BrokerOptionsInput> = {}): Promise<TestBroker> {
  const broker = await createBroker({
    storage: memoryStorage(),
    logger: process.env.KCH_TEST_LOG ? undefined : silentLogger,
    groupInitialRebalanceDelayMs: 0,
    ...options,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, bootstrap: `${host}:${port}`, close: () => broker.close() };
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

export interface MemoryIO {
  io: CliIO;
  stdin: PassThrough;
  stdout: Collector;
  stderr: Collector;
}

/** stdio in memory: `input` is the whole of stdin (ended), unless `openStdin` keeps it open. */
export function memoryIO(
  input: string | Buffer = '',
  env: NodeJS.ProcessEnv = {},
  openStdin = false,
): MemoryIO {
  const stdin = new PassThrough();
  if (input.length > 0) stdin.write(input);
  if (!openStdin) stdin.end();
  const stdout = new Collector();
  const stderr = new Collector();
  return { io: { stdin, stdout, stderr, env }, stdin, stdout, stderr };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/** Runs a command in-process against `bootstrap` (given through KCH_BOOTSTRAP_SERVER). */
export async function run(
  command: Command,
  args: string[],
  options: { bootstrap?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  const env = { ...(options.bootstrap ? { KCH_BOOTSTRAP_SERVER: options.bootstrap } : {}), ...options.env };
  const m = memoryIO(options.input ?? '', env);
  const code = await command.run(args, m.io);
  return { code, stdout: m.stdout.text(), stderr: m.stderr.text(), stdoutBytes: m.stdout.bytes() };
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface SpawnedKch {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
}

/**
 * The real `kch` entry point (built from the current sources, see ./kch-process.ts) in a child
 * process, with `input` on stdin (kept open when undefined).
 */
export function spawnKch(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): SpawnedKch {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KCH_')));
  ensureKchBuilt();
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  if (options.input !== undefined) child.stdin.end(options.input);
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs the real `kch` to its end. */
export async function runKch(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const k = spawnKch(args, { input: options.input ?? '', env: options.env });
  const code = await k.exited;
  return { code, stdout: k.stdout(), stderr: k.stderr() };
}
