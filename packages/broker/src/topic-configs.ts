/**
 * Topic config knowledge, in one place: the topic configs kch knows (Kafka 4.0's LogConfig set and
 * kch's own kch.*), Kafka's rules for parsing and validating values, and how DescribeConfigs and
 * CreateTopics present them (sources, synonyms, types, documentation). The broker's own configs are in
 * ./broker-configs.ts.
 *
 * A topic stores only its overrides; the effective value is the override, else the broker's default
 * for topics (`topicDefaults`, and `messageMaxBytes` for max.message.bytes), else Kafka's default.
 * Keys Kafka knows but kch does not act on (segment sizes, flush intervals) are accepted and reported,
 * so tools that set them keep working.
 *
 * Values are parsed as Kafka's ConfigDef parses them (trimmed; booleans in any case; lists split at
 * commas with surrounding blanks) and kept in Kafka's canonical printed form, which is what Kafka's
 * DescribeConfigs shows: " 1000 " is stored as "1000", "TRUE" as "true", "delete, compact" as
 * "delete,compact".
 */
import { KafkaProtocolError } from '@kch/protocol';
import { jsonSchemaProblem } from './ingest/value-schemas.js';
import { topicNameError } from './log/topic-names.js';

export type ConfigType =
  | 'boolean'
  | 'string'
  | 'int'
  | 'short'
  | 'long'
  | 'double'
  | 'list'
  | 'class'
  | 'password';

/** DescribeConfigs v3+ `configType` (Kafka's DescribeConfigsResponse.ConfigType); 0 is UNKNOWN. */
export const CONFIG_TYPE_IDS: Readonly<Record<ConfigType, number>> = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
};

/** Where a value comes from, numbered as Kafka's DescribeConfigsResponse.ConfigSource. */
export const ConfigSource = {
  UNKNOWN: 0,
  /** A topic override (Kafka's TOPIC_CONFIG; the admin client calls it DYNAMIC_TOPIC_CONFIG). */
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  /** Set in the broker's configuration at start: for kch, the `createBroker` options. */
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;

/** Kafka's ConfigResource.Type ids, as DescribeConfigs and (Incremental)AlterConfigs carry them. */
export const ConfigResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const;

/** IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType). */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
export const ALTER_CONFIG_OP_NAMES: Readonly<Record<number, string>> = {
  0: 'SET',
  1: 'DELETE',
  2: 'APPEND',
  3: 'SUBTRACT',
};

export interface ConfigDefinition {
  name: string;
  type: ConfigType;
  /** Kafka's default, in canonical form; null when Kafka has none. */
  defaultValue: string | null;
  /** Allowed values of a string, or of each element of a list. */
  validValues?: readonly string[];
  /** Bounds of a number (Kafka's Range.atLeast / Range.between). */
  min?: number;
  max?: number;
  /** Any further rule on the canonical value: the problem in Kafka's words, or null. */
  check?: (value: string) => string | null;
  /** Kafka hides the values of sensitive configs (passwords). */
  sensitive?: boolean;
  doc: string;
}

export interface TopicConfigDefinition extends ConfigDefinition {
  /** The broker config that sets the default for every topic (Kafka's ServerTopicConfigSynonyms). */
  brokerSynonym?: string;
  /** Reported, never set: the value comes from where the topic is stored. */
  readOnly?: boolean;
}

/** The read-only topic config that shows where the storage keeps a topic's records. */
export const STORAGE_TABLE_CONFIG = 'kch.storage.table';

const LONG_MAX = '9223372036854775807';
/** Kafka's message.max.bytes default (1 MiB plus a record batch's overhead). */
export const MESSAGE_MAX_BYTES_DEFAULT = 1024 * 1024 + 12;

const compressionLevel = (min: number, max: number, dflt?: number) => (value: string) => {
  const n = Number(value);
  if (dflt !== undefined) {
    // Kafka's GZIP level validator: 1..9, or -1 for the codec's default.
    return n > max || (n < min && n !== dflt)
      ? `Value must be between ${min} and ${max} or equal to ${dflt}`
      : null;
  }
  if (n < min) return `Value must be at least ${min}`;
  if (n > max) return `Value must be no more than ${max}`;
  return null;
};

/** Kafka's ThrottledReplicaListValidator. */
const throttledReplicas = (name: string) => (value: string) => {
  const parts = value === '' ? [] : value.split(',');
  const ok = parts.every((p) => /^([0-9]+:[0-9]+)?$/.test(p)) || parts.join('') === '*';
  return ok
    ? null
    : `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`;
};

/** ClickHouse input formats a bound table (kch.table) takes record values in. */
export const TABLE_FORMATS = ['JSONEachRow', 'CSV', 'TabSeparated', 'TSV'] as const;

function deadLetterTopicProblem(value: string): string | null {
  const problem = topicNameError(value);
  return problem ? `not a usable topic name: ${problem}` : null;
}

/** Kafka 4.0's topic configs, in name order, and kch's own (kch.*: record checks and table bindings). */
// biome-ignore format: one config per line reads as the table it is
export const TOPIC_CONFIGS: readonly TopicConfigDefinition[] = [
  { name: 'cleanup.policy', type: 'list', defaultValue: 'delete', brokerSynonym: 'log.cleanup.policy', validValues: ['compact', 'delete'], doc: 'delete: old records go by retention. compact: the log cleaner keeps the latest record of each key (docs/compaction.md). Both: both.' },
  { name: 'compression.gzip.level', type: 'int', defaultValue: '-1', brokerSynonym: 'compression.gzip.level', check: compressionLevel(1, 9, -1), doc: 'Accepted for compatibility: kch stores batches as the producer compressed them.' },
  { name: 'compression.lz4.level', type: 'int', defaultValue: '9', brokerSynonym: 'compression.lz4.level', check: compressionLevel(1, 17), doc: 'Accepted for compatibility: kch stores batches as the producer compressed them.' },
  { name: 'compression.type', type: 'string', defaultValue: 'producer', brokerSynonym: 'compression.type', validValues: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'], doc: 'producer keeps what the producer sent.' },
  { name: 'compression.zstd.level', type: 'int', defaultValue: '3', brokerSynonym: 'compression.zstd.level', check: compressionLevel(-131072, 22), doc: 'Accepted for compatibility: kch stores batches as the producer compressed them.' },
  { name: 'delete.retention.ms', type: 'long', defaultValue: '86400000', brokerSynonym: 'log.cleaner.delete.retention.ms', min: 0, doc: 'How long a tombstone stays after the log cleaner first cleaned past it.' },
  { name: 'file.delete.delay.ms', type: 'long', defaultValue: '60000', brokerSynonym: 'log.segment.delete.delay.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'flush.messages', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.flush.interval.messages', min: 1, doc: 'Accepted for compatibility: every acknowledged write is already durable in storage.' },
  { name: 'flush.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.flush.interval.ms', min: 0, doc: 'Accepted for compatibility: every acknowledged write is already durable in storage.' },
  { name: 'follower.replication.throttled.replicas', type: 'list', defaultValue: '', check: throttledReplicas('follower.replication.throttled.replicas'), doc: 'Accepted for compatibility: kch keeps one replica.' },
  { name: 'index.interval.bytes', type: 'int', defaultValue: '4096', brokerSynonym: 'log.index.interval.bytes', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'kch.dead.letter.topic', type: 'string', defaultValue: null, check: deadLetterTopicProblem, doc: 'Where kch.invalid.records=dead-letter sends invalid records; default <topic>.dlq. Created when missing, with the partition count of the topic.' },
  { name: 'kch.format', type: 'string', defaultValue: 'JSONEachRow', validValues: TABLE_FORMATS, doc: 'The format of record values for kch.table: the ClickHouse input format each value is parsed with.' },
  { name: 'kch.invalid.records', type: 'string', defaultValue: 'reject', validValues: ['reject', 'dead-letter'], doc: 'What happens to a record that fails the checks of kch.table or kch.schema: reject fails its batch with INVALID_RECORD and per-record errors; dead-letter stores the valid records and sends the invalid ones to kch.dead.letter.topic.' },
  { name: 'kch.schema', type: 'string', defaultValue: null, check: jsonSchemaProblem, doc: 'A JSON Schema document (as JSON text) that every record value, parsed as JSON, must satisfy.' },
  { name: STORAGE_TABLE_CONFIG, type: 'string', defaultValue: null, readOnly: true, check: () => "it is read-only: it shows the ClickHouse table kch keeps the topic's records in. To have them written into a table of yours, set kch.table", doc: "Where the topic's records are (read-only): the ClickHouse table, as SQL names it (kafka.orders), kch's own or the one kch.table binds. Topic names too long for a ClickHouse table get a table name derived from them." },
  { name: 'kch.table', type: 'string', defaultValue: null, check: (v) => (v === '' ? 'must name a ClickHouse table, e.g. shop.orders' : null), doc: 'A ClickHouse table this topic is bound to: each record value becomes a row of it (kch.format), and records that do not fit are invalid. Needs ClickHouse storage.' },
  { name: 'leader.replication.throttled.replicas', type: 'list', defaultValue: '', check: throttledReplicas('leader.replication.throttled.replicas'), doc: 'Accepted for compatibility: kch keeps one replica.' },
  { name: 'local.retention.bytes', type: 'long', defaultValue: '-2', brokerSynonym: 'log.local.retention.bytes', min: -2, doc: 'Tiered storage: accepted for compatibility.' },
  { name: 'local.retention.ms', type: 'long', defaultValue: '-2', brokerSynonym: 'log.local.retention.ms', min: -2, doc: 'Tiered storage: accepted for compatibility.' },
  { name: 'max.compaction.lag.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.cleaner.max.compaction.lag.ms', min: 1, doc: 'Longest a record waits uncompacted (counted from when the broker first saw it uncleaned) before the cleaner compacts whatever the dirty ratio.' },
  { name: 'max.message.bytes', type: 'int', defaultValue: String(MESSAGE_MAX_BYTES_DEFAULT), brokerSynonym: 'message.max.bytes', min: 0, doc: 'Largest record batch the topic accepts.' },
  { name: 'message.timestamp.after.max.ms', type: 'long', defaultValue: '3600000', brokerSynonym: 'log.message.timestamp.after.max.ms', min: 0, doc: 'Largest allowed amount a CreateTime timestamp may be ahead of the broker clock (one hour by default since Kafka 4.0, KIP-1030).' },
  { name: 'message.timestamp.before.max.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.message.timestamp.before.max.ms', min: 0, doc: 'Largest allowed amount a CreateTime timestamp may be behind the broker clock.' },
  { name: 'message.timestamp.type', type: 'string', defaultValue: 'CreateTime', brokerSynonym: 'log.message.timestamp.type', validValues: ['CreateTime', 'LogAppendTime'], doc: 'LogAppendTime stamps each batch with the broker time when it is appended.' },
  { name: 'min.cleanable.dirty.ratio', type: 'double', defaultValue: '0.5', brokerSynonym: 'log.cleaner.min.cleanable.ratio', min: 0, max: 1, doc: 'Share of the log (in offsets) not cleaned yet at which the log cleaner compacts a partition.' },
  { name: 'min.compaction.lag.ms', type: 'long', defaultValue: '0', brokerSynonym: 'log.cleaner.min.compaction.lag.ms', min: 0, doc: 'A record is not compacted before it is this old (by its timestamp).' },
  { name: 'min.insync.replicas', type: 'int', defaultValue: '1', brokerSynonym: 'min.insync.replicas', min: 1, doc: 'One replica: storage provides durability.' },
  { name: 'preallocate', type: 'boolean', defaultValue: 'false', brokerSynonym: 'log.preallocate', doc: 'Accepted for compatibility.' },
  { name: 'remote.log.copy.disable', type: 'boolean', defaultValue: 'false', doc: 'Tiered storage: accepted for compatibility.' },
  { name: 'remote.log.delete.on.disable', type: 'boolean', defaultValue: 'false', doc: 'Tiered storage: accepted for compatibility.' },
  { name: 'remote.storage.enable', type: 'boolean', defaultValue: 'false', doc: 'Tiered storage is not available: the log already lives in ClickHouse.' },
  { name: 'retention.bytes', type: 'long', defaultValue: '-1', brokerSynonym: 'log.retention.bytes', doc: 'Accepted and reported; retention is by time (retention.ms).' },
  { name: 'retention.ms', type: 'long', defaultValue: '-1', brokerSynonym: 'log.retention.ms', min: -1, doc: 'How long records are kept; -1 keeps them forever, which is kch\'s default (Kafka\'s is 604800000, 7 days; set log.retention.ms for that). In ClickHouse storage, a TTL on the topic table.' },
  { name: 'segment.bytes', type: 'int', defaultValue: '1073741824', brokerSynonym: 'log.segment.bytes', min: 14, doc: 'Accepted for compatibility.' },
  { name: 'segment.index.bytes', type: 'int', defaultValue: '10485760', brokerSynonym: 'log.index.size.max.bytes', min: 4, doc: 'Accepted for compatibility.' },
  { name: 'segment.jitter.ms', type: 'long', defaultValue: '0', brokerSynonym: 'log.roll.jitter.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'segment.ms', type: 'long', defaultValue: '604800000', brokerSynonym: 'log.roll.ms', min: 1, doc: 'Accepted for compatibility.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', defaultValue: 'false', brokerSynonym: 'unclean.leader.election.enable', doc: 'Accepted for compatibility.' },
];

const BY_NAME = new Map(TOPIC_CONFIGS.map((c) => [c.name, c]));

export function topicConfigDefinition(name: string): TopicConfigDefinition | undefined {
  return BY_NAME.get(name);
}

/* ------------------------------------------------------------------------------------------------ */
/* Parsing and validation, as Kafka's ConfigDef does it                                             */
/* ------------------------------------------------------------------------------------------------ */

const INTEGER_BITS: Partial<Record<ConfigType, bigint>> = { short: 16n, int: 32n, long: 64n };

/** Java's Double.toString, which is how Kafka prints a double config. */
export function javaDoubleString(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(n);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa, exponent] = n.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

function invalidValue(name: string, shown: string, problem: string): KafkaProtocolError {
  return new KafkaProtocolError(
    'INVALID_CONFIG',
    `Invalid value ${shown} for configuration ${name}: ${problem}`,
  );
}

/**
 * The canonical form of `raw` for `def`, or INVALID_CONFIG with Kafka's message ("Invalid value abc for
 * configuration retention.ms: Not a number of type LONG").
 */
export function parseConfigValue(def: ConfigDefinition, raw: string): string {
  const trimmed = raw.trim();
  let value: string;
  switch (def.type) {
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (lower !== 'true' && lower !== 'false') {
        throw invalidValue(def.name, raw, 'Expected value to be either true or false');
      }
      value = lower;
      break;
    }
    case 'short':
    case 'int':
    case 'long': {
      const bits = INTEGER_BITS[def.type]!;
      const n = /^[+-]?\d+$/.test(trimmed) ? BigInt(trimmed) : null;
      if (n === null || n < -(1n << (bits - 1n)) || n >= 1n << (bits - 1n)) {
        throw invalidValue(def.name, raw, `Not a number of type ${def.type.toUpperCase()}`);
      }
      value = n.toString();
      break;
    }
    case 'double': {
      // Java's Double.parseDouble: decimal or exponent notation, NaN, Infinity, an optional d/f suffix.
      const m = /^([+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))[dDfF]?$/.exec(trimmed);
      if (!m) throw invalidValue(def.name, raw, 'Not a number of type DOUBLE');
      value = javaDoubleString(Number(m[1]));
      break;
    }
    case 'list':
      value = trimmed === '' ? '' : trimmed.split(/\s*,\s*/).join(',');
      break;
    default:
      value = trimmed;
  }
  if (def.type === 'short' || def.type === 'int' || def.type === 'long' || def.type === 'double') {
    const n = Number(value);
    if (def.min !== undefined && n < def.min)
      throw invalidValue(def.name, value, `Value must be at least ${def.min}`);
    if (def.max !== undefined && n > def.max)
      throw invalidValue(def.name, value, `Value must be no more than ${def.max}`);
  }
  if (def.validValues) {
    const items = def.type === 'list' ? (value === '' ? [] : value.split(',')) : [value];
    for (const item of items) {
      if (!def.validValues.includes(item)) {
        throw invalidValue(def.name, item, `String must be one of: ${def.validValues.join(', ')}`);
      }
    }
  }
  const problem = def.check?.(value);
  if (problem) throw invalidValue(def.name, value, problem);
  return value;
}

/**
 * Validates topic overrides as Kafka's LogConfig.validate does and returns them in canonical form.
 * Throws INVALID_CONFIG with Kafka's message for an unknown key, a bad value or a conflict between
 * values (checked on the effective values, with `brokerDefaults` beneath the overrides). With the
 * `topic` name, also what depends on it (a topic cannot be its own dead-letter topic).
 */
export function normalizeTopicConfigs(
  configs: Record<string, string>,
  brokerDefaults: Record<string, string> = {},
  topic?: string,
): Record<string, string> {
  for (const key of Object.keys(configs)) {
    if (!BY_NAME.has(key))
      throw new KafkaProtocolError('INVALID_CONFIG', `Unknown topic config name: ${key}`);
  }
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(configs)) out[key] = parseConfigValue(BY_NAME.get(key)!, raw);
  const effective = (key: string) => {
    const v = topicConfigValue(out, brokerDefaults, key)!.trim();
    return /^[+-]?\d+$/.test(v) ? BigInt(v) : null;
  };
  const minLag = effective('min.compaction.lag.ms');
  const maxLag = effective('max.compaction.lag.ms');
  if (minLag !== null && maxLag !== null && minLag > maxLag) {
    throw new KafkaProtocolError(
      'INVALID_CONFIG',
      `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`,
    );
  }
  if (topic !== undefined && topicConfigValue(out, brokerDefaults, 'kch.dead.letter.topic') === topic) {
    throw new KafkaProtocolError(
      'INVALID_CONFIG',
      `Invalid value ${topic} for configuration kch.dead.letter.topic: a topic cannot be its own dead-letter topic`,
    );
  }
  if (out['remote.storage.enable'] === 'true') {
    // What Kafka answers when tiered storage is off in the broker, which it always is in kch.
    throw new KafkaProtocolError(
      'INVALID_CONFIG',
      'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.',
    );
  }
  return out;
}

/** Throws INVALID_CONFIG naming the key and what is expected, for the first bad entry. */
export function validateTopicConfigs(
  configs: Record<string, string>,
  brokerDefaults: Record<string, string> = {},
  topic?: string,
): void {
  normalizeTopicConfigs(configs, brokerDefaults, topic);
}

/** The effective value of a topic config: the topic's override, the broker default, or Kafka's default. */
export function topicConfigValue(
  overrides: Record<string, string>,
  brokerDefaults: Record<string, string>,
  key: string,
): string | null {
  return overrides[key] ?? brokerDefaults[key] ?? BY_NAME.get(key)?.defaultValue ?? null;
}

/**
 * The broker-level defaults for topic configs (keyed by topic config name): `topicDefaults`, plus
 * `messageMaxBytes` as the default of max.message.bytes when set (message.max.bytes is its broker
 * synonym, as in Kafka). Pass this as `brokerDefaults` wherever a topic's effective config is needed.
 */
export function brokerTopicDefaults(config: {
  topicDefaults: Readonly<Record<string, string>>;
  messageMaxBytes: number;
}): Record<string, string> {
  const out = { ...config.topicDefaults };
  if (out['max.message.bytes'] === undefined && config.messageMaxBytes !== MESSAGE_MAX_BYTES_DEFAULT) {
    out['max.message.bytes'] = String(config.messageMaxBytes);
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------ */
/* Describing configs                                                                               */
/* ------------------------------------------------------------------------------------------------ */

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

/** One config as DescribeConfigs (and CreateTopics v5+) reports it. */
export interface DescribedConfig {
  name: string;
  /** Null for sensitive configs and configs without a value. */
  value: string | null;
  source: number;
  readOnly: boolean;
  sensitive: boolean;
  /** Every source that sets this config, highest precedence first (the first one is `source`). */
  synonyms: ConfigSynonym[];
  type: ConfigType;
  doc: string;
}

/**
 * Every topic config with its effective value and where it comes from, in name order: the topic's
 * override (TOPIC_CONFIG), the broker default under the broker synonym's name (STATIC_BROKER_CONFIG),
 * Kafka's default under the same name (DEFAULT_CONFIG), as Kafka's ConfigHelper.createTopicConfigEntry.
 * kch's own configs that are not set (kch.table, kch.schema...) are left out: on Kafka only a
 * sensitive config has a null value, and clients that write a topic's configs back (librdkafka's
 * admin) refuse a null one.
 */
export function describeTopicConfigs(
  overrides: Record<string, string>,
  brokerDefaults: Record<string, string>,
  storageTable: string | null = null,
  dynamic: DynamicBrokerValues = NO_DYNAMIC_VALUES,
): DescribedConfig[] {
  return TOPIC_CONFIGS.map((def) =>
    describeTopicConfig(def, overrides, brokerDefaults, storageTable, dynamic),
  ).filter((c) => c.value !== null || c.sensitive);
}

/**
 * Dynamic broker configs by broker config name: this broker's (DYNAMIC_BROKER_CONFIG), then the
 * cluster-wide ones (DYNAMIC_DEFAULT_BROKER_CONFIG). With them, `brokerDefaults` are the static ones.
 */
export interface DynamicBrokerValues {
  readonly broker: Readonly<Record<string, string>>;
  readonly cluster: Readonly<Record<string, string>>;
}

const NO_DYNAMIC_VALUES: DynamicBrokerValues = { broker: {}, cluster: {} };

function describeTopicConfig(
  def: TopicConfigDefinition,
  overrides: Record<string, string>,
  brokerDefaults: Record<string, string>,
  storageTable: string | null,
  dynamic: DynamicBrokerValues,
): DescribedConfig {
  if (def.readOnly) {
    return {
      name: def.name,
      value: storageTable,
      source: ConfigSource.DEFAULT_CONFIG,
      readOnly: true,
      sensitive: false,
      synonyms: [],
      type: def.type,
      doc: def.doc,
    };
  }
  const sensitive = def.sensitive ?? false;
  const shown = (v: string | null) => (sensitive ? null : v);
  const synonyms: ConfigSynonym[] = [];
  const override = overrides[def.name];
  if (override !== undefined)
    synonyms.push({ name: def.name, value: shown(override), source: ConfigSource.TOPIC_CONFIG });
  const brokerValue = brokerDefaults[def.name];
  if (def.brokerSynonym !== undefined) {
    // As Kafka's ConfigHelper.createTopicConfigEntry: the broker synonym's dynamic values first.
    const perBroker = dynamic.broker[def.brokerSynonym];
    if (perBroker !== undefined)
      synonyms.push({
        name: def.brokerSynonym,
        value: shown(perBroker),
        source: ConfigSource.DYNAMIC_BROKER_CONFIG,
      });
    const cluster = dynamic.cluster[def.brokerSynonym];
    if (cluster !== undefined) {
      synonyms.push({
        name: def.brokerSynonym,
        value: shown(cluster),
        source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
      });
    }
    if (brokerValue !== undefined) {
      synonyms.push({
        name: def.brokerSynonym,
        value: shown(brokerValue),
        source: ConfigSource.STATIC_BROKER_CONFIG,
      });
    }
    if (def.defaultValue !== null) {
      synonyms.push({
        name: def.brokerSynonym,
        value: shown(def.defaultValue),
        source: ConfigSource.DEFAULT_CONFIG,
      });
    }
  } else if (brokerValue !== undefined) {
    // A broker default for a config Kafka has no broker synonym for: reported under the topic name.
    synonyms.push({ name: def.name, value: shown(brokerValue), source: ConfigSource.STATIC_BROKER_CONFIG });
  }
  return {
    name: def.name,
    value: synonyms[0] ? synonyms[0].value : shown(def.defaultValue),
    source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
    readOnly: false,
    sensitive,
    synonyms,
    type: def.type,
    doc: def.doc,
  };
}
