import { z } from 'zod';

/** `kch broker` options, from flags and KCH_* environment variables (flags win). */
export const brokerCommandSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(9092),
  advertisedHost: z.string().min(1).optional(),
  storage: z
    .string()
    .default('memory')
    .refine((s) => s === 'memory', {
      message:
        'only "memory" storage is available in this version (ClickHouse storage is coming: see the issues)',
    }),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  partitions: z.coerce.number().int().positive().default(1),
});

export type BrokerCommandOptions = z.output<typeof brokerCommandSchema>;

const ENV: Record<string, keyof BrokerCommandOptions> = {
  KCH_HOST: 'host',
  KCH_PORT: 'port',
  KCH_ADVERTISED_HOST: 'advertisedHost',
  KCH_STORAGE: 'storage',
  KCH_LOG_LEVEL: 'logLevel',
  KCH_PARTITIONS: 'partitions',
};

export function fromEnvironment(env: NodeJS.ProcessEnv): Partial<Record<keyof BrokerCommandOptions, string>> {
  const out: Partial<Record<keyof BrokerCommandOptions, string>> = {};
  for (const [name, key] of Object.entries(ENV)) if (env[name] !== undefined) out[key] = env[name];
  return out;
}
