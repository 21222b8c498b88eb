/**
 * A ClickHouse in a process of its own for the bench: the HTTP stand-in over chdb that the storage
 * tests use (packages/storage/test/clickhouse-http-server.ts), started as a child by its path (the
 * bench imports nothing of the tests), on a data directory the caller removes. A broker on
 * `clickhouseStorage({ url })` then holds no ClickHouse in its own process, so its RSS is Node's.
 *
 *   npx tsx bench/lib/clickhouse-http.ts     # prints {"url":"http://127.0.0.1:PORT","pid":N}; Ctrl-C ends it
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './children.js';

const SERVER = 'packages/storage/test/clickhouse-http-server.ts';

export interface ClickHouseHttp {
  url: string;
  /** The server's process, where ClickHouse runs. */
  pid: number;
  /** Ends the process (its stdin closes) and removes its data directory. */
  stop(): Promise<void>;
}

export async function startClickHouseHttp(): Promise<ClickHouseHttp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kch-bench-ch-'));
  // Its stdin stays open while this process lives: it ends with the harness even without stop().
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', join(ROOT, SERVER), '--data-dir', dataDir],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.stdin.end();
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    void exited.then(() => reject(new Error(`the ClickHouse HTTP stand-in exited: ${stderr}`)));
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { url, pid: child.pid!, stop };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const ch = await startClickHouseHttp();
  process.stdout.write(`${JSON.stringify({ url: ch.url, pid: ch.pid })}\n`);
  const end = () => void ch.stop().then(() => process.exit(0));
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
}
