/**
 * Topics declared in the broker's options (`topics: { orders: { table: 'shop.orders' } }`): the topic
 * configs each declaration stands for, the schemas given in code, and bringing the stored topics in
 * line with the declarations when the broker starts.
 *
 * A declaration is the source of truth for the five kch.* configs its fields map to: a field left out
 * resets its config to the default at the next start (unless `configs` sets it). Other configs named
 * in `configs` are set; configs it does not name are left as they are (an operator may have set them
 * with AlterConfigs).
 */
import type { RecordCheck } from '@kch/storage';
import { brokerTopicDefaults, normalizeTopicConfigs } from '../configs.js';
import { isStandardSchema, valueSchemaCheck } from '../ingest/value-schemas.js';
import type { Logger } from '../logger.js';
import type { BrokerConfig, DeclaredTopic } from '../options.js';
import { topicNameError } from './topic-names.js';
import type { TopicManager } from './topics.js';

/** The topic config each shorthand field of a declaration stands for. */
const FIELD_CONFIGS = {
  table: 'kch.table',
  format: 'kch.format',
  onInvalid: 'kch.invalid.records',
  deadLetterTopic: 'kch.dead.letter.topic',
  schema: 'kch.schema',
} as const;

const MANAGED_CONFIGS: readonly string[] = Object.values(FIELD_CONFIGS);

/** A declared topic that could not be created or brought in line at start. */
export class TopicDeclarationError extends Error {
  override readonly name = 'TopicDeclarationError';
  constructor(
    readonly topic: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The topic configs a declaration stands for (not yet normalized). A schema given as a JSON Schema
 * object becomes `kch.schema` text; a zod schema stays out (see {@link codeSchemaChecks}).
 */
export function declaredConfigs(spec: DeclaredTopic): Record<string, string> {
  const out: Record<string, string> = { ...spec.configs };
  for (const [field, key] of Object.entries(FIELD_CONFIGS) as [keyof typeof FIELD_CONFIGS, string][]) {
    const value = spec[field];
    if (value === undefined || isStandardSchema(value)) continue;
    if (out[key] !== undefined) {
      throw new Error(`${field} and configs["${key}"] say the same thing; set only one of them`);
    }
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** What is wrong with the `topics` option (a bad name, a bad config value), or null. */
export function declaredTopicsProblem(config: BrokerConfig): string | null {
  const defaults = brokerTopicDefaults(config);
  for (const [name, spec] of Object.entries(config.topics)) {
    const nameError = topicNameError(name);
    if (nameError) return `topics: ${nameError}`;
    try {
      normalizeTopicConfigs(declaredConfigs(spec), defaults, name);
    } catch (e) {
      return `topics.${name}: ${(e as Error).message}`;
    }
  }
  return null;
}

/** The record checks of schemas given in code (zod), by topic: they live in broker memory only. */
export function codeSchemaChecks(config: BrokerConfig): Map<string, RecordCheck> {
  const checks = new Map<string, RecordCheck>();
  for (const [name, spec] of Object.entries(config.topics)) {
    if (isStandardSchema(spec.schema)) {
      checks.set(name, valueSchemaCheck(spec.schema, `the schema of topics.${name} in the broker options`));
    }
  }
  return checks;
}

/**
 * Creates the declared topics that are missing and updates the configs (and raises the partition
 * count) of those that differ from their declaration. Throws a {@link TopicDeclarationError} naming
 * the topic and the reason, e.g. a storage that cannot bind a table.
 */
export async function applyDeclaredTopics(
  topics: TopicManager,
  config: BrokerConfig,
  logger: Logger,
): Promise<void> {
  const defaults = brokerTopicDefaults(config);
  for (const [name, spec] of Object.entries(config.topics)) {
    const desired = normalizeTopicConfigs(declaredConfigs(spec), defaults, name);
    const existing = topics.get(name);
    let step = 'create it';
    try {
      if (!existing) {
        await topics.create(name, spec.partitions ?? config.defaultPartitions, desired, false, {
          via: 'the topics option',
        });
        logger.info('declared topic created', { topic: name });
        continue;
      }
      const next: Record<string, string> = { ...existing.record.configs };
      for (const key of MANAGED_CONFIGS) delete next[key];
      Object.assign(next, desired);
      if (!sameConfigs(next, existing.record.configs)) {
        step = 'update its configs';
        await topics.setConfigs(name, next);
        logger.info('declared topic configs updated', { topic: name, configs: Object.keys(next) });
      }
      const count = existing.logs.length;
      if (spec.partitions !== undefined && spec.partitions > count) {
        step = `raise its partitions from ${count} to ${spec.partitions}`;
        await topics.setPartitionCount(name, spec.partitions);
      } else if (spec.partitions !== undefined && spec.partitions < count) {
        logger.warn('declared topic has more partitions than declared; partitions are never removed', {
          topic: name,
          partitions: count,
          declared: spec.partitions,
        });
      }
    } catch (e) {
      throw new TopicDeclarationError(
        name,
        `topic ${name} (declared in the topics option): cannot ${step}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
}

function sameConfigs(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
