/**
 * Topic configs: the keys kch knows, their types and defaults, and validation. A topic stores only
 * its overrides; the effective value is the override, else the broker's `topicDefaults`, else Kafka's
 * default. Keys Kafka knows but kch does not act on (segment sizes, flush intervals) are accepted and
 * reported, so tools that set them keep working.
 */
import { KafkaProtocolError } from '@kch/protocol';

export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';

export interface TopicConfigDefinition {
  name: string;
  type: ConfigType;
  /** Kafka's default, as DescribeConfigs reports it. */
  defaultValue: string | null;
  /** The broker config that sets the default for every topic (its synonym), when there is one. */
  brokerSynonym?: string;
  /** Allowed values, for enumerations. */
  validValues?: readonly string[];
  /** Smallest allowed value, for numbers. */
  min?: number;
  doc: string;
}

const LONG_MAX = '9223372036854775807';

export const TOPIC_CONFIGS: readonly TopicConfigDefinition[] = [
  { name: 'cleanup.policy', type: 'list', defaultValue: 'delete', brokerSynonym: 'log.cleanup.policy', validValues: ['delete', 'compact', 'compact,delete', 'delete,compact'], doc: 'delete: old records go by retention. compact is accepted and reported; kch does not compact.' },
  { name: 'compression.type', type: 'string', defaultValue: 'producer', brokerSynonym: 'compression.type', validValues: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'], doc: 'producer keeps what the producer sent.' },
  { name: 'delete.retention.ms', type: 'long', defaultValue: '86400000', brokerSynonym: 'log.cleaner.delete.retention.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'file.delete.delay.ms', type: 'long', defaultValue: '60000', brokerSynonym: 'log.segment.delete.delay.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'flush.messages', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.flush.interval.messages', min: 1, doc: 'Accepted for compatibility: every acknowledged write is already durable in storage.' },
  { name: 'flush.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.flush.interval.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'index.interval.bytes', type: 'int', defaultValue: '4096', brokerSynonym: 'log.index.interval.bytes', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'max.compaction.lag.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.cleaner.max.compaction.lag.ms', min: 1, doc: 'Accepted for compatibility.' },
  { name: 'max.message.bytes', type: 'int', defaultValue: '1048588', brokerSynonym: 'message.max.bytes', min: 0, doc: 'Largest record batch the topic accepts.' },
  { name: 'message.timestamp.after.max.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.message.timestamp.after.max.ms', min: 0, doc: 'Largest allowed amount a CreateTime timestamp may be ahead of the broker clock.' },
  { name: 'message.timestamp.before.max.ms', type: 'long', defaultValue: LONG_MAX, brokerSynonym: 'log.message.timestamp.before.max.ms', min: 0, doc: 'Largest allowed amount a CreateTime timestamp may be behind the broker clock.' },
  { name: 'message.timestamp.type', type: 'string', defaultValue: 'CreateTime', brokerSynonym: 'log.message.timestamp.type', validValues: ['CreateTime', 'LogAppendTime'], doc: 'LogAppendTime stamps each batch with the broker time when it is appended.' },
  { name: 'min.cleanable.dirty.ratio', type: 'double', defaultValue: '0.5', brokerSynonym: 'log.cleaner.min.cleanable.ratio', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'min.compaction.lag.ms', type: 'long', defaultValue: '0', brokerSynonym: 'log.cleaner.min.compaction.lag.ms', min: 0, doc: 'Accepted for compatibility.' },
  { name: 'min.insync.replicas', type: 'int', defaultValue: '1', brokerSynonym: 'min.insync.replicas', min: 1, doc: 'One replica: storage provides durability.' },
  { name: 'preallocate', type: 'boolean', defaultValue: 'false', brokerSynonym: 'log.preallocate', doc: 'Accepted for compatibility.' },
  { name: 'retention.bytes', type: 'long', defaultValue: '-1', brokerSynonym: 'log.retention.bytes', doc: 'Accepted and reported; retention is by time (retention.ms).' },
  { name: 'retention.ms', type: 'long', defaultValue: '604800000', brokerSynonym: 'log.retention.ms', min: -1, doc: 'How long records are kept; -1 keeps them forever. In ClickHouse storage, a TTL on the topic table.' },
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

function valueError(def: TopicConfigDefinition, value: string): string | null {
  switch (def.type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? null : 'expected true or false';
    case 'int':
    case 'short':
    case 'long': {
      if (!/^-?\d+$/.test(value.trim())) return 'expected a whole number';
      const n = Number(value);
      if (def.min !== undefined && n < def.min) return `expected at least ${def.min}`;
      if (def.type === 'int' && n > 2 ** 31 - 1) return 'expected a 32-bit number';
      return null;
    }
    case 'double': {
      const n = Number(value);
      if (value.trim() === '' || Number.isNaN(n)) return 'expected a number';
      if (def.min !== undefined && n < def.min) return `expected at least ${def.min}`;
      return null;
    }
    default:
      if (def.validValues && !def.validValues.includes(value.replace(/\s+/g, ''))) {
        return `expected one of ${def.validValues.join(', ')}`;
      }
      return null;
  }
}

/** Throws INVALID_CONFIG naming the key and what is expected, for the first bad entry. */
export function validateTopicConfigs(configs: Record<string, string>): void {
  for (const [key, value] of Object.entries(configs)) {
    const def = BY_NAME.get(key);
    if (!def) {
      throw new KafkaProtocolError('INVALID_CONFIG', `unknown topic config ${key}; known ones: ${TOPIC_CONFIGS.map((c) => c.name).join(', ')}`);
    }
    const problem = valueError(def, value);
    if (problem) throw new KafkaProtocolError('INVALID_CONFIG', `invalid value "${value}" for ${key}: ${problem}`);
  }
}

/** The effective value of a topic config: the topic's override, the broker default, or Kafka's default. */
export function topicConfigValue(
  overrides: Record<string, string>,
  brokerDefaults: Record<string, string>,
  key: string,
): string | null {
  return overrides[key] ?? brokerDefaults[key] ?? BY_NAME.get(key)?.defaultValue ?? null;
}
