/**
 * Topic administration for `kch topics`, through @platformatic/kafka's admin client: create, delete,
 * add partitions, describe and alter configs. Each turns the broker's error codes into BrokerErrors
 * that say what was being done, with kch's hints.
 */
import { ErrorCode } from '@kch/protocol';
import {
  ConfigResourceTypes,
  ConfigSources,
  IncrementalAlterConfigOperationTypes,
} from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import { type Kafka, topicIdOf } from './kafka.js';
import { protocolErrorOf } from './kafka-errors.js';

/** Kafka's DescribeConfigsResponse.ConfigSource for a topic override. */
export const CONFIG_SOURCE_TOPIC = ConfigSources.TOPIC_CONFIG;

export interface CreateTopicInput {
  name: string;
  /** Omitted: the broker's default (num.partitions). */
  partitions?: number;
  /** Omitted: the broker's default. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface CreatedTopic {
  name: string;
  topicId: string | null;
  partitions: number | null;
  replicationFactor: number | null;
}

export async function createTopic(kafka: Kafka, input: CreateTopicInput): Promise<CreatedTopic> {
  const [created] = await kafka.call(
    `creating topic "${input.name}"`,
    () =>
      kafka.admin.createTopics({
        topics: [input.name],
        // -1: the broker's default (KIP-464).
        partitions: input.partitions ?? -1,
        replicas: input.replicationFactor ?? -1,
        configs: Object.entries(input.configs ?? {}).map(([name, value]) => ({ name, value })),
      }),
    (code, message) =>
      code === ErrorCode.TOPIC_ALREADY_EXISTS
        ? `See it with \`kch topics describe ${input.name}\`, or pass --if-not-exists.`
        : // Only where the broker said nothing itself: its own message says what is wrong.
          code === ErrorCode.INVALID_CONFIG && !message
          ? 'Check the --config names and values (Kafka topic configs, e.g. retention.ms=86400000).'
          : undefined,
  );
  if (!created) throw new CliError(`the broker did not answer for topic "${input.name}"`);
  return {
    name: created.name,
    topicId: topicIdOf(created.id),
    partitions: created.partitions,
    replicationFactor: created.replicas,
  };
}

export async function deleteTopic(kafka: Kafka, name: string): Promise<void> {
  const action = `deleting topic "${name}"`;
  try {
    await kafka.admin.deleteTopics({ topics: [name] });
  } catch (e) {
    // Kafka's text for UNKNOWN_TOPIC_OR_PARTITION speaks of partitions: say it of the topic.
    if (protocolErrorOf(e)?.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      throw new BrokerError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        action,
        `Topic '${name}' does not exist.`,
        'List the topics with `kch topics list`, or pass --if-exists.',
      );
    }
    throw kafka.failure(e, action);
  }
}

export async function createPartitions(kafka: Kafka, name: string, count: number): Promise<void> {
  await kafka.call(
    `setting the partitions of topic "${name}" to ${count}`,
    () => kafka.admin.createPartitions({ topics: [{ name, count, assignments: null }] }),
    (code) =>
      code === ErrorCode.INVALID_PARTITIONS
        ? 'Kafka can only add partitions: give a count above the current one (see `kch topics describe`).'
        : undefined,
  );
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  /** Kafka's ConfigSource (1 is a topic override). */
  source: number;
  readOnly: boolean;
  sensitive: boolean;
}

/** The configs of topics, by topic name. */
export async function describeTopicConfigs(
  kafka: Kafka,
  names: readonly string[],
): Promise<Map<string, ConfigEntry[]>> {
  const out = new Map<string, ConfigEntry[]>();
  if (names.length === 0) return out;
  const results = await kafka.call(`describing the configs of topic "${names[0]}"`, () =>
    kafka.admin.describeConfigs({
      resources: names.map((resourceName) => ({
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName,
        configurationKeys: null,
      })),
    }),
  );
  for (const r of results) {
    out.set(
      r.resourceName,
      r.configs.map((c) => ({
        name: c.name,
        value: c.value ?? null,
        source: c.configSource,
        readOnly: c.readOnly,
        sensitive: c.isSensitive,
      })),
    );
  }
  return out;
}

/** Sets and deletes topic config overrides, leaving the others as they are. */
export async function alterTopicConfigs(
  kafka: Kafka,
  name: string,
  set: Record<string, string>,
  remove: readonly string[],
): Promise<void> {
  await kafka.call(
    `altering the configs of topic "${name}"`,
    () =>
      kafka.admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: name,
            configs: [
              ...Object.entries(set).map(([k, value]) => ({
                name: k,
                configOperation: IncrementalAlterConfigOperationTypes.SET,
                value,
              })),
              ...remove.map((k) => ({
                name: k,
                configOperation: IncrementalAlterConfigOperationTypes.DELETE,
                value: null,
              })),
            ],
          },
        ],
      }),
    (code, message) =>
      code === ErrorCode.INVALID_CONFIG && !message
        ? 'Check the config names and values (Kafka topic configs, e.g. retention.ms=86400000).'
        : undefined,
  );
}
