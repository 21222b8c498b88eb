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
import { isStandardSchema, valueSchemaCheck } from '../ingest/value-schemas.js';
import type { Logger } from '../logger.js';
import type { BrokerConfig } from '../options.js';
import { brokerTopicDefaults, normalizeTopicConfigs } from '../topic-configs.js';
import { declaredConfigs, MANAGED_CONFIGS } from './declared-topic-schema.js';
import type { TopicManager } from './topics.js';

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
