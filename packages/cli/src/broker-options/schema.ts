/**
 * The schema of `kch broker`'s options once merged from their sources (./resolve.ts): each value's
 * type and default, and what options need of each other.
 */
import { z } from 'zod';
import { DEFAULT_STORAGE, parseStorageSpec } from './storage-spec.js';
import { DEFAULT_ADMIN_PORT, DEFAULT_KAFKA_PORT } from './table.js';
import { boolean, chdbSettings, port, tables, topicConfig, topics, views, wholeNumber } from './values.js';

export const brokerCommandSchema = z
  .object({
    host: z.string().trim().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
    port: port().default(DEFAULT_KAFKA_PORT),
    advertisedHost: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
    advertisedPort: wholeNumber(1, 65535, 'a port number from 1 to 65535').optional(),
    // Unset: the broker's default (1), or node.id of the server properties, which the schema sees as this key.
    nodeId: wholeNumber(0, 2_147_483_647, 'a node id: a whole number from 0 to 2147483647').optional(),
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
    maxPendingStorageBytes: wholeNumber(
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
