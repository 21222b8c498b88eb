import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseStorage } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_PORT, OptionsError, resolveBrokerOptions } from '../src/options.js';
import { createStorage } from '../src/storage.js';
import { runKch } from './kch-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-cli-options-'));
function configFile(content: unknown, name = `c${Math.random().toString(36).slice(2)}.json`): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionsError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('kch broker options', () => {
  it('has defaults: 127.0.0.1:9092, embedded ClickHouse in ./kch-data, admin on 127.0.0.1:9644', () => {
    const { options } = resolveBrokerOptions({}, {}, '/somewhere');
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 9092,
      storage: { kind: 'chdb', dir: join(process.cwd(), 'kch-data') },
      database: 'kafka',
      logLevel: 'info',
      partitions: 1,
      topicConfig: {},
      autoCreateTopics: true,
      adminHost: '127.0.0.1',
      adminPort: DEFAULT_ADMIN_PORT,
    });
  });

  it('takes flags over KCH_* variables over the config file over defaults', () => {
    const file = configFile({
      port: 1111,
      host: '0.0.0.0',
      database: 'from_file',
      logLevel: 'warn',
      'admin-port': 'off',
      topicConfig: { 'retention.ms': '1000', 'cleanup.policy': 'delete' },
    });
    const { options, configFile: used } = resolveBrokerOptions(
      { config: file, port: '3333', 'topic-config': ['retention.ms=3000'] },
      { KCH_PORT: '2222', KCH_DATABASE: 'from_env', KCH_TOPIC_CONFIG: 'retention.ms=2000,segment.ms=5' },
    );
    expect(used).toBe(file);
    expect(options.port).toBe(3333);
    expect(options.database).toBe('from_env');
    expect(options.host).toBe('0.0.0.0');
    expect(options.logLevel).toBe('warn');
    expect(options.adminPort).toBeNull();
    // Topic configs merge key by key, the strongest source winning each key.
    expect(options.topicConfig).toEqual({
      'retention.ms': '3000',
      'cleanup.policy': 'delete',
      'segment.ms': '5',
    });
  });

  it('passes --chdb-setting pairs to embedded ClickHouse, and refuses them for other storages', () => {
    const { options } = resolveBrokerOptions(
      { 'chdb-setting': ['max_server_memory_usage=2147483648', 'background_pool_size=4'] },
      {},
      '/somewhere',
    );
    expect(options.chdbSettings).toEqual({
      max_server_memory_usage: '2147483648',
      background_pool_size: '4',
    });
    expect(
      resolveBrokerOptions({}, { KCH_CHDB_SETTINGS: 'background_pool_size=4' }, '/somewhere').options
        .chdbSettings,
    ).toEqual({ background_pool_size: '4' });
    expect(() =>
      resolveBrokerOptions(
        { storage: 'memory', 'chdb-setting': ['background_pool_size=4'] },
        {},
        '/somewhere',
      ),
    ).toThrow(
      /--chdb-setting "background_pool_size=4": configures embedded ClickHouse: it needs --storage chdb:<dir>/,
    );
    expect(() =>
      resolveBrokerOptions({ 'chdb-setting': ['background_pool_size'] }, {}, '/somewhere'),
    ).toThrow(/must be key=value pairs, e\.g\. max_server_memory_usage=2147483648/);
  });

  it('takes --clickhouse-cluster for a server URL, and hands it to the storage as its cluster', () => {
    const url = 'http://default:@ch-1.internal:8123';
    const { options } = resolveBrokerOptions({ storage: url, 'clickhouse-cluster': 'kch' }, {}, '/somewhere');
    expect(options.clickhouseCluster).toBe('kch');
    expect(
      resolveBrokerOptions({}, { KCH_STORAGE: url, KCH_CLICKHOUSE_CLUSTER: '{cluster}' }, '/somewhere')
        .options.clickhouseCluster,
    ).toBe('{cluster}');
    expect(
      resolveBrokerOptions({ storage: url }, {}, '/somewhere').options.clickhouseCluster,
    ).toBeUndefined();
    const storage = createStorage(options.storage, { database: 'kafka', clickhouseCluster: 'kch' });
    expect(storage).toBeInstanceOf(ClickHouseStorage);
    expect((storage as ClickHouseStorage).config.cluster).toMatchObject({ name: 'kch', replicated: true });
    expect(storage.location).toBe('ClickHouse at http://ch-1.internal:8123, database kafka, cluster kch');
    const plain = createStorage(options.storage, { database: 'kafka' }) as ClickHouseStorage;
    expect(plain.config.cluster).toBeUndefined();
  });

  it('refuses --clickhouse-cluster without a server URL, or empty', () => {
    expect(() => resolveBrokerOptions({ 'clickhouse-cluster': 'kch' }, {}, '/somewhere')).toThrow(
      /--clickhouse-cluster "kch": names servers of a ClickHouse cluster: it needs --storage http\(s\):\/\/\.\.\. .*not embedded ClickHouse/,
    );
    expect(() =>
      resolveBrokerOptions({ storage: 'memory' }, { KCH_CLICKHOUSE_CLUSTER: 'kch' }, '/somewhere'),
    ).toThrow(/KCH_CLICKHOUSE_CLUSTER="kch": .*not memory/);
    expect(() =>
      resolveBrokerOptions({ storage: 'http://localhost:8123', 'clickhouse-cluster': ' ' }, {}, '/somewhere'),
    ).toThrow(/--clickhouse-cluster " ": must name a cluster/);
  });

  it('reads the config file from KCH_CONFIG', () => {
    const file = configFile({ storage: 'memory', partitions: 4 });
    const { options } = resolveBrokerOptions({}, { KCH_CONFIG: file });
    expect(options.storage).toEqual({ kind: 'memory' });
    expect(options.partitions).toBe(4);
  });

  it('parses every kind of --storage', () => {
    const storage = (s: string) => resolveBrokerOptions({ storage: s }, {}).options.storage;
    expect(storage('memory')).toEqual({ kind: 'memory' });
    expect(storage('chdb:/data/kch')).toEqual({ kind: 'chdb', dir: '/data/kch' });
    expect(storage('chdb')).toEqual({ kind: 'chdb', dir: join(process.cwd(), 'kch-data') });
    expect(storage('https://user:secret@ch.example:8443')).toEqual({
      kind: 'url',
      url: 'https://user:secret@ch.example:8443/',
      display: 'https://user@ch.example:8443/',
    });
  });

  it('takes a path given to --storage as embedded ClickHouse there, and says how to write a bare name', () => {
    const storage = (s: string) => resolveBrokerOptions({ storage: s }, {}).options.storage;
    expect(storage('./mydata')).toEqual({ kind: 'chdb', dir: join(process.cwd(), 'mydata') });
    expect(storage('../elsewhere/kch')).toEqual({
      kind: 'chdb',
      dir: join(process.cwd(), '..', 'elsewhere', 'kch'),
    });
    expect(storage('data/kch')).toEqual({ kind: 'chdb', dir: join(process.cwd(), 'data', 'kch') });
    expect(storage('/var/lib/kch')).toEqual({ kind: 'chdb', dir: '/var/lib/kch' });
    expect(storage('.')).toEqual({ kind: 'chdb', dir: process.cwd() });
    expect(errorOf(() => storage('mydata'))).toBe(
      'invalid options:\n  --storage "mydata": unknown storage "mydata": for embedded ClickHouse in the directory mydata, write chdb:mydata (or ./mydata); else use memory or a ClickHouse server URL such as http://default:password@localhost:8123',
    );
    expect(errorOf(() => storage('~/kch'))).toBe(
      `invalid options:\n  --storage "~/kch": ~ is expanded by a shell, not by kch: give the directory as chdb:${homedir()}/kch`,
    );
  });

  it('says which value is wrong, where it came from and what is expected', () => {
    const file = configFile({ partitions: 0 });
    const message = errorOf(() =>
      resolveBrokerOptions(
        { config: file, port: 'abc', storage: 'kafka://x', 'log-level': 'loud' },
        { KCH_ADMIN_PORT: '70000', KCH_AUTO_CREATE_TOPICS: 'maybe' },
      ),
    );
    expect(message).toContain('--port "abc": must be a port number from 0 to 65535');
    expect(message).toContain('--storage "kafka://x": unknown storage');
    expect(message).toContain('--log-level "loud": must be one of debug, info, warn, error, silent');
    expect(message).toContain('KCH_ADMIN_PORT="70000": must be a port number from 0 to 65535, or off');
    expect(message).toContain('KCH_AUTO_CREATE_TOPICS="maybe": must be true or false');
    expect(message).toContain(`partitions in ${file} (0): must be a whole number of partitions, 1 or more`);
  });

  it('takes the memory bounds (tail cache, queued request bytes, pending storage bytes) as whole numbers of bytes', () => {
    const { options } = resolveBrokerOptions(
      { 'tail-cache-bytes': '134217728', 'max-pending-storage-bytes': '16777216' },
      { KCH_QUEUED_MAX_REQUEST_BYTES: '33554432' },
    );
    expect(options.tailCacheBytes).toBe(134217728);
    expect(options.queuedMaxRequestBytes).toBe(33554432);
    expect(options.maxPendingStorageBytes).toBe(16777216);
    expect(
      resolveBrokerOptions({}, { KCH_MAX_PENDING_STORAGE_BYTES: '8388608' }).options.maxPendingStorageBytes,
    ).toBe(8388608);
    const unset = resolveBrokerOptions({}, {}).options;
    // Left to the broker's defaults.
    expect([unset.tailCacheBytes, unset.queuedMaxRequestBytes, unset.maxPendingStorageBytes]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    const message = errorOf(() =>
      resolveBrokerOptions({ 'tail-cache-bytes': '256MiB' }, { KCH_QUEUED_MAX_REQUEST_BYTES: '0' }),
    );
    expect(message).toContain('--tail-cache-bytes "256MiB": must be a whole number of bytes, 1 or more');
    expect(message).toContain('KCH_QUEUED_MAX_REQUEST_BYTES="0": must be a whole number of bytes, 1 or more');
  });

  it('refuses unknown keys and broken JSON in the config file', () => {
    expect(errorOf(() => resolveBrokerOptions({ config: configFile({ prot: 1 }) }, {}))).toMatch(
      /unknown option "prot"; known options are host, port/,
    );
    expect(errorOf(() => resolveBrokerOptions({ config: configFile('{ "port": ') }, {}))).toMatch(
      /is not valid JSON/,
    );
    expect(errorOf(() => resolveBrokerOptions({ config: join(dir, 'missing.json') }, {}))).toMatch(
      /missing\.json does not exist/,
    );
  });

  it('needs an admin token when the admin server is not on a loopback address', () => {
    expect(errorOf(() => resolveBrokerOptions({ 'admin-host': '0.0.0.0' }, {}))).toMatch(
      /--admin-token: is required when the admin server listens on 0\.0\.0\.0/,
    );
    const { options } = resolveBrokerOptions(
      { 'admin-host': '0.0.0.0' },
      { KCH_ADMIN_TOKEN: 'a-long-secret' },
    );
    expect(options.adminToken).toBe('a-long-secret');
    expect(resolveBrokerOptions({ 'admin-host': '::1' }, {}).options.adminToken).toBeUndefined();
    expect(
      resolveBrokerOptions({ 'admin-host': '0.0.0.0', 'admin-port': 'off' }, {}).options.adminPort,
    ).toBeNull();
  });
});

describe('the kch command line', () => {
  it('lists its commands with --help', async () => {
    const r = await runKch(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['broker', 'topics', 'produce', 'consume', 'groups', 'sql'])
      expect(r.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
  });

  it('shows a command usage with <command> --help', async () => {
    const r = await runKch(['broker', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--storage <spec>');
    expect(r.stdout).toContain('[KCH_STORAGE]');
    expect(r.stdout).toMatch(
      /--clickhouse-cluster <name>\s+a self-managed ClickHouse cluster .*\[KCH_CLICKHOUSE_CLUSTER\]/s,
    );
  });

  it('answers an unknown command with the usage and exit code 2', async () => {
    const r = await runKch(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kch: unknown command "frobnicate"\n/);
    expect(r.stderr).toContain('Commands:');
    const typo = await runKch(['tpoics', 'list']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^kch: unknown command "tpoics" \(did you mean topics\?\)\n/);
  });

  it('exits 2 with a message for a bad flag, variable or config file value, before opening anything', async () => {
    const flag = await runKch(['broker', '--port', 'ninety']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--port "ninety": must be a port number from 0 to 65535');

    const unknownFlag = await runKch(['--prot', '9092']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toBe(
      'kch broker: unknown option --prot (did you mean --port?)\nRun `kch broker --help` for the options.\n',
    );

    const env = await runKch([], { env: { KCH_STORAGE: 'postgres://x' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('KCH_STORAGE="postgres://x": unknown storage');

    const file = configFile({ logLevel: 'chatty' });
    const config = await runKch(['broker', '--config', file]);
    expect(config.code).toBe(2);
    expect(config.stderr).toContain(
      `logLevel in ${file} (chatty): must be one of debug, info, warn, error, silent`,
    );

    const topicConfig = await runKch([
      'broker',
      '--storage',
      'memory',
      '--topic-config',
      'retention.ms=soon',
    ]);
    expect(topicConfig.code).toBe(2);
    expect(topicConfig.stderr).toMatch(/--topic-config: .*retention\.ms/);
  });
});
