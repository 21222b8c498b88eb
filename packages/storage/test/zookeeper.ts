/**
 * A real ZooKeeper for tests: Debian's (`apt-get install zookeeper`), standalone, on a free port of
 * 127.0.0.1 with a data directory of its own. ClickHouse takes it as its Keeper, which KeeperMap
 * tables need (./shared-clickhouse.ts).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Requirement } from '../../broker/test/helpers/skip.js';

const JAR = '/usr/share/java/zookeeper.jar';
// A logger binding (libslf4j-java, which the zookeeper package brings): without one ZooKeeper says
// nothing, not even why it could not start.
const LOGGER_JAR = '/usr/share/java/slf4j-simple.jar';
const INSTALL = 'apt-get install zookeeper';
/** The JVM and ZooKeeper start in about a second; a loaded machine running many test files, far more. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
/** Starts on another free port after losing one to another process between choosing and binding it. */
const PORT_ATTEMPTS = 3;

let probed: Requirement | undefined;

/**
 * Whether ZooKeeper can run here: its jar and a java. Missing, tests skip with the reason; with CI
 * set this throws, failing the file, since .ci/run installs it.
 */
export function zookeeperRequirement(): Requirement {
  probed ??= probe();
  if (!probed.available && process.env.CI) {
    throw new Error(`${probed.reason}; CI must have it: .ci/run installs it`);
  }
  return probed;
}

function probe(): Requirement {
  if (!existsSync(JAR)) return { available: false, reason: `ZooKeeper is not installed (${INSTALL})` };
  const java = spawnSync('java', ['-version'], { timeout: 15_000 });
  if (java.status !== 0) {
    return { available: false, reason: `java, which ZooKeeper runs on, is not installed (${INSTALL})` };
  }
  return { available: true, reason: '' };
}

export interface ZooKeeper {
  /** `127.0.0.1:PORT`, as clients and ClickHouse's config take it. */
  connectString: string;
  port: number;
  /** Ends ZooKeeper and removes its data directory. */
  stop(): Promise<void>;
}

export async function startZooKeeper(): Promise<ZooKeeper> {
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'kch-zk-'));
    const port = await freePort();
    const server = launch(dir, port);
    try {
      await untilReady(server, port);
    } catch (e) {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      if (attempt < PORT_ATTEMPTS && /BindException/.test(server.stderr())) continue;
      throw e;
    }
    return {
      connectString: `127.0.0.1:${port}`,
      port,
      async stop() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** A port nobody listens on now (ZooKeeper binds it a moment later; see PORT_ATTEMPTS). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Launched {
  /** The process has ended (ZooKeeper failed to start, or was stopped). */
  exited(): boolean;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * ZooKeeper under a small shell that ends it when the shell's stdin closes: stop() closes it, and so
 * does the end of this process however it ends (even SIGKILL, where no exit handler runs). The shell
 * prints ZooKeeper's pid first, for a SIGKILL should it not go.
 */
const WRAPPER = [
  'exec 3<&0',
  'java "$@" </dev/null 3<&- >&2 &',
  'zk=$!',
  'echo "$zk"',
  '{ read -r _ <&3; kill "$zk"; } >/dev/null 2>&1 &',
  'wait "$zk"',
].join('\n');

function launch(dir: string, port: number): Launched {
  const config = join(dir, 'zoo.cfg');
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    config,
    [
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'tickTime=2000',
      '',
    ].join('\n'),
  );
  const classpath = [JAR, ...(existsSync(LOGGER_JAR) ? [LOGGER_JAR] : [])].join(':');
  const java = [
    // A small heap and the client compiler: a test server holds little and should start fast.
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=error',
    // ruok for readiness; no admin web server, which would take port 8080.
    '-Dzookeeper.4lw.commands.whitelist=ruok',
    '-Dzookeeper.admin.enableServer=false',
    // Test data need not survive a power cut; no fsync per transaction, no 64 MB log preallocated.
    '-Dzookeeper.forceSync=no',
    '-Dzookeeper.preAllocSize=1024',
    '-cp',
    classpath,
    'org.apache.zookeeper.server.ZooKeeperServerMain',
    config,
  ];
  const child: ChildProcessWithoutNullStreams = spawn('sh', ['-c', WRAPPER, 'zookeeper', ...java], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    const done = () => {
      ended = true;
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  const javaPid = () => {
    const pid = Number.parseInt(stdout, 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const killJava = () => {
    const pid = javaPid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  // The shell's watch covers this too; this is for when the shell itself was killed.
  process.once('exit', killJava);
  return {
    exited: () => ended,
    stderr: () => stderr,
    async stop() {
      process.off('exit', killJava);
      child.stdin.end();
      const timer = setTimeout(() => {
        killJava();
        child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `ruok` until ZooKeeper answers `imok`; rejects, with its stderr, if it ends or takes too long. */
async function untilReady(server: Launched, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (server.exited())
      throw new Error(`ZooKeeper exited before it served; its stderr:\n${server.stderr()}`);
    if ((await fourLetterWord(port, 'ruok')) === 'imok') return;
    if (Date.now() > deadline) {
      throw new Error(
        `ZooKeeper did not answer ruok within ${START_TIMEOUT_MS} ms; its stderr:\n${server.stderr()}`,
      );
    }
    await delay(POLL_MS);
  }
}

/** ZooKeeper's answer to a four-letter command; '' when it does not answer. */
function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.end(word));
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (c: Buffer) => {
      answer += c.toString();
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => resolve(answer));
  });
}
