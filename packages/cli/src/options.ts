/**
 * `kch broker` options: every option has a flag, a KCH_* environment variable and a key in the JSON
 * config file (`--config <file>`). Precedence: flags, then the environment, then the file, then the
 * defaults. All are validated with zod, and a wrong value gets a message naming where it came from
 * and what is expected.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { type DeclaredTopic, declaredTopicSchema } from '@kch/broker';
import { tablesConfigSchema, viewDefinitionSchema } from '@kch/storage';
import { z } from 'zod';
import { loadServerProperties, type PropertiesLayer } from './server-properties.js';

export const DEFAULT_KAFKA_PORT = 9092;
/** The admin HTTP port (/metrics, /healthz, POST /sql); Redpanda uses the same one for its admin API. */
export const DEFAULT_ADMIN_PORT = 9644;
/** Where embedded ClickHouse keeps its data unless told otherwise (relative to the working directory). */
export const DEFAULT_DATA_DIR = './kch-data';
export const DEFAULT_STORAGE = `chdb:${DEFAULT_DATA_DIR}`;

/** Where a broker keeps its data, as `--storage` names it. */
export type StorageSpec =
  | { kind: 'memory' }
  | { kind: 'chdb'; dir: string }
  | { kind: 'url'; url: string /** without the password, for the banner and logs */; display: string };

type Key =
  | 'host'
  | 'port'
  | 'advertisedHost'
  | 'advertisedPort'
  | 'storage'
  | 'database'
  | 'clickhouseCluster'
  | 'lingerMs'
  | 'partitions'
  | 'topicConfig'
  | 'chdbSettings'
  | 'autoCreateTopics'
  | 'tailCacheBytes'
  | 'queuedMaxRequestBytes'
  | 'groupInitialRebalanceDelayMs'
  | 'logLevel'
  | 'adminHost'
  | 'adminPort'
  | 'adminToken'
  | 'adminTls'
  | 'adminTlsCert'
  | 'adminTlsKey'
  | 'views'
  | 'topics'
  | 'tables';

interface OptionSpec {
  key: Key;
  flag: string;
  env: string;
  /** What the value looks like in the usage text. */
  value: string;
  help: string;
  /** The flag may repeat (values collect in a list). */
  multiple?: boolean;
}

/** Every `kch broker` option, in the order the usage lists them. */
export const BROKER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'host',
    flag: 'host',
    env: 'KCH_HOST',
    value: '<address>',
    help: 'address the Kafka listener binds (default 127.0.0.1; 0.0.0.0 for every interface)',
  },
  {
    key: 'port',
    flag: 'port',
    env: 'KCH_PORT',
    value: '<port>',
    help: `Kafka port (default ${DEFAULT_KAFKA_PORT}); 0 picks a free one, shown in the banner`,
  },
  {
    key: 'advertisedHost',
    flag: 'advertised-host',
    env: 'KCH_ADVERTISED_HOST',
    value: '<host>',
    help: 'host clients are told to connect to (default: the bound address, or the hostname when binding 0.0.0.0)',
  },
  {
    key: 'advertisedPort',
    flag: 'advertised-port',
    env: 'KCH_ADVERTISED_PORT',
    value: '<port>',
    help: 'port clients are told to connect to (default: the bound port)',
  },
  {
    key: 'storage',
    flag: 'storage',
    env: 'KCH_STORAGE',
    value: '<spec>',
    help: `memory | chdb:<dir> or a path such as ./data (embedded ClickHouse in that directory) | http(s)://user:pass@host:8123 (a ClickHouse server); default ${DEFAULT_STORAGE}`,
  },
  {
    key: 'database',
    flag: 'database',
    env: 'KCH_DATABASE',
    value: '<name>',
    help: 'ClickHouse database of topic tables (default kafka)',
  },
  {
    key: 'clickhouseCluster',
    flag: 'clickhouse-cluster',
    env: 'KCH_CLICKHOUSE_CLUSTER',
    value: '<name>',
    help: 'a self-managed ClickHouse cluster (its remote_servers name) behind --storage: DDL runs ON CLUSTER, tables are ReplicatedMergeTree, inserts wait for a majority of replicas (not for ClickHouse Cloud, which needs none of it)',
  },
  {
    key: 'lingerMs',
    flag: 'linger-ms',
    env: 'KCH_LINGER_MS',
    value: '<ms>',
    help: 'group commit: appends within this window become one ClickHouse insert (default 5)',
  },
  {
    key: 'partitions',
    flag: 'partitions',
    env: 'KCH_PARTITIONS',
    value: '<n>',
    help: 'partitions of auto-created topics and of CreateTopics with -1 (default 1)',
  },
  {
    key: 'topicConfig',
    flag: 'topic-config',
    env: 'KCH_TOPIC_CONFIG',
    value: '<key=value>',
    help: 'topic config default, e.g. retention.ms=86400000; repeat the flag (env: comma-separated)',
    multiple: true,
  },
  {
    key: 'chdbSettings',
    flag: 'chdb-setting',
    env: 'KCH_CHDB_SETTINGS',
    value: '<name=value>',
    help: 'server setting of embedded ClickHouse, e.g. max_server_memory_usage=2147483648 (a ceiling on its memory); repeat the flag (env: comma-separated)',
    multiple: true,
  },
  {
    key: 'autoCreateTopics',
    flag: 'auto-create-topics',
    env: 'KCH_AUTO_CREATE_TOPICS',
    value: 'true|false',
    help: 'create topics that clients ask for (default true)',
  },
  {
    key: 'tailCacheBytes',
    flag: 'tail-cache-bytes',
    env: 'KCH_TAIL_CACHE_BYTES',
    value: '<bytes>',
    help: 'memory for recent batches, so tail consumers never wait on storage (default 268435456, 256 MiB)',
  },
  {
    key: 'queuedMaxRequestBytes',
    flag: 'queued-max-request-bytes',
    env: 'KCH_QUEUED_MAX_REQUEST_BYTES',
    value: '<bytes>',
    help: 'bytes of requests read and not yet answered at which the broker stops reading from clients until storage catches up (queued.max.request.bytes; default 67108864, 64 MiB)',
  },
  {
    key: 'groupInitialRebalanceDelayMs',
    flag: 'group-initial-rebalance-delay-ms',
    env: 'KCH_GROUP_INITIAL_REBALANCE_DELAY_MS',
    value: '<ms>',
    help: 'how long the first rebalance of a new group waits for more members (default 3000; 0 suits development and tests)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'KCH_LOG_LEVEL',
    value: '<level>',
    help: 'debug | info | warn | error | silent (default info); JSON lines on stderr',
  },
  {
    key: 'adminHost',
    flag: 'admin-host',
    env: 'KCH_ADMIN_HOST',
    value: '<address>',
    help: 'address of the admin HTTP server (default 127.0.0.1)',
  },
  {
    key: 'adminPort',
    flag: 'admin-port',
    env: 'KCH_ADMIN_PORT',
    value: '<port>|off',
    help: `admin HTTP port: /metrics, /healthz, POST /sql (default ${DEFAULT_ADMIN_PORT}; 0 picks a free one; off disables it)`,
  },
  {
    key: 'adminToken',
    flag: 'admin-token',
    env: 'KCH_ADMIN_TOKEN',
    value: '<token>',
    help: 'bearer token POST /sql and /views require; required when --admin-host is not a loopback address, unless the broker has an authorizer (then they require a user with ACLs)',
  },
  {
    key: 'adminTlsCert',
    flag: 'admin-tls-cert',
    env: 'KCH_ADMIN_TLS_CERT',
    value: '<file>',
    help: 'certificate chain (PEM) of the admin server, with --admin-tls-key: it serves https; read again when the file changes',
  },
  {
    key: 'adminTlsKey',
    flag: 'admin-tls-key',
    env: 'KCH_ADMIN_TLS_KEY',
    value: '<file>',
    help: 'private key (PEM, unencrypted) of --admin-tls-cert',
  },
  {
    key: 'adminTls',
    flag: 'admin-tls',
    env: 'KCH_ADMIN_TLS',
    value: 'listener|off',
    help: "listener: the admin server serves https with the certificate and key of the broker's first SSL or SASL_SSL listener (default off, unless --admin-tls-cert is given)",
  },
  {
    key: 'views',
    flag: 'views',
    env: 'KCH_VIEWS',
    value: '<json>',
    help: 'materialized views to create at start when missing: a JSON array of { name, topic, select (a string or a list of lines), to | engine, populate? }, usually in the config file (see kch views)',
  },
  {
    key: 'topics',
    flag: 'topics',
    env: 'KCH_TOPICS',
    value: '<json>',
    help: 'topics to create at start, or bring in line when they exist: a JSON object { "<name>": { partitions?, table?, format?, onInvalid?, deadLetterTopic?, schema?, configs? } } (usually in the config file)',
  },
  {
    key: 'tables',
    flag: 'tables',
    env: 'KCH_TABLES',
    value: '<json>',
    help: 'tables fed by topics, created when missing and bound at start: a JSON array of { name, columns: [{ name, type }], topics, data_format?, group_name? } (usually in the config file; see docs/topics-over-tables.md)',
  },
];

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|\[::1\])$/i;
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Whole numbers may come as strings (flags, environment) or numbers (the config file). */
const wholeNumber = (min: number, max: number, what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: `must be ${what}` })
      .int({ error: `must be ${what}` })
      .min(min, { error: `must be ${what}` })
      .max(max, { error: `must be ${what}` }),
  );

const port = (what = 'a port number from 0 to 65535') => wholeNumber(0, 65535, what);

const boolean = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(s)) return true;
    if (['false', 'no', '0', 'off'].includes(s)) return false;
    return v;
  },
  z.boolean({ error: 'must be true or false' }),
);

/**
 * `memory`, `chdb`, `chdb:<dir>`, a path (`./data`, `/var/lib/kch`: embedded ClickHouse there, as users
 * of embedded databases give a directory) or a ClickHouse http(s) URL. A bare word (`data`) is refused
 * with the spelling to use: it is as likely a misspelt `memory` as a directory.
 */
export function parseStorageSpec(value: string, cwd = process.cwd()): StorageSpec | string {
  const v = value.trim();
  if (v === 'memory') return { kind: 'memory' };
  const chdb = (dir: string): StorageSpec => ({
    kind: 'chdb',
    dir: isAbsolute(dir) ? dir : resolve(cwd, dir),
  });
  if (v === 'chdb' || v.startsWith('chdb:')) {
    const dir = v === 'chdb' ? DEFAULT_DATA_DIR : v.slice('chdb:'.length);
    if (dir === '') return 'chdb: needs a directory, e.g. chdb:./kch-data';
    return chdb(dir);
  }
  if (v.startsWith('~')) {
    // A shell expands ~ in an unquoted argument; here it came quoted, or from KCH_STORAGE or the file.
    const home = v === '~' || v.startsWith('~/') ? `chdb:${homedir()}${v.slice(1)}` : 'chdb:<full path>';
    return `~ is expanded by a shell, not by kch: give the directory as ${home}`;
  }
  if (/^\.{1,2}$/.test(v) || (v.includes('/') && !v.includes(':'))) return chdb(v);
  if (/^https?:\/\//i.test(v)) {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return `${JSON.stringify(v)} is not a valid URL`;
    }
    const display = new URL(u.href);
    display.password = '';
    return { kind: 'url', url: u.href, display: display.href };
  }
  if (/^[\w.-]+$/.test(v))
    return `unknown storage ${JSON.stringify(v)}: for embedded ClickHouse in the directory ${v}, write chdb:${v} (or ./${v}); else use memory or a ClickHouse server URL such as http://default:password@localhost:8123`;
  return `unknown storage ${JSON.stringify(v)}: use memory, chdb:<dir> (embedded ClickHouse) or a ClickHouse server URL such as http://default:password@localhost:8123`;
}

/**
 * Settings by name: `k=v` strings (flags, env), a list of them, or an object (config file); values stay
 * strings. `example` shows a pair in the error.
 */
function keyValuePairs(example: string) {
  return z.preprocess(
    (v) => {
      if (v === undefined) return v;
      const entries: [string, string][] = [];
      const add = (s: unknown) => {
        if (typeof s !== 'string') return false;
        for (const part of s.split(',')) {
          const p = part.trim();
          if (p === '') continue;
          const i = p.indexOf('=');
          if (i <= 0) return false;
          entries.push([p.slice(0, i).trim(), p.slice(i + 1).trim()]);
        }
        return true;
      };
      if (typeof v === 'string') return add(v) ? Object.fromEntries(entries) : v;
      if (Array.isArray(v)) return v.every(add) ? Object.fromEntries(entries) : v;
      if (typeof v === 'object' && v !== null)
        return Object.fromEntries(
          Object.entries(v).map(([k, x]) => [k, typeof x === 'number' ? String(x) : x]),
        );
      return v;
    },
    z.record(
      z.string().min(1),
      z.string({ error: `values must be strings, e.g. "${example.split('=')[1]}"` }),
      {
        error: `must be key=value pairs, e.g. ${example}`,
      },
    ),
  );
}

/** Topic config defaults. */
const topicConfig = keyValuePairs('retention.ms=86400000');

/** Server settings of embedded ClickHouse (`clickhouseStorage({ chdbSettings })`). */
const chdbSettings = keyValuePairs('max_server_memory_usage=2147483648');

/**
 * Structured options come as JSON in the config file, or as JSON text in a flag or an environment
 * variable. Text that is not JSON is left as it is, for the schema to refuse with its own message.
 */
function fromJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/** JSON has no multi-line strings: a view's `select` may come as a list of lines. */
function selectLinesJoined(item: unknown): unknown {
  if (typeof item !== 'object' || item === null) return item;
  const select = (item as { select?: unknown }).select;
  if (!Array.isArray(select) || !select.every((l) => typeof l === 'string')) return item;
  return { ...item, select: select.join('\n') };
}

/**
 * Views declared for the broker to create at start: a JSON array (the config file's, or JSON text in a
 * flag or KCH_VIEWS), each checked with the storage's own schema and named in messages.
 */
const views = z
  .preprocess(
    fromJsonText,
    z.array(z.unknown(), {
      error: 'must be a JSON array of views: [{ "name": ..., "topic": ..., "select": ... }]',
    }),
  )
  .transform((list, ctx) =>
    list.map((item, i) => {
      const parsed = viewDefinitionSchema.safeParse(selectLinesJoined(item));
      if (parsed.success) return parsed.data;
      const label = (item as { name?: unknown } | null)?.name;
      for (const issue of parsed.error.issues)
        ctx.addIssue({
          code: 'custom',
          message: `view ${typeof label === 'string' ? label : i}: ${issue.path.join('.') || 'definition'}: ${issue.message}`,
        });
      return z.NEVER;
    }),
  )
  .refine((list) => new Set(list.map((v) => v.name)).size === list.length, {
    error: 'two views have the same name',
  });

/**
 * Topics declared for the broker (its `topics` option): a JSON object by topic name (the config
 * file's, or JSON text in a flag or KCH_TOPICS), each checked with the broker's own schema and named in
 * messages. `schema` is a JSON Schema object here; zod schemas are for code that calls createBroker.
 */
const topics = z
  .preprocess(
    fromJsonText,
    z.record(z.string(), z.unknown(), {
      error: 'must be a JSON object of topics, e.g. { "orders": { "table": "shop.orders" } }',
    }),
  )
  .transform((declared, ctx) => {
    const out: Record<string, DeclaredTopic> = {};
    for (const [name, spec] of Object.entries(declared)) {
      const parsed = declaredTopicSchema.safeParse(spec);
      if (parsed.success) out[name] = parsed.data;
      else
        for (const issue of parsed.error.issues)
          ctx.addIssue({
            code: 'custom',
            message: `topic ${name}: ${issue.path.join('.') || 'declaration'}: ${issue.message}`,
          });
    }
    return out;
  });

/**
 * The integration `tables` list (the shape of a Kafka engine or sink connector config), checked with
 * the storage's own schema; the broker command creates the tables and binds their topics at start.
 */
const tables = z.preprocess(fromJsonText, z.unknown()).transform((list, ctx) => {
  const parsed = tablesConfigSchema.safeParse(list);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues)
    ctx.addIssue({ code: 'custom', message: `${issue.path.join('.') || 'tables'}: ${issue.message}` });
  return z.NEVER;
});

export const brokerCommandSchema = z
  .object({
    host: z.string().trim().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
    port: port().default(DEFAULT_KAFKA_PORT),
    advertisedHost: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    advertisedPort: wholeNumber(1, 65535, 'a port number from 1 to 65535').optional(),
    storage: z
      .string({ error: 'must be a string' })
      .default(DEFAULT_STORAGE)
      .transform((v, ctx) => {
        const spec = parseStorageSpec(v);
        if (typeof spec === 'string') {
          ctx.addIssue({ code: 'custom', message: spec });
          return z.NEVER;
        }
        return spec;
      }),
    database: z
      .string()
      .trim()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
        error: 'must be a ClickHouse database name: letters, digits and underscores',
      })
      .default('kafka'),
    clickhouseCluster: z
      .string()
      .trim()
      .min(1, { error: 'must name a cluster of the ClickHouse servers (their remote_servers)' })
      .refine((v) => !v.includes('\u0000'), { error: 'must not contain NUL' })
      .optional(),
    lingerMs: wholeNumber(0, 60_000, 'a number of milliseconds from 0 to 60000').optional(),
    partitions: wholeNumber(1, 100_000, 'a whole number of partitions, 1 or more').default(1),
    topicConfig: topicConfig.default({}),
    chdbSettings: chdbSettings.default({}),
    autoCreateTopics: boolean.default(true),
    tailCacheBytes: wholeNumber(1, Number.MAX_SAFE_INTEGER, 'a whole number of bytes, 1 or more').optional(),
    queuedMaxRequestBytes: wholeNumber(
      1,
      Number.MAX_SAFE_INTEGER,
      'a whole number of bytes, 1 or more',
    ).optional(),
    groupInitialRebalanceDelayMs: wholeNumber(
      0,
      300_000,
      'a number of milliseconds from 0 to 300000',
    ).default(3000),
    logLevel: z
      .enum(['debug', 'info', 'warn', 'error', 'silent'], {
        error: 'must be one of debug, info, warn, error, silent',
      })
      .default('info'),
    adminHost: z.string().trim().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
    adminPort: z
      .preprocess(
        (v) => (typeof v === 'string' && ['off', 'none', 'false', 'disabled'].includes(v.trim()) ? null : v),
        port('a port number from 0 to 65535, or off').nullable(),
      )
      .default(DEFAULT_ADMIN_PORT),
    adminToken: z.string().min(8, { error: 'must be at least 8 characters' }).optional(),
    adminTls: z
      .enum(['listener', 'off'], {
        error: 'must be listener or off (for a certificate of its own: --admin-tls-cert)',
      })
      .default('off'),
    adminTlsCert: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    adminTlsKey: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    views: views.default([]),
    topics: topics.default({}),
    tables: tables.default([]),
  })
  .superRefine((o, ctx) => {
    if ((o.adminTlsCert === undefined) !== (o.adminTlsKey === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [o.adminTlsCert === undefined ? 'adminTlsCert' : 'adminTlsKey'],
        message: `is needed with ${o.adminTlsCert === undefined ? '--admin-tls-key' : '--admin-tls-cert'}: the certificate goes with its key`,
      });
    if (o.adminTls === 'listener' && o.adminTlsCert !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['adminTls'],
        message: "takes a listener's certificate, and --admin-tls-cert gives another: give one or the other",
      });
    if (o.tables.length > 0 && o.storage.kind === 'memory') {
      ctx.addIssue({
        code: 'custom',
        path: ['tables'],
        message:
          'tables are ClickHouse tables: they need --storage chdb:<dir> or a ClickHouse URL, not memory',
      });
    }
    if (o.clickhouseCluster !== undefined && o.storage.kind !== 'url') {
      ctx.addIssue({
        code: 'custom',
        path: ['clickhouseCluster'],
        message: `names servers of a ClickHouse cluster: it needs --storage http(s)://... (a server of that cluster), not ${o.storage.kind === 'memory' ? 'memory' : 'embedded ClickHouse, one process whose replicated tables take no inserts'}`,
      });
    }
    if (Object.keys(o.chdbSettings).length > 0 && o.storage.kind !== 'chdb') {
      ctx.addIssue({
        code: 'custom',
        path: ['chdbSettings'],
        message:
          'configures embedded ClickHouse: it needs --storage chdb:<dir>; a ClickHouse server takes its settings from its own config',
      });
    }
    if (o.views.length > 0 && o.storage.kind === 'memory') {
      ctx.addIssue({
        code: 'custom',
        path: ['views'],
        message:
          'materialized views are ClickHouse tables: they need --storage chdb:<dir> or a ClickHouse URL, not memory',
      });
    }
  });

export type BrokerCommandOptions = z.output<typeof brokerCommandSchema>;

/** Where a value came from, for messages (`property`: Kafka server properties, named in `name`). */
type Source = { kind: 'flag' | 'env' | 'file' | 'property'; name: string; raw: unknown };

export interface ResolvedOptions {
  options: BrokerCommandOptions;
  /** The config file read, if any. */
  configFile?: string;
  /**
   * From --server-properties and --override: the createBroker options beyond kch's own (listeners,
   * SASL, the authorizer, ...), and the properties kch has no use for.
   */
  serverProperties?: Pick<PropertiesLayer, 'broker' | 'unknown'>;
}

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

const BY_FLAG = new Map(BROKER_OPTIONS.map((o) => [o.flag, o]));
const BY_KEY = new Map(BROKER_OPTIONS.map((o) => [o.key, o]));

/** The config file: a JSON object whose keys are option names (camelCase, or the flag spelled out). */
export function readConfigFile(path: string): {
  values: Record<string, unknown>;
  sources: Record<string, Source>;
} {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptionsError(
      code === 'ENOENT'
        ? `config file ${path} does not exist`
        : `config file ${path} cannot be read: ${(e as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new OptionsError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new OptionsError(`config file ${path} must hold a JSON object, e.g. { "port": 9092 }`);
  }
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const [name, v] of Object.entries(data)) {
    if (name === '$schema') continue;
    const spec = BY_KEY.get(name as Key) ?? BY_FLAG.get(name);
    if (!spec) {
      throw new OptionsError(
        `config file ${path}: unknown option ${JSON.stringify(name)}; known options are ${BROKER_OPTIONS.map((o) => o.key).join(', ')}`,
      );
    }
    values[spec.key] = v;
    sources[spec.key] = { kind: 'file', name: `${spec.key} in ${path}`, raw: v };
  }
  return { values, sources };
}

function describeSource(s: Source | undefined, key: string): string {
  const spec = BY_KEY.get(key as Key);
  if (!s) return spec ? `--${spec.flag}` : key;
  const raw = typeof s.raw === 'string' ? s.raw : JSON.stringify(s.raw);
  switch (s.kind) {
    case 'flag':
      return `--${s.name} ${JSON.stringify(raw)}`;
    case 'env':
      return `${s.name}=${JSON.stringify(raw)}`;
    case 'file':
    case 'property':
      return `${s.name} (${raw})`;
  }
}

/**
 * Merges flags (parsed by node:util parseArgs, keyed by flag name), KCH_* variables and the config file
 * (`--config`, or KCH_CONFIG), validates the result, and explains what is wrong when it is.
 */
export function resolveBrokerOptions(
  flags: Record<string, string | string[] | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): ResolvedOptions {
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  const configPath =
    typeof flags.config === 'string'
      ? flags.config
      : env.KCH_CONFIG !== undefined
        ? env.KCH_CONFIG
        : undefined;
  let configFile: string | undefined;
  // topicConfig merges key by key across sources; everything else is replaced by the stronger source.
  const topicConfigs: Record<string, unknown>[] = [];
  const problems: string[] = [];
  const layer = (vals: Record<string, unknown>, srcs: Record<string, Source>) => {
    for (const [k, v] of Object.entries(vals)) {
      if (v === undefined) continue;
      if (k === 'topicConfig') {
        const parsed = topicConfig.safeParse(v);
        if (parsed.success) topicConfigs.push(parsed.data);
        else
          problems.push(`  ${describeSource(srcs[k], k)}: ${parsed.error.issues[0]?.message ?? 'bad value'}`);
      } else values[k] = v;
      sources[k] = srcs[k]!;
    }
  };
  // Kafka server properties are the weakest source: kch's own options win over them.
  const properties = loadServerProperties(
    typeof flags['server-properties'] === 'string'
      ? flags['server-properties']
      : env.KCH_SERVER_PROPERTIES || undefined,
    typeof flags.override === 'string'
      ? [flags.override]
      : Array.isArray(flags.override)
        ? flags.override
        : [],
    cwd,
  );
  if (properties) {
    problems.push(...properties.problems.map((p) => `  ${p}`));
    const srcs: Record<string, Source> = {};
    for (const [k, name] of Object.entries(properties.origins))
      srcs[k] = { kind: 'property', name, raw: properties.values[k] };
    layer(properties.values, srcs);
  }
  if (configPath !== undefined) {
    configFile = isAbsolute(configPath) ? configPath : resolve(cwd, configPath);
    const file = readConfigFile(configFile);
    layer(file.values, file.sources);
  }
  const envValues: Record<string, unknown> = {};
  const envSources: Record<string, Source> = {};
  for (const o of BROKER_OPTIONS) {
    const v = env[o.env];
    if (v === undefined || v === '') continue;
    envValues[o.key] = v;
    envSources[o.key] = { kind: 'env', name: o.env, raw: v };
  }
  layer(envValues, envSources);
  const flagValues: Record<string, unknown> = {};
  const flagSources: Record<string, Source> = {};
  for (const o of BROKER_OPTIONS) {
    const v = flags[o.flag];
    if (v === undefined || typeof v === 'boolean') continue;
    flagValues[o.key] = v;
    flagSources[o.key] = { kind: 'flag', name: o.flag, raw: Array.isArray(v) ? v.join(' ') : v };
  }
  layer(flagValues, flagSources);
  if (topicConfigs.length > 0) values.topicConfig = Object.assign({}, ...topicConfigs);
  if (properties?.listenersOrigin) {
    // The listeners say where the broker binds and what it advertises: kch's single address cannot
    // be added to them.
    for (const key of ['host', 'port', 'advertisedHost', 'advertisedPort']) {
      const s = sources[key];
      if (s && s.kind !== 'property')
        problems.push(
          `  ${describeSource(s, key)}: cannot be combined with ${properties.listenersOrigin}, which says where the broker listens; give one or the other`,
        );
    }
  }

  const result = brokerCommandSchema.safeParse(values);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      problems.push(`  ${describeSource(sources[key], key)}: ${issue.message}`);
    }
  } else problems.push(...adminProblems(result.data, properties?.broker, sources));
  if (problems.length > 0 || !result.success)
    throw new OptionsError(`invalid options:\n${problems.join('\n')}`);
  return {
    options: result.data,
    configFile,
    ...(properties ? { serverProperties: { broker: properties.broker, unknown: properties.unknown } } : {}),
  };
}

/**
 * What the admin server's options need of the broker's: a token on a non-loopback address, unless the
 * broker has an authorizer (then /sql and /views take a user of the broker, with ACLs); a TLS listener
 * for --admin-tls listener.
 */
function adminProblems(
  o: BrokerCommandOptions,
  broker: PropertiesLayer['broker'] | undefined,
  sources: Record<string, Source>,
): string[] {
  if (o.adminPort === null) return [];
  const problems: string[] = [];
  if (!isLoopback(o.adminHost) && o.adminToken === undefined && !broker?.authorizer)
    problems.push(
      `  ${describeSource(sources.adminToken, 'adminToken')}: is required when the admin server listens on ${o.adminHost}, which is not a loopback address: anyone who reaches it could run SQL. Set --admin-token (KCH_ADMIN_TOKEN), or --admin-host 127.0.0.1 (with an authorizer in the server properties, /sql and /views take the broker's users instead)`,
    );
  if (
    o.adminTls === 'listener' &&
    !broker?.listeners?.some((l) => l.securityProtocol === 'SSL' || l.securityProtocol === 'SASL_SSL')
  )
    problems.push(
      `  ${describeSource(sources.adminTls, 'adminTls')}: the broker has no SSL or SASL_SSL listener to take a certificate from (listeners in --server-properties); give the admin server its own with --admin-tls-cert and --admin-tls-key`,
    );
  return problems;
}

/** The options' part of the usage text. */
export function optionsUsage(): string {
  const rows = BROKER_OPTIONS.map((o) => [`--${o.flag} ${o.value}`, `${o.help} [${o.env}]`]);
  rows.push([
    '--config <file>',
    'JSON file of these options, e.g. { "port": 9092, "topicConfig": { "retention.ms": "86400000" } } [KCH_CONFIG]',
  ]);
  rows.push([
    '--server-properties <file>',
    "Kafka's server.properties: listeners, TLS, SASL, ACLs and the broker settings kch has, in Kafka's names; kch's own options win over it [KCH_SERVER_PROPERTIES]",
  ]);
  rows.push([
    '--override <name=value>',
    'a server property over the file, as kafka-server-start.sh takes it; repeat the flag',
  ]);
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}${b}`).join('\n');
}
