/**
 * Merges `kch broker`'s option sources: flags, then the environment, then the config file, then
 * Kafka server properties, then the defaults; validates the result and explains what is wrong.
 */
import { isAbsolute, resolve } from 'node:path';
import { loadServerProperties, type PropertiesLayer } from '../server-properties.js';
import { type BrokerCommandOptions, brokerCommandSchema } from './schema.js';
import { describeSource, OptionsError, readConfigFile, type Source } from './sources.js';
import { BROKER_OPTIONS } from './table.js';
import { topicConfig } from './values.js';

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|\[::1\])$/i;
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

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
