/**
 * A ClickHouse that several processes share: ./clickhouse-http-server.ts in a child process, on a
 * data directory of its own (removed at stop), serving ClickHouse's HTTP interface on a free port of
 * 127.0.0.1. Brokers in processes of their own point `clickhouseStorage({ url })` at it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SERVER = fileURLToPath(new URL('./clickhouse-http-server.ts', import.meta.url));
/**
 * tsx's loader for `node --import` in child processes that run TypeScript sources: by file URL rather
 * than `--import tsx`, which node resolves from the working directory.
 */
export const TSX_LOADER = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
).href;
/** Opening chdb takes about a second; a loaded machine running many test files at once, far more. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface SharedClickHouseOptions {
  /** A ZooKeeper (`host:port`) as the engine's Keeper, which KeeperMap tables need. */
  zookeeper?: string;
  /** Where KeeperMap tables keep their data in ZooKeeper (with `zookeeper`; default `/kch`). */
  keeperPrefix?: string;
}

export interface SharedClickHouse {
  /** `http://127.0.0.1:PORT`, ClickHouse's HTTP interface. */
  url: string;
  dataDir: string;
  /** The server's process, where ClickHouse runs (the bench reads its CPU time from /proc). */
  pid: number;
  /** Ends the process and removes its data directory. */
  stop(): Promise<void>;
}

export async function startSharedClickHouse(
  options: SharedClickHouseOptions = {},
): Promise<SharedClickHouse> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kch-shared-ch-'));
  const args = ['--data-dir', dataDir];
  if (options.zookeeper !== undefined) args.push('--zookeeper', options.zookeeper);
  if (options.keeperPrefix !== undefined) args.push('--keeper-prefix', options.keeperPrefix);
  // node itself, not npx: signals reach the server's own process. Its stdin stays open as long as this
  // process lives, so that it ends with this one even when no stop() runs.
  const child = spawn(process.execPath, ['--import', TSX_LOADER, SERVER, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // 'error' without 'exit' when the process could not be started at all.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  try {
    const url = await readyUrl(child, () => stderr);
    return {
      url,
      dataDir,
      pid: child.pid!,
      async stop() {
        await end(child, exited);
        remove();
      },
    };
  } catch (e) {
    await end(child, exited);
    remove();
    throw e;
  }
}

/** The url of the server's ready line; rejects, with its stderr, if it exits or times out first. */
function readyUrl(child: ChildProcessWithoutNullStreams, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`the shared ClickHouse (${SERVER}) ${why}; its stderr:\n${stderr()}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n', 1)[0]!;
      if (line.length === out.length) return; // not a whole line yet
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        fail(`printed ${JSON.stringify(line)} instead of its url`);
      }
    });
    child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it served`));
    child.once('error', (e) => fail(`could not be started: ${e.message}`));
  });
}

/** Asks the process to end (SIGTERM), kills it if it has not after a while, and waits for it. */
async function end(child: ChildProcessWithoutNullStreams, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  child.stdin.destroy();
}
