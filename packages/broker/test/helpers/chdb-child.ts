/**
 * A broker on embedded ClickHouse in a child process (../scripts/chdb-broker.ts), for the tests that
 * kill it with SIGKILL: resolves once it listens, with its port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../scripts/chdb-broker.ts', import.meta.url));

export function startChdbChild(
  dir: string,
  database: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    // node itself, not npx, so that SIGKILL reaches the broker's own process.
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', script, dir, database], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('exit', (code) => reject(new Error(`broker exited with ${code}: ${err}`)));
  });
}
