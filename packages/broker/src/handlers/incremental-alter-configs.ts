import { type IncrementalAlterConfigsRequest, KafkaProtocolError } from '@kch/protocol';
import { brokerConfigDefinition, parseJavaInt } from '../broker-configs.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation } from '../security/acl-codes.js';
import {
  ALTER_CONFIG_OP_NAMES,
  AlterConfigOp,
  ConfigResourceType,
  topicConfigDefinition,
} from '../topic-configs.js';
import {
  alterEachResource,
  checkBrokerResourceName,
  checkConfigNames,
  checkConfigsAuthorized,
  checkNullValues,
  checkTopicResourceName,
  replaceBrokerConfigs,
  replaceTopicConfigs,
  resourcesErrorResponse,
  unsupportedResourceType,
} from './alter-configs.js';

type Resource = IncrementalAlterConfigsRequest['resources'][number];
type AlterableConfig = Resource['configs'][number];

/**
 * IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT (the last two for list configs) on a
 * topic's overrides or a BROKER resource's dynamic configs, validated as a whole and applied together
 * or not at all, as Kafka does. BROKER_LOGGER has no loggers to adjust.
 */
export default defineHandler({
  api: 'IncrementalAlterConfigs',
  serial: true,
  handle: (request, ctx) => alterEachResource(request.resources, request.validateOnly, ctx, alter),
  errorResponse: (request, errorCode) => resourcesErrorResponse(request.resources, errorCode),
});

async function alter(r: Resource, validateOnly: boolean, ctx: RequestContext): Promise<void> {
  const nodeId = ctx.broker.config.nodeId;
  checkConfigNames(r.configs.map((c) => c.name));
  checkNullValues(
    r.configs
      .filter((c) => c.configOperation !== AlterConfigOp.DELETE && c.value === null)
      .map((c) => c.name),
  );
  switch (r.resourceType) {
    case ConfigResourceType.BROKER_LOGGER:
      // The broker's RuntimeLoggerManager asks AlterConfigs on the cluster before anything else.
      checkConfigsAuthorized(ctx, AclOperation.ALTER_CONFIGS, r);
      checkLoggerResource(r, nodeId);
      return;
    case ConfigResourceType.BROKER: {
      const resource = checkBrokerResourceName(r.resourceName, nodeId);
      for (const c of r.configs) {
        if (ALTER_CONFIG_OP_NAMES[c.configOperation] === undefined) {
          throw new KafkaProtocolError('INVALID_REQUEST', `Unknown operations type ${c.configOperation}`);
        }
      }
      // The operations apply to what the resource has stored; the result is validated as a whole
      // (deleting a read-only config that was never set changes nothing, as in Kafka).
      const next = ctx.broker.dynamicConfigs.of(resource);
      for (const c of r.configs) applyBrokerOperation(next, c);
      await replaceBrokerConfigs(r, resource, next, validateOnly, ctx);
      return;
    }
    case ConfigResourceType.TOPIC: {
      checkConfigsAuthorized(ctx, AclOperation.ALTER_CONFIGS, r);
      checkTopicResourceName(r.resourceName);
      const current = ctx.broker.topics.get(r.resourceName)?.record.configs ?? {};
      const next: Record<string, string> = { ...current };
      for (const c of r.configs) applyOperation(next, c);
      await replaceTopicConfigs(r.resourceName, next, validateOnly, ctx);
      return;
    }
    default:
      throw unsupportedResourceType(r, ctx);
  }
}

/** One operation on a topic's overrides, as Kafka's ConfigurationControlManager applies it. */
function applyOperation(overrides: Record<string, string>, c: AlterableConfig): void {
  const key = c.name;
  switch (c.configOperation) {
    case AlterConfigOp.SET:
      overrides[key] = c.value!;
      return;
    case AlterConfigOp.DELETE:
      delete overrides[key];
      return;
    case AlterConfigOp.APPEND:
    case AlterConfigOp.SUBTRACT: {
      const def = topicConfigDefinition(key);
      const op = ALTER_CONFIG_OP_NAMES[c.configOperation];
      if (def?.type !== 'list') {
        throw new KafkaProtocolError(
          'INVALID_CONFIG',
          `Can't ${op} to key ${key} because its type is not LIST.`,
        );
      }
      // The list is the override, else the topic default (Kafka's ConfigurationControlManager.getParts).
      const parts = (overrides[key] ?? def.defaultValue ?? '').split(',').filter((p) => p !== '');
      for (const item of c.value!.split(',')) {
        if (c.configOperation === AlterConfigOp.APPEND) {
          if (!parts.includes(item)) parts.push(item);
        } else {
          const at = parts.indexOf(item);
          if (at >= 0) parts.splice(at, 1);
        }
      }
      overrides[key] = parts.join(',');
      return;
    }
    default:
      throw new KafkaProtocolError('INVALID_REQUEST', `Unknown operation type ${c.configOperation}`);
  }
}

/**
 * One operation on a BROKER resource's dynamic configs, as Kafka's ConfigAdminManager
 * .prepareIncrementalConfigs applies it: APPEND adds to the stored list (else the default) without
 * removing repeats, SUBTRACT takes one occurrence of each item away.
 */
function applyBrokerOperation(configs: Record<string, string>, c: AlterableConfig): void {
  const key = c.name;
  if (c.configOperation === AlterConfigOp.SET) {
    configs[key] = c.value!;
    return;
  }
  if (c.configOperation === AlterConfigOp.DELETE) {
    delete configs[key];
    return;
  }
  const def = brokerConfigDefinition(key);
  if (!def) throw new KafkaProtocolError('INVALID_CONFIG', `Unknown topic config name: ${key}`);
  const verb = c.configOperation === AlterConfigOp.APPEND ? 'append' : 'subtract';
  if (def.type !== 'list') {
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      `Config value ${verb} is not allowed for config key: ${key}`,
    );
  }
  const parts = (configs[key] ?? def.defaultValue ?? '').split(',').filter((p) => p !== '');
  for (const item of c.value!.split(',')) {
    if (c.configOperation === AlterConfigOp.APPEND) parts.push(item);
    else {
      const at = parts.indexOf(item);
      if (at >= 0) parts.splice(at, 1);
    }
  }
  configs[key] = parts.join(',');
}

/** Kafka's RuntimeLoggerManager checks; kch has no loggers to adjust, so every logger is unknown. */
function checkLoggerResource(r: Resource, nodeId: number): void {
  const id = parseJavaInt(r.resourceName);
  if (id === null) {
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      `Node id must be an integer, but it is: ${r.resourceName}`,
    );
  }
  if (id !== nodeId) {
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      `Unexpected node id. Expected ${nodeId}, but received ${id}`,
    );
  }
  for (const c of r.configs) {
    switch (c.configOperation) {
      case AlterConfigOp.SET:
      case AlterConfigOp.DELETE:
        throw new KafkaProtocolError(
          'INVALID_CONFIG',
          `Logger ${c.name} does not exist! kch logs through the logger it was given and has no log levels to change at run time`,
        );
      case AlterConfigOp.APPEND:
      case AlterConfigOp.SUBTRACT:
        throw new KafkaProtocolError(
          'INVALID_REQUEST',
          `${ALTER_CONFIG_OP_NAMES[c.configOperation]} operation is not allowed for the BROKER_LOGGER resource`,
        );
      default:
        throw new KafkaProtocolError(
          'INVALID_REQUEST',
          `Unknown operation type ${c.configOperation} is not allowed for the BROKER_LOGGER resource`,
        );
    }
  }
}
