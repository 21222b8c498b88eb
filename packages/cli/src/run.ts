import { parseArgs } from 'node:util';
import { createBroker, jsonLogger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import { z } from 'zod';
import { brokerCommandSchema, fromEnvironment } from './options.js';

const USAGE = `Usage: kch [broker] [options]

Runs a Kafka-compatible broker.

Options:
  --host <address>           address to listen on (KCH_HOST, default 127.0.0.1)
  --port <port>              port to listen on, 0 for any free one (KCH_PORT, default 9092)
  --advertised-host <host>   host clients are told to connect to (KCH_ADVERTISED_HOST)
  --storage memory           where data lives (KCH_STORAGE, default memory)
  --partitions <n>           partitions of auto-created topics (KCH_PARTITIONS, default 1)
  --log-level <level>        debug, info, warn, error or silent (KCH_LOG_LEVEL, default info)
  -h, --help                 this text
`;

/** Runs the CLI; resolves with the process exit code once the broker stopped (or at once on bad input). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'advertised-host': { type: 'string' },
        storage: { type: 'string' },
        partitions: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`kch: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = positionals[0] ?? 'broker';
  if (command !== 'broker' || positionals.length > 1) {
    process.stderr.write(`kch: unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  const flags = Object.fromEntries(
    Object.entries({
      host: values.host,
      port: values.port,
      advertisedHost: values['advertised-host'],
      storage: values.storage,
      partitions: values.partitions,
      logLevel: values['log-level'],
    }).filter(([, v]) => v !== undefined),
  );
  const result = brokerCommandSchema.safeParse({ ...fromEnvironment(env), ...flags });
  if (!result.success) {
    process.stderr.write(`kch: invalid options:\n${z.prettifyError(result.error)}\n\n${USAGE}`);
    return 2;
  }
  const options = result.data;
  const logger = jsonLogger(options.logLevel);
  const broker = await createBroker({
    storage: memoryStorage(),
    logger,
    defaultPartitions: options.partitions,
    advertisedHost: options.advertisedHost,
  });
  const { host, port } = await broker.listen({ host: options.host, port: options.port });
  process.stderr.write(
    `kch broker listening on ${host}:${port} (storage: ${broker.context.storage.location})\n` +
      `connect with: kcat -b ${host}:${port} -L   or   new Kafka({ brokers: ['${host}:${port}'] })\n`,
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`kch: ${signal} again, exiting now\n`);
        resolve(1);
        return;
      }
      stopping = true;
      logger.info('shutting down', { signal });
      broker.close().then(
        () => resolve(0),
        (e) => {
          logger.error('shutdown failed', { error: e });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
