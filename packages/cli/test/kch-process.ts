/**
 * The real `kch` CLI in a child process (node + tsx on the TypeScript sources, or the installed
 * command with `bin`), as a user runs it: start it, read the banner for the ports it took, talk to it,
 * signal it, read its exit code.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '..', '..', '..');
export const MAIN = join(here, '..', 'src', 'main.ts');
const TSX_LOADER = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
).href;

/** The installed command: the shim `pnpm install` links (see packages/cli/bin/kch.js). */
export const KCH_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'kch');

/** How a child is started: on the sources through tsx (the default), or as the installed `bin`. */
function command(args: string[], bin?: string): [string, string[]] {
  return bin
    ? [bin, args]
    : [process.execPath, ['--conditions=source', '--import', TSX_LOADER, MAIN, ...args]];
}

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
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number; bin?: string } = {},
): Promise<KchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(...command(args, options.bin), {
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
  /** `http://127.0.0.1:port` (`https://` with TLS), or null when the admin server is off. */
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
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; bin?: string } = {},
): Promise<RunningKch> {
  const child = spawn(...command(args, options.bin), {
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
      const admin = /^ {2}admin\s+(https?:\/\/\S+)/m.exec(stdout);
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

const BUILT_PACKAGES = [
  ['protocol', 'index.js'],
  ['storage', 'index.js'],
  ['broker', 'index.js'],
  ['cli', 'main.js'],
] as const;

/** Why the build the installed command runs is not usable: missing, or older than a source; '' if fine. */
function kchBuildStale(): string {
  for (const [pkg, entry] of BUILT_PACKAGES) {
    const built = join(REPO_ROOT, 'packages', pkg, 'dist', entry);
    if (!existsSync(built)) return `packages/${pkg}/dist/${entry} is missing`;
    const builtAt = statSync(built).mtimeMs;
    const src = join(REPO_ROOT, 'packages', pkg, 'src');
    const newer = readdirSync(src, { recursive: true, encoding: 'utf8' }).find(
      (f) => f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > builtAt,
    );
    if (newer) return `packages/${pkg}/dist/${entry} is older than src/${newer}`;
  }
  return '';
}

/**
 * The installed `kch` ({@link KCH_BIN}), built from the current sources: rebuilt (`pnpm build:kch`,
 * about a second) when its build is missing or older than a source, so that a test of it tests this
 * checkout. `reason` says why it cannot be used (the shim is linked by `pnpm install` only); in CI
 * that is an error instead, since .ci/run installs first.
 */
export function installedKch(): { available: boolean; reason: string } {
  if (!existsSync(KCH_BIN)) {
    const reason = `${KCH_BIN} is missing: run \`npx -y pnpm@10.34.8 install\`, which links and builds it`;
    if (process.env.CI) throw new Error(`${reason}; .ci/run installs before it tests`);
    return { available: false, reason };
  }
  if (kchBuildStale() !== '')
    execFileSync(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'scripts', 'build-kch.mjs')], {
      stdio: 'pipe',
    });
  return { available: true, reason: '' };
}
