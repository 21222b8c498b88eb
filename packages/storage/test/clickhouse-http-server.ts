/**
 * One embedded ClickHouse (chdb) that several processes share, served over ClickHouse's HTTP
 * interface by ./clickhouse-http-shim.ts: chdb binds one data directory per process, so brokers in
 * processes of their own reach the same data through this one. With a ZooKeeper it is the engine's
 * Keeper, and KeeperMap tables work.
 *
 *   node --import tsx clickhouse-http-server.ts --data-dir DIR [--zookeeper HOST:PORT [--keeper-prefix /PATH]]
 *
 * Prints `{"url":"http://127.0.0.1:PORT"}` once it serves; exits on SIGTERM, SIGINT, or when its
 * stdin closes (the parent that holds the other end is gone). ./shared-clickhouse.ts starts it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHttpShim } from './clickhouse-http-shim.js';

/** The prefix of KeeperMap paths in ZooKeeper when none is given. */
const DEFAULT_KEEPER_PREFIX = '/kch';

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: clickhouse-http-server.ts --data-dir DIR [--zookeeper HOST:PORT [--keeper-prefix /PATH]]\n`,
  );
  process.exit(2);
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The server configuration that makes ZooKeeper the Keeper and enables KeeperMap under `prefix`. */
function keeperConfig(zookeeper: string, prefix: string): string {
  const m = /^(.+):(\d+)$/.exec(zookeeper);
  if (!m) usage(`--zookeeper takes HOST:PORT, not ${zookeeper}`);
  return [
    '<clickhouse>',
    `  <zookeeper><node><host>${xml(m[1]!)}</host><port>${m[2]}</port></node></zookeeper>`,
    `  <keeper_map_path_prefix>${xml(prefix)}</keeper_map_path_prefix>`,
    '</clickhouse>',
    '',
  ].join('\n');
}

let values: { 'data-dir'?: string; zookeeper?: string; 'keeper-prefix'?: string };
try {
  values = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      zookeeper: { type: 'string' },
      'keeper-prefix': { type: 'string' },
    },
  }).values;
} catch (e) {
  usage((e as Error).message);
}
const dataDir = values['data-dir'];
if (!dataDir) usage('--data-dir is required');
// A prefix without a Keeper would fail at the first KeeperMap table with a ZooKeeper error instead
// of saying that KeeperMap is off.
if (values['keeper-prefix'] !== undefined && values.zookeeper === undefined) {
  usage('--keeper-prefix needs --zookeeper');
}

mkdirSync(dataDir, { recursive: true });
const connectionArgs: string[] = [];
if (values.zookeeper !== undefined) {
  // In the data directory, which this process owns; ClickHouse ignores files it does not know there.
  const file = join(dataDir, 'kch-clickhouse-config.xml');
  writeFileSync(file, keeperConfig(values.zookeeper, values['keeper-prefix'] ?? DEFAULT_KEEPER_PREFIX));
  connectionArgs.push(`--config-file=${file}`);
}

const shim = await startHttpShim(dataDir, { connectionArgs });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await shim.close();
  // The watch on stdin would keep the process alive; nothing is left to finish.
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();

process.stdout.write(`${JSON.stringify({ url: shim.url })}\n`);
