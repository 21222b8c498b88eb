import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { operationsBitField, ResourceType, supportedOperations } from '../security/acl-codes.js';
import { clusterOperations } from './metadata.js';

/** DescribeCluster v1+ endpoint types. */
const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const;

/**
 * The operations on the cluster a client may perform, as Kafka reports them without an authorizer:
 * every operation the CLUSTER resource supports (AclEntry.supportedOperations), as a bit field of
 * AclOperation codes: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10,
 * ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
 */
export const CLUSTER_OPERATIONS = operationsBitField(supportedOperations(ResourceType.CLUSTER));

/**
 * DescribeCluster: the live brokers (this one alone, or every member over the same database), with
 * this broker as the controller clients send cluster changes to, as Kafka's broker answers
 * (AuthHelper.computeDescribeClusterResponse). Asking a broker for controllers is a mismatch in Kafka
 * too: admin clients use that only with bootstrap.controllers, which kch does not offer.
 */
export default defineHandler({
  api: 'DescribeCluster',
  serial: true,
  handle(request, ctx) {
    const { config } = ctx.broker;
    const type = request.endpointType;
    if (type !== EndpointType.BROKER && type !== EndpointType.CONTROLLER) {
      return {
        throttleTimeMs: 0,
        errorCode: ctx.apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: `Unsupported endpoint type ${type}`,
      };
    }
    if (type !== EndpointType.BROKER) {
      return {
        throttleTimeMs: 0,
        errorCode: ctx.apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.MISMATCHED_ENDPOINT_TYPE,
        errorMessage:
          'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: EndpointType.BROKER,
      clusterId: config.clusterId,
      controllerId: config.nodeId,
      brokers: ctx.broker
        .brokersFor(ctx.connection.listener)
        .map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      // Kafka answers anyone; only the operations need Describe on the cluster (0 without it).
      clusterAuthorizedOperations: clusterOperations(request.includeClusterAuthorizedOperations, ctx),
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode };
  },
});
