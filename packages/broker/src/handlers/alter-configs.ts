import { type AlterConfigsRequest, ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { parseJavaInt, validateDynamicConfigs } from '../broker-configs.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { topicNameError } from '../log/topics.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { brokerTopicDefaults, ConfigResourceType, normalizeTopicConfigs } from '../topic-configs.js';

type Resource = AlterConfigsRequest['resources'][number];

/**
 * AlterConfigs (the legacy API): the configs given replace all of a topic's overrides, or all of a
 * BROKER resource's dynamic configs, as in Kafka (a key left out goes back to its default). Each
 * resource gets its own error and message.
 */
export default defineHandler({
  api: 'AlterConfigs',
  serial: true,
  handle: (request, ctx) => alterEachResource(request.resources, request.validateOnly, ctx, alter),
  errorResponse: (request, errorCode) => resourcesErrorResponse(request.resources, errorCode),
});

interface ResourceRef {
  resourceType: number;
  resourceName: string;
}

/**
 * Applies `alter` to each resource in turn, answering each with its own error and message; a resource
 * named twice in one request is refused, as Kafka does. Shared by AlterConfigs and IncrementalAlterConfigs.
 */
export async function alterEachResource<R extends ResourceRef>(
  resources: readonly R[],
  validateOnly: boolean,
  ctx: RequestContext,
  alter: (r: R, validateOnly: boolean, ctx: RequestContext) => Promise<void>,
) {
  const duplicates = duplicateResources(resources);
  const responses = [];
  for (const r of resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      if (duplicates.has(resourceKey(r))) {
        throw new KafkaProtocolError('INVALID_REQUEST', 'Each resource must appear at most once.');
      }
      await alter(r, validateOnly, ctx);
      responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (e) {
      if (!(e instanceof KafkaProtocolError)) throw e;
      responses.push({ ...base, errorCode: e.code, errorMessage: e.message });
    }
  }
  return { throttleTimeMs: 0, responses };
}

export function resourcesErrorResponse(resources: readonly ResourceRef[], errorCode: number) {
  return {
    responses: resources.map((r) => ({
      errorCode,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
    })),
  };
}

async function alter(r: Resource, validateOnly: boolean, ctx: RequestContext): Promise<void> {
  checkConfigNames(r.configs.map((c) => c.name));
  checkNullValues(r.configs.filter((c) => c.value === null).map((c) => c.name));
  switch (r.resourceType) {
    case ConfigResourceType.BROKER: {
      const resource = checkBrokerResourceName(r.resourceName, ctx.broker.config.nodeId);
      const configs: Record<string, string> = {};
      for (const c of r.configs) configs[c.name] = c.value!;
      await replaceBrokerConfigs(r, resource, configs, validateOnly, ctx);
      return;
    }
    case ConfigResourceType.TOPIC: {
      checkConfigsAuthorized(ctx, AclOperation.ALTER_CONFIGS, r);
      checkTopicResourceName(r.resourceName);
      const configs: Record<string, string> = {};
      for (const c of r.configs) configs[c.name] = c.value!;
      await replaceTopicConfigs(r.resourceName, configs, validateOnly, ctx);
      return;
    }
    default:
      throw unsupportedResourceType(r, ctx);
  }
}

/**
 * Throws Kafka's refusal when the request may not perform `operation` (DescribeConfigs or AlterConfigs)
 * on the config resource: broker, broker-logger and client-metrics configs are the cluster's, topic
 * and group configs the topic's and the group's. Other resource types are left to the caller.
 */
export function checkConfigsAuthorized(
  ctx: RequestContext,
  operation: typeof AclOperation.DESCRIBE_CONFIGS | typeof AclOperation.ALTER_CONFIGS,
  r: ResourceRef,
): void {
  const acl = aclResourceOf(r);
  if (acl && !allowed(ctx, operation, acl.resourceType, acl.name)) throw new KafkaProtocolError(acl.refusal);
}

function aclResourceOf(r: ResourceRef): {
  resourceType: number;
  name: string;
  refusal: 'CLUSTER_AUTHORIZATION_FAILED' | 'TOPIC_AUTHORIZATION_FAILED' | 'GROUP_AUTHORIZATION_FAILED';
} | null {
  switch (r.resourceType) {
    case ConfigResourceType.BROKER:
    case ConfigResourceType.BROKER_LOGGER:
    case ConfigResourceType.CLIENT_METRICS:
      return {
        resourceType: ResourceType.CLUSTER,
        name: CLUSTER_NAME,
        refusal: 'CLUSTER_AUTHORIZATION_FAILED',
      };
    case ConfigResourceType.TOPIC:
      return {
        resourceType: ResourceType.TOPIC,
        name: r.resourceName,
        refusal: 'TOPIC_AUTHORIZATION_FAILED',
      };
    case ConfigResourceType.GROUP:
      return {
        resourceType: ResourceType.GROUP,
        name: r.resourceName,
        refusal: 'GROUP_AUTHORIZATION_FAILED',
      };
    default:
      return null;
  }
}

/* Shared with IncrementalAlterConfigs: the checks of Kafka's ConfigAdminManager and controller. */

function resourceKey(r: { resourceType: number; resourceName: string }): string {
  return `${r.resourceType}\u0000${r.resourceName}`;
}

/** Resources named more than once in one request: each occurrence fails. */
function duplicateResources(
  resources: readonly { resourceType: number; resourceName: string }[],
): Set<string> {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const r of resources) {
    const key = resourceKey(r);
    if (seen.has(key)) duplicates.add(key);
    seen.add(key);
  }
  return duplicates;
}

export function checkConfigNames(names: readonly string[]): void {
  if (new Set(names).size !== names.length) {
    throw new KafkaProtocolError('INVALID_REQUEST', 'Error due to duplicate config keys');
  }
}

export function checkNullValues(names: readonly string[]): void {
  if (names.length > 0) {
    throw new KafkaProtocolError('INVALID_REQUEST', `Null value not supported for : ${names.join(', ')}`);
  }
}

/**
 * Validates `configs` as the whole set of dynamic configs of a BROKER resource (on the broker, as
 * Kafka's ConfigAdminManager does), then asks whether the request may alter the cluster's configs (the
 * controller's check), then stores and applies them unless `validateOnly`.
 */
export async function replaceBrokerConfigs(
  r: ResourceRef,
  resource: string,
  configs: Record<string, string>,
  validateOnly: boolean,
  ctx: RequestContext,
): Promise<void> {
  const canonical = validateDynamicConfigs(configs);
  checkConfigsAuthorized(ctx, AclOperation.ALTER_CONFIGS, r);
  if (!validateOnly) await ctx.broker.dynamicConfigs.replace(resource, canonical);
}

/**
 * A broker resource is "" (the cluster-wide default) or this broker's id: returns the resource's key
 * in the broker config store ("" or the id in decimal).
 */
export function checkBrokerResourceName(name: string, nodeId: number): string {
  if (name === '') return '';
  const id = parseJavaInt(name);
  if (id === null)
    throw new KafkaProtocolError('INVALID_REQUEST', `Node id must be an integer, but it is: ${name}`);
  if (id !== nodeId) {
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      `Unexpected broker id, expected ${nodeId}, but received ${name}`,
    );
  }
  return String(id);
}

export function checkTopicResourceName(name: string): void {
  if (name === '')
    throw new KafkaProtocolError('INVALID_REQUEST', 'Default topic resources are not allowed.');
  const nameError = topicNameError(name);
  if (nameError) throw new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', nameError);
}

/**
 * The refusal of a resource type kch has no configs of. Client-metrics and group configs are Kafka's,
 * so AlterConfigs on the cluster or the group is asked first, as Kafka's controller asks it.
 */
export function unsupportedResourceType(r: ResourceRef, ctx: RequestContext): KafkaProtocolError {
  const type = r.resourceType;
  if (type !== ConfigResourceType.CLIENT_METRICS && type !== ConfigResourceType.GROUP)
    return new KafkaProtocolError('INVALID_REQUEST', `Unknown resource type ${type}`);
  checkConfigsAuthorized(ctx, AclOperation.ALTER_CONFIGS, r);
  return new KafkaProtocolError(
    'INVALID_REQUEST',
    `Unsupported resource type: ${type}; kch has no such configs`,
  );
}

/**
 * Validates `configs` as the topic's complete set of overrides (INVALID_CONFIG), then checks that the
 * topic exists, then stores them unless `validateOnly`: the order in which Kafka's controller checks.
 */
export async function replaceTopicConfigs(
  name: string,
  configs: Record<string, string>,
  validateOnly: boolean,
  ctx: RequestContext,
): Promise<void> {
  const { topics, config } = ctx.broker;
  const normalized = normalizeTopicConfigs(configs, brokerTopicDefaults(config), name);
  if (!topics.get(name))
    throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `The topic '${name}' does not exist.`);
  if (!validateOnly) await topics.setConfigs(name, normalized);
}
