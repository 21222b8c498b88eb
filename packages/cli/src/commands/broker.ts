/**
 * `kch broker` (also `kch` alone): a Kafka-compatible broker on embedded ClickHouse in ./kch-data
 * unless told otherwise, with the admin HTTP server beside it.
 *
 * Shutdown: the first SIGINT or SIGTERM stops gracefully (the listener closes, in-flight requests are
 * answered, storage flushes and closes, the admin server stops) and the process exits 0; a second
 * signal exits at once with 130 (SIGINT) or 143 (SIGTERM), as shells report a death by that signal,
 * unless it came within SIGNAL_GRACE_MS of the first (the same Ctrl-C passed on by a wrapper: see
 * ../signals.ts). An acknowledged record is stored before its acknowledgement is sent, so neither
 * loses one.
 */
import {
  type Broker,
  BrokerOptionsError,
  brokerMetrics,
  createBroker,
  jsonLogger,
  type Logger,
  TopicDeclarationError,
  validateTopicConfigs,
} from '@kch/broker';
import { StorageError } from '@kch/storage';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { ArgumentError, parseArguments } from '../args.js';
import { type CliIO, type Command, ExitCode } from '../command.js';
import { declareTables, type TableDeclarations } from '../declared-tables.js';
import { createDeclaredViews } from '../declared-views.js';
import {
  BROKER_OPTIONS,
  type BrokerCommandOptions,
  DEFAULT_ADMIN_PORT,
  isLoopback,
  OptionsError,
  optionsUsage,
  type ResolvedOptions,
  resolveBrokerOptions,
} from '../options.js';
import { onStopSignals, SIGNAL_GRACE_MS } from '../signals.js';
import { createStorage } from '../storage.js';
import { cliVersion } from '../version.js';

const USAGE = `Usage: kch broker [options]
       kch [options]

Runs a Kafka-compatible broker whose storage is ClickHouse: embedded ClickHouse (chdb) in ./kch-data
unless --storage says otherwise. Any Kafka client connects to it; every topic is a ClickHouse table.
Options come from flags, KCH_* environment variables [in brackets] and a JSON config file (--config),
in that order of precedence, then from Kafka's server.properties (--server-properties, --override).

Options:
${optionsUsage()}

Examples:
  kch                                          # 127.0.0.1:9092, data in ./kch-data
  kch broker --port 0 --storage memory         # a free port, nothing kept
  kch broker --storage http://default:@localhost:8123 --database kafka
  kch broker --topic-config retention.ms=86400000 --partitions 3
  kch broker --config kch.json                 # e.g. { "topics": { "orders": { "onInvalid": "dead-letter",
                                               #   "schema": { "type": "object", "required": ["id"] } } } }
  kch broker --server-properties config/server.properties --override log.retention.hours=24

Stop it with Ctrl-C or SIGTERM: in-flight requests finish, data is flushed, exit code 0. A second
signal exits at once (130 after SIGINT, 143 after SIGTERM), unless it comes within ${SIGNAL_GRACE_MS / 1000} s
of the first: that is the same Ctrl-C, passed on by a wrapper such as pnpm.
`;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A listener in the banner: where it is bound and what Metadata tells its clients. */
export interface BannerListener {
  name: string;
  securityProtocol: string;
  host: string;
  port: number;
  advertised: { host: string; port: number };
}

/** The startup banner: where it listens, where the data is, how to connect. */
export function banner(info: {
  version: string;
  listening: { host: string; port: number };
  advertised: { host: string; port: number };
  /** Every listener, when the broker has several (the server properties' `listeners`). */
  listeners?: readonly BannerListener[];
  storage: string;
  database: string;
  sqlAvailable: boolean;
  admin: AdminServer | null;
  adminToken: boolean;
}): string {
  const address = (a: { host: string; port: number }) => `${bracketed(a.host)}:${a.port}`;
  const listeners: BannerListener[] = info.listeners?.length
    ? [...info.listeners]
    : [{ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', ...info.listening, advertised: info.advertised }];
  const kafka = listeners.map((l, i) => {
    const bound = address(l);
    const advertised = address(l.advertised);
    const what =
      listeners.length > 1
        ? [l.name === l.securityProtocol ? l.name : `${l.name}, ${l.securityProtocol}`]
        : [];
    if (advertised !== bound) what.push(`advertised as ${advertised}`);
    return `${i === 0 ? '  Kafka     ' : '            '}${bound}${what.length > 0 ? `  (${what.join(', ')})` : ''}`;
  });
  // The examples connect to a plaintext listener when there is one: the others need security settings.
  const connect = listeners.find((l) => l.securityProtocol === 'PLAINTEXT') ?? listeners[0]!;
  const bootstrap = address(connect.advertised);
  const lines = [
    `kch ${info.version}: a Kafka-compatible broker on ClickHouse`,
    '',
    ...kafka,
    `  storage   ${info.storage}`,
    info.admin
      ? `  admin     ${info.admin.url}  (GET /metrics, GET /healthz, POST /sql, /views)`
      : '  admin     off',
    '',
    `Connect${connect.securityProtocol === 'PLAINTEXT' ? '' : ` (to ${connect.name}, ${connect.securityProtocol}: add the client's security settings)`}:`,
    `  kcat      kcat -b ${bootstrap} -L`,
    `  kafkajs   new Kafka({ clientId: 'my-app', brokers: ['${bootstrap}'] })`,
    `  Java      bootstrap.servers=${bootstrap}`,
  ];
  if (info.sqlAvailable && info.admin) {
    const url = info.admin.url;
    const adminFlag = url === `http://127.0.0.1:${DEFAULT_ADMIN_PORT}` ? '' : ` --admin-url ${url}`;
    const tokenFlag = info.adminToken ? ' --token <token>' : '';
    lines.push(
      `  SQL       kch sql${adminFlag}${tokenFlag} 'SELECT partition, offset, key, value FROM ${info.database}.\`<topic>\` LIMIT 10'`,
    );
  }
  lines.push('', 'Ctrl-C or SIGTERM stops it gracefully (in-flight requests finish, data is flushed).', '');
  return lines.join('\n');
}

/** The admin server's certificate: its own (--admin-tls-cert), or the first TLS listener's when told. */
function adminTls(
  options: BrokerCommandOptions,
  broker: Broker,
): { cert: string; key: string; keyPassword?: string } | undefined {
  if (options.adminTlsCert !== undefined && options.adminTlsKey !== undefined)
    return { cert: options.adminTlsCert, key: options.adminTlsKey };
  if (options.adminTls !== 'listener') return undefined;
  const listener = broker.config.listeners.find(
    (l) => (l.securityProtocol === 'SSL' || l.securityProtocol === 'SASL_SSL') && l.tls,
  );
  if (!listener?.tls)
    throw new Error('the broker has no SSL or SASL_SSL listener to take a certificate from');
  const { cert, key, keyPassword } = listener.tls;
  return { cert, key, ...(keyPassword !== undefined ? { keyPassword } : {}) };
}

function startupError(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err?.code === 'EADDRINUSE')
    return `${err.address ?? ''}:${err.port ?? ''} is in use (another kch, or Kafka?): choose another port`;
  if (err?.code === 'EADDRNOTAVAIL')
    return `${err.address ?? 'the address'} is not an address of this machine`;
  if (err?.code === 'EACCES') return `not allowed to listen on port ${err.port ?? ''}: ${err.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Signal handling, installed before anything starts: a signal during startup stops the broker as soon
 * as it is up (nothing is left half-open), and the banner is never printed before a signal would be
 * handled (a test or supervisor that signals on seeing it gets the graceful stop).
 */
class Shutdown {
  private signal: NodeJS.Signals | null = null;
  private stopper: (() => Promise<void>) | null = null;
  private resolveExit!: (code: number) => void;
  readonly exitCode = new Promise<number>((resolve) => {
    this.resolveExit = resolve;
  });
  readonly dispose: () => void;

  constructor(private readonly logger: Logger) {
    this.dispose = onStopSignals({
      stop: (signal) => {
        this.signal = signal;
        this.logger.info('shutting down', { signal });
        if (this.stopper) this.run();
      },
      force: (signal) => {
        this.logger.warn('second signal: exiting now, without waiting for the graceful stop', { signal });
        this.resolveExit(SIGNAL_EXIT[signal] ?? ExitCode.FAILURE);
      },
      repeated: (signal, afterMs) =>
        this.logger.info(
          `signal within ${SIGNAL_GRACE_MS} ms of the first, taken as the same (a wrapper such as pnpm passes Ctrl-C on too); another one later exits at once`,
          { signal, afterMs },
        ),
    });
  }

  /** True once a signal asked to stop. */
  get requested(): boolean {
    return this.signal !== null;
  }

  /** The broker is up: a signal now (or one that came during startup) stops it with `stop`. */
  ready(stop: () => Promise<void>): void {
    this.stopper = stop;
    if (this.signal) this.run();
  }

  private run(): void {
    const started = performance.now();
    this.stopper!().then(
      () => {
        this.logger.info('stopped', { durationMs: Math.round(performance.now() - started) });
        this.resolveExit(ExitCode.OK);
      },
      (e: unknown) => {
        this.logger.error('shutdown failed', { error: e });
        this.resolveExit(ExitCode.FAILURE);
      },
    );
  }
}

type ServerProperties = ResolvedOptions['serverProperties'];

async function runBroker(
  options: BrokerCommandOptions,
  io: CliIO,
  properties: ServerProperties,
): Promise<number> {
  const logger: Logger = jsonLogger(options.logLevel, io.stderr);
  if (properties && properties.unknown.length > 0) {
    // One line, as Kafka logs each config it does not know: they are harmless, and worth a look.
    logger.warn(`server properties kch has no use for, ignored: ${properties.unknown.join(', ')}`, {
      properties: properties.unknown,
    });
  }
  const shutdown = new Shutdown(logger);
  try {
    // A second signal during startup exits at once, too.
    return await Promise.race([
      start(options, properties?.broker ?? {}, io, logger, shutdown).then(
        (code) => code ?? shutdown.exitCode,
      ),
      shutdown.exitCode,
    ]);
  } finally {
    shutdown.dispose();
  }
}

/** Starts everything; resolves with an exit code when startup failed, or undefined once running. */
async function start(
  options: BrokerCommandOptions,
  fromProperties: NonNullable<ServerProperties>['broker'],
  io: CliIO,
  logger: Logger,
  shutdown: Shutdown,
): Promise<number | undefined> {
  const fail = (what: string, e: unknown, code: number = ExitCode.FAILURE): number => {
    io.stderr.write(`kch broker: ${what}: ${startupError(e)}\n`);
    return code;
  };
  /** A step that needs storage failed: UNAVAILABLE when storage could not be reached. */
  const storageStepFailed = (what: string, e: unknown): number =>
    fail(
      what,
      e,
      e instanceof StorageError && e.kind === 'UNAVAILABLE' ? ExitCode.UNAVAILABLE : ExitCode.FAILURE,
    );

  const storage = createStorage(options.storage, {
    database: options.database,
    lingerMs: options.lingerMs,
    chdbSettings: options.chdbSettings,
    clickhouseCluster: options.clickhouseCluster,
  });
  // Embedded ClickHouse takes seconds to open: say what the time before the banner goes to.
  logger.info('opening storage', { storage: storage.location });
  let declared: TableDeclarations;
  try {
    declared = await declareTables(storage, options.tables, options.topics);
  } catch (e) {
    await storage.close().catch(() => {});
    return storageStepFailed('the tables of the config could not be created', e);
  }
  let broker: Broker;
  try {
    broker = await createBroker({
      // kch's own options, below, win over what the server properties set.
      ...fromProperties,
      storage,
      logger,
      defaultPartitions: options.partitions,
      topicDefaults: options.topicConfig,
      autoCreateTopics: options.autoCreateTopics,
      ...(options.tailCacheBytes !== undefined ? { tailCacheBytes: options.tailCacheBytes } : {}),
      ...(options.queuedMaxRequestBytes !== undefined
        ? { queuedMaxRequestBytes: options.queuedMaxRequestBytes }
        : {}),
      ...(options.maxPendingStorageBytes !== undefined
        ? { maxPendingStorageBytes: options.maxPendingStorageBytes }
        : {}),
      groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs,
      topics: declared.topics,
      tableGroups: declared.tableGroups,
      ...(options.advertisedHost !== undefined ? { advertisedHost: options.advertisedHost } : {}),
      ...(options.advertisedPort !== undefined ? { advertisedPort: options.advertisedPort } : {}),
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
    });
  } catch (e) {
    await storage.close().catch(() => {});
    // Both say what is wrong and where (the option, the topic) themselves.
    if (e instanceof BrokerOptionsError || e instanceof TopicDeclarationError) {
      io.stderr.write(`kch broker: ${e.message}\n`);
      return e instanceof BrokerOptionsError ? ExitCode.USAGE : ExitCode.FAILURE;
    }
    return fail(`storage could not be opened (${storage.location})`, e, ExitCode.UNAVAILABLE);
  }
  try {
    await createDeclaredViews(broker, options.views);
  } catch (e) {
    await broker.close().catch(() => {});
    return storageStepFailed('the views of the config could not be created', e);
  }
  const metrics = brokerMetrics(broker);
  let admin: AdminServer | null = null;
  const stopAll = async () => {
    admin?.setShuttingDown();
    await broker.close();
    metrics.close();
    await admin?.close();
  };

  if (!shutdown.requested) {
    // With the properties' listeners the broker binds each of them; else kch's one address.
    const listeners = fromProperties.listeners ?? [];
    try {
      if (listeners.length > 0) await broker.listen();
      else await broker.listen({ host: options.host, port: options.port });
    } catch (e) {
      await stopAll().catch(() => {});
      const where = listeners.map((l) => `${l.name}://${bracketed(l.host ?? '')}:${l.port}`).join(', ');
      return fail(`cannot listen on ${where || `${options.host}:${options.port}`}`, e);
    }
  }
  if (options.adminPort !== null && !shutdown.requested) {
    try {
      const tls = adminTls(options, broker);
      admin = await startAdminServer({
        broker,
        metrics,
        logger,
        host: options.adminHost,
        port: options.adminPort,
        ...(options.adminToken !== undefined ? { token: options.adminToken } : {}),
        ...(tls ? { tls } : {}),
      });
      logger.info('admin listening', {
        url: admin.url,
        token: options.adminToken !== undefined && !admin.authorized,
        acls: admin.authorized,
      });
      if (admin.authorized && options.adminToken !== undefined)
        logger.warn(
          'the admin token is not used: the broker has an authorizer, so /sql and /views take a user of the broker (HTTP Basic, or an OAUTHBEARER token) and check its ACLs',
        );
      if (admin.authorized && !tls && !isLoopback(options.adminHost))
        logger.warn(
          'the admin server takes passwords (HTTP Basic) over plain HTTP on a non-loopback address: give it TLS (--admin-tls-cert and --admin-tls-key, or --admin-tls listener)',
        );
    } catch (e) {
      await stopAll().catch(() => {});
      return fail(
        `the admin server cannot start on ${options.adminHost}:${options.adminPort} (use --admin-port 0 for a free port, or off)`,
        e,
      );
    }
  }

  if (!shutdown.requested) {
    io.stdout.write(
      banner({
        version: cliVersion(),
        listening: broker.listeningOn!,
        advertised: broker.context.advertised,
        listeners: [...broker.boundListeners].map(([name, bound]) => ({
          name,
          ...bound,
          advertised: broker.context.advertisedListeners.get(name) ?? bound,
        })),
        storage: storage.location,
        database: options.database,
        sqlAvailable: options.storage.kind !== 'memory',
        admin,
        adminToken: options.adminToken !== undefined,
      }),
    );
  }
  shutdown.ready(stopAll);
  return undefined;
}

const ARGUMENTS = {
  ...Object.fromEntries(
    BROKER_OPTIONS.map((o) => [o.flag, { type: 'string' as const, multiple: o.multiple ?? false }]),
  ),
  config: { type: 'string' },
  'server-properties': { type: 'string' },
  override: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseBrokerArgs(args: string[]) {
  return parseArguments(args, ARGUMENTS);
}

const command: Command = {
  name: 'broker',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed: ReturnType<typeof parseBrokerArgs>;
    try {
      parsed = parseBrokerArgs(args);
    } catch (e) {
      if (!(e instanceof ArgumentError)) throw e;
      io.stderr.write(`kch broker: ${e.message}\nRun \`kch broker --help\` for the options.\n`);
      return ExitCode.USAGE;
    }
    if (parsed.values.help) {
      io.stdout.write(USAGE);
      return ExitCode.OK;
    }
    if (parsed.positionals.length > 0) {
      io.stderr.write(
        `kch broker: unexpected argument ${JSON.stringify(parsed.positionals[0])}\nRun \`kch broker --help\` for the options.\n`,
      );
      return ExitCode.USAGE;
    }
    let options: BrokerCommandOptions;
    let properties: ServerProperties;
    try {
      const resolved = resolveBrokerOptions(
        parsed.values as Record<string, string | string[] | boolean>,
        io.env,
      );
      options = resolved.options;
      properties = resolved.serverProperties;
      try {
        validateTopicConfigs(options.topicConfig);
      } catch (e) {
        throw new OptionsError(`invalid options:\n  --topic-config: ${(e as Error).message}`);
      }
    } catch (e) {
      if (!(e instanceof OptionsError)) throw e;
      io.stderr.write(`kch broker: ${e.message}\nRun \`kch broker --help\` for the options.\n`);
      return ExitCode.USAGE;
    }
    return runBroker(options, io, properties);
  },
};

export default command;
