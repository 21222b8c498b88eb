/**
 * `kch broker --server-properties FILE --override name=value`: Kafka's server.properties, read as
 * kafka-server-start.sh reads it, and turned into kch options with @kch/broker's mapping. The
 * properties are the weakest source: a setting kch's own options give (a flag, a KCH_* variable,
 * the --config file) wins over the same setting from the properties, and an --override wins over
 * the file, as in Kafka.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  brokerOptionsFromProperties,
  JavaPropertiesError,
  type PropertiesBrokerOptions,
  parseJavaProperties,
} from '@kch/broker';

/** What the properties give, split between kch's own options and the rest of createBroker's. */
export interface PropertiesLayer {
  /** Values under kch's option keys (partitions, topicConfig, ...), beneath kch's own sources. */
  values: Record<string, unknown>;
  /** Where each of those came from, for messages: `num.partitions in server.properties`. */
  origins: Record<string, string>;
  /** The other createBroker options the properties set (listeners, SASL, authorizer, ...). */
  broker: PropertiesBrokerOptions;
  /** Properties kch has no use for, for the warning at start. */
  unknown: string[];
  /** What cannot be honoured, one line each, naming where it came from. */
  problems: string[];
  /** Where the `listeners` property came from, when it gives listeners to bind. */
  listenersOrigin?: string;
}

/** kch option keys the properties map to, and the property each comes from. */
const KCH_KEYS = {
  partitions: ['defaultPartitions', 'num.partitions'],
  autoCreateTopics: ['autoCreateTopics', 'auto.create.topics.enable'],
  queuedMaxRequestBytes: ['queuedMaxRequestBytes', 'queued.max.request.bytes'],
  groupInitialRebalanceDelayMs: ['groupInitialRebalanceDelayMs', 'group.initial.rebalance.delay.ms'],
  advertisedHost: ['advertisedHost', 'advertised.listeners'],
  advertisedPort: ['advertisedPort', 'advertised.listeners'],
  nodeId: ['nodeId', 'node.id'],
} as const satisfies Record<string, readonly [keyof PropertiesBrokerOptions, string]>;

/**
 * A properties file's text. Kafka reads server.properties and its tools' client properties as
 * ISO-8859-1, which garbles UTF-8 (a password with an é would never match); kch reads UTF-8, and
 * ISO-8859-1 when the bytes are not UTF-8, so a file written for Kafka in either reads as its author
 * meant. \uXXXX escapes mean the same in both.
 */
export function decodeProperties(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/**
 * Reads `file` (when given) and applies `overrides` (`name=value`, split at the first `=`; a name
 * alone is the empty value, as kafka-server-start.sh takes it). Undefined when neither is given.
 */
export function loadServerProperties(
  file: string | undefined,
  overrides: readonly string[],
  cwd: string,
): PropertiesLayer | undefined {
  if (file === undefined && overrides.length === 0) return undefined;
  const layer: PropertiesLayer = { values: {}, origins: {}, broker: {}, unknown: [], problems: [] };
  let props: Record<string, string> = {};
  if (file !== undefined) {
    const path = isAbsolute(file) ? file : resolve(cwd, file);
    try {
      props = parseJavaProperties(decodeProperties(readFileSync(path)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'does not exist'
          : e instanceof JavaPropertiesError
            ? `is not a properties file Kafka would read: ${e.message}`
            : `cannot be read: ${(e as Error).message}`;
      layer.problems.push(`--server-properties ${file}: ${why}`);
      return layer;
    }
  }
  const overridden = new Set<string>();
  for (const o of overrides) {
    const at = o.indexOf('=');
    const name = at < 0 ? o : o.slice(0, at);
    if (name === '') {
      layer.problems.push(`--override ${JSON.stringify(o)}: needs a property name, as name=value`);
      continue;
    }
    props[name] = at < 0 ? '' : o.slice(at + 1);
    overridden.add(name);
  }
  const origin = (name: string) => (overridden.has(name) ? `--override ${name}` : `${name} in ${file}`);
  const where = [
    file !== undefined ? `--server-properties ${file}` : '',
    overridden.size > 0 ? '--override' : '',
  ]
    .filter(Boolean)
    .join(' with ');

  const result = brokerOptionsFromProperties(props);
  layer.unknown = result.unknown;
  layer.problems.push(...result.errors.map((e) => `${where}: ${e}`));
  const {
    defaultPartitions,
    autoCreateTopics,
    queuedMaxRequestBytes,
    groupInitialRebalanceDelayMs,
    topicDefaults,
    advertisedHost,
    advertisedPort,
    nodeId,
    ...broker
  } = result.options;
  const mapped: Partial<Record<keyof typeof KCH_KEYS, unknown>> = {
    partitions: defaultPartitions,
    autoCreateTopics,
    queuedMaxRequestBytes,
    groupInitialRebalanceDelayMs,
    advertisedHost,
    advertisedPort,
    // node.id (or broker.id): under kch's key, so that --node-id and KCH_NODE_ID win over it.
    nodeId,
  };
  for (const [key, value] of Object.entries(mapped)) {
    if (value === undefined) continue;
    layer.values[key] = value;
    layer.origins[key] = origin(KCH_KEYS[key as keyof typeof KCH_KEYS][1]);
  }
  if (topicDefaults) {
    layer.values.topicConfig = topicDefaults;
    layer.origins.topicConfig = `the log.* and topic defaults of ${where}`;
  }
  layer.broker = broker;
  if (broker.listeners && broker.listeners.length > 0) layer.listenersOrigin = origin('listeners');
  return layer;
}
