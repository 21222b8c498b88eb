/**
 * The real `kch` CLI in a child process (node on the JavaScript built from this checkout's sources, or
 * the installed command with `bin`), as a user runs it: start it, read the banner for the ports it
 * took, talk to it, signal it, read its exit code.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '..', '..', '..');
/**
 * The CLI's built entry point, which the tests run (after {@link ensureKchBuilt}): a child on tsx
 * compiles the sources at every start, about 1.5 s more per `kch` command than the built JavaScript,
 * and the CLI tests and doc runs start hundreds of them.
 */
export const MAIN = join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');

/** The installed command: the shim `pnpm install` links (see packages/cli/bin/kch.js). */
export const KCH_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'kch');

/** How a child is started: the build of this checkout's sources (the default), or as the installed `bin`. */
function command(args: string[], bin?: string): [string, string[]] {
  if (bin) return [bin, args];
  ensureKchBuilt();
  return [process.execPath, [MAIN, ...args]];
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

const BUILD_LOCK = join(REPO_ROOT, 'packages', 'cli', 'dist', '.test-build.lock');
let built = false;

/**
 * Makes the packages' dist/ (what {@link MAIN} and the installed `kch` run) the build of the current
 * sources: rebuilt (`pnpm build:kch`, about a second) when missing or older than a source, once per
 * test process. A fresh clone has it from `pnpm install`'s prepare script, and `pnpm build` (CI) writes
 * it too. Test files running in parallel build one at a time (a lock file): the build removes the
 * CLI's chunks before writing them, which must not happen under another file's running `kch`.
 */
export function ensureKchBuilt(): void {
  if (built) return;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 120_000;
  while (kchBuildStale() !== '') {
    let lock: number;
    try {
      mkdirSync(dirname(BUILD_LOCK), { recursive: true });
      lock = openSync(BUILD_LOCK, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another test file is building: check again when it is done (or take a killed run's lock).
      if (Date.now() > deadline) rmSync(BUILD_LOCK, { force: true });
      else Atomics.wait(pause, 0, 0, 100);
      continue;
    }
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'scripts', 'build-kch.mjs')], {
        stdio: 'pipe',
      });
    } finally {
      closeSync(lock);
      rmSync(BUILD_LOCK, { force: true });
    }
    break;
  }
  built = true;
}

/**
 * The installed `kch` ({@link KCH_BIN}), built from the current sources ({@link ensureKchBuilt}), so
 * that a test of it tests this checkout. `reason` says why it cannot be used (the shim is linked by
 * `pnpm install` only); in CI that is an error instead, since .ci/run installs first.
 */
export function installedKch(): { available: boolean; reason: string } {
  if (!existsSync(KCH_BIN)) {
    const reason = `${KCH_BIN} is missing: run \`npx -y pnpm@10.34.8 install\`, which links and builds it`;
    if (process.env.CI) throw new Error(`${reason}; .ci/run installs before it tests`);
    return { available: false, reason };
  }
  ensureKchBuilt();
  return { available: true, reason: '' };
}
