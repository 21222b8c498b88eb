/**
 * The real `kch` CLI in a child process (node + tsx on the TypeScript sources), as a user runs it:
 * start it, read the banner for the ports it took, talk to it, signal it, read its exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '..', '..', '..');
export const MAIN = join(here, '..', 'src', 'main.ts');
const TSX_LOADER = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
).href;

/** Environment for a child: no KCH_* from the test runner's environment leaks in. */
function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KCH_')));
  return { ...base, ...env };
}

/** `kch broker` arguments for a test: Kafka and admin ports that the system picks, on `storage`. */
export function brokerArgs(storage: string, ...more: string[]): string[] {
  return ['broker', '--port', '0', '--admin-port', '0', '--storage', storage, ...more];
}

export interface KchRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `kch <args>` to its end. */
export function runKch(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<KchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', TSX_LOADER, MAIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: childEnv(options.env),
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
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface RunningKch {
  child: ChildProcess;
  kafka: { host: string; port: number };
  bootstrap: string;
  /** `http://127.0.0.1:port`, or null when the admin server is off. */
  adminUrl: string | null;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGTERM and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `kch broker <args>` and resolves once its banner shows where it listens. */
export function startKch(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunningKch> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', TSX_LOADER, MAIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    if (process.env.KCH_TEST_LOG) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kch did not start within the timeout\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    const check = () => {
      const kafka = /^ {2}Kafka\s+(\S+):(\d+)/m.exec(stdout);
      if (!kafka || !/Ctrl-C/.test(stdout)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      const admin = /^ {2}admin\s+(http:\/\/\S+)/m.exec(stdout);
      const host = kafka[1]!;
      const port = Number(kafka[2]);
      resolve({
        child,
        kafka: { host, port },
        bootstrap: `${host}:${port}`,
        adminUrl: admin ? admin[1]! : null,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `kch exited (${code ?? signal}) before it listened\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    });
  });
}

/** The value of one series in Prometheus text, or undefined. */
export function metric(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
