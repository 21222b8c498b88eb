import {
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  ErrorCode,
  type Init,
  KafkaProtocolError,
} from '@kch/protocol';
import { describeBrokerConfigs, describeClusterDefaultConfigs, parseJavaInt } from '../broker-configs.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { topicNameError } from '../log/topics.js';
import { AclOperation } from '../security/acl-codes.js';
import {
  CONFIG_TYPE_IDS,
  ConfigResourceType,
  ConfigSource,
  type DescribedConfig,
  describeTopicConfigs,
} from '../topic-configs.js';
import { checkConfigsAuthorized } from './alter-configs.js';

type Resource = DescribeConfigsRequest['resources'][number];
type ResourceResult = Init<DescribeConfigsResponse['results'][number]>;

/** Resource types Kafka's ConfigResource.Type knows; any other fails the whole request, as in Kafka. */
const KNOWN_TYPES: ReadonlySet<number> = new Set(
  Object.values(ConfigResourceType).filter((t) => t !== ConfigResourceType.UNKNOWN),
);

/**
 * DescribeConfigs, as Kafka's ConfigHelper answers it: TOPIC (the effective value of every topic config
 * with its source and synonyms), BROKER (this broker's configs with their dynamic values; "" the
 * cluster-wide dynamic defaults), BROKER_LOGGER (no runtime-adjustable loggers in kch).
 */
export default defineHandler({
  api: 'DescribeConfigs',
  serial: true,
  async handle(request, ctx) {
    // Broker configs as stored now: another broker over the same database may have changed them.
    if (request.resources.some((r) => r.resourceType === ConfigResourceType.BROKER)) {
      // Storage out of reach: the values last read are still this broker's, so they are shown.
      await ctx.broker.dynamicConfigs
        .load()
        .catch((e: unknown) =>
          ctx.broker.logger.warn('dynamic broker configs not read', { error: (e as Error).message }),
        );
    }
    for (const r of request.resources) {
      if (!KNOWN_TYPES.has(r.resourceType)) {
        throw new KafkaProtocolError(
          'INVALID_REQUEST',
          `Unexpected resource type ${r.resourceType} for resource ${r.resourceName}`,
        );
      }
    }
    const includeSynonyms = ctx.apiVersion >= 1 && request.includeSynonyms;
    const includeDocumentation = ctx.apiVersion >= 3 && request.includeDocumentation;
    const results = request.resources.map((r): ResourceResult => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      try {
        const configs = describe(r, ctx);
        if (configs === null) {
          // Kafka answers a missing topic with the code alone.
          return {
            ...base,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: null,
            configs: [],
          };
        }
        const wanted =
          r.configurationKeys === null || r.configurationKeys.length === 0
            ? null
            : new Set(r.configurationKeys);
        return {
          ...base,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          configs: configs
            .filter((c) => wanted === null || wanted.has(c.name))
            .map((c) => ({
              name: c.name,
              value: c.value,
              readOnly: c.readOnly,
              // v0 has isDefault where later versions have the source: for a topic, "not overridden"
              // (as Kafka 1.0 answered); for a broker, "not set in its configuration".
              isDefault:
                r.resourceType === ConfigResourceType.TOPIC
                  ? c.source !== ConfigSource.TOPIC_CONFIG
                  : c.source === ConfigSource.DEFAULT_CONFIG,
              configSource: c.source,
              isSensitive: c.sensitive,
              synonyms: includeSynonyms ? c.synonyms : [],
              configType: CONFIG_TYPE_IDS[c.type],
              documentation: includeDocumentation ? c.doc : null,
            })),
        };
      } catch (e) {
        if (!(e instanceof KafkaProtocolError)) throw e;
        return { ...base, errorCode: e.code, errorMessage: e.message, configs: [] };
      }
    });
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return {
      results: request.resources.map((r) => ({
        errorCode,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: [],
      })),
    };
  },
});

/** The configs of a resource, or null for a topic that does not exist. */
function describe(r: Resource, ctx: RequestContext): DescribedConfig[] | null {
  // DescribeConfigs on the resource (ConfigHelper), asked before the resource is looked at.
  checkConfigsAuthorized(ctx, AclOperation.DESCRIBE_CONFIGS, r);
  const { broker } = ctx;
  const nodeId = broker.config.nodeId;
  switch (r.resourceType) {
    case ConfigResourceType.TOPIC: {
      const nameError = topicNameError(r.resourceName);
      if (nameError) throw new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', nameError);
      const topic = broker.topics.get(r.resourceName);
      if (!topic) return null;
      return describeTopicConfigs(
        topic.record.configs,
        broker.dynamicConfigs.staticTopicDefaults(),
        broker.storage.topicLocation?.(topic.record.name) ?? null,
        broker.dynamicConfigs,
      );
    }
    case ConfigResourceType.BROKER:
      if (r.resourceName === '') return describeClusterDefaultConfigs(broker);
      if (brokerId(r.resourceName) !== nodeId) {
        throw new KafkaProtocolError(
          'INVALID_REQUEST',
          `Unexpected broker id, expected ${nodeId} or empty string, but received ${r.resourceName}`,
        );
      }
      return describeBrokerConfigs(broker);
    case ConfigResourceType.BROKER_LOGGER:
      if (r.resourceName === '')
        throw new KafkaProtocolError('INVALID_REQUEST', 'Broker id must not be empty');
      if (brokerId(r.resourceName) !== nodeId) {
        throw new KafkaProtocolError(
          'INVALID_REQUEST',
          `Unexpected broker id, expected ${nodeId} but received ${r.resourceName}`,
        );
      }
      return []; // kch logs through the logger it was given; it has no loggers to list or adjust
    default:
      // CLIENT_METRICS and GROUP: configs kch does not have.
      throw new KafkaProtocolError('INVALID_REQUEST', `Unsupported resource type: ${r.resourceType}`);
  }
}

function brokerId(name: string): number {
  const id = parseJavaInt(name);
  if (id === null)
    throw new KafkaProtocolError('INVALID_REQUEST', `Broker id must be an integer, but it is: ${name}`);
  return id;
}
