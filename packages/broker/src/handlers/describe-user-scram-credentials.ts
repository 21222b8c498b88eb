import { type DescribeUserScramCredentialsResponse, ErrorCode, errorInfo, type Init } from '@kch/protocol';
import type { ScramCredential } from '@kch/storage';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { SCRAM_MECHANISM_TYPES } from '../security/sasl/scram.js';

type Result = Init<DescribeUserScramCredentialsResponse['results'][number]>;

/**
 * DescribeUserScramCredentials, as Kafka's broker answers it from its metadata (ScramImage.describe):
 * every user with a credential when no user is named, else each named user once: its mechanisms and
 * iterations, RESOURCE_NOT_FOUND for a user without any, DUPLICATE_RESOURCE for a user named twice.
 * Salts and keys never leave the broker.
 */
export default defineHandler({
  api: 'DescribeUserScramCredentials',
  serial: true,
  async handle(request, ctx) {
    // Describe on the cluster, as Kafka's KafkaApis asks (else getErrorResponse's answer).
    if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, ...errorResults(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED) };
    }
    const byUser = new Map<string, ScramCredential[]>();
    for (const c of await ctx.broker.security.store.listScramCredentials()) {
      byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
    }
    // user → named more than once
    const users = new Map<string, boolean>();
    if (request.users === null || request.users.length === 0) {
      for (const user of [...byUser.keys()].sort()) users.set(user, false);
    } else {
      for (const { name } of request.users) users.set(name, users.has(name));
    }
    const results = [...users].map(([user, duplicate]): Result => {
      if (duplicate) {
        return {
          user,
          errorCode: ErrorCode.DUPLICATE_RESOURCE,
          errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`,
          credentialInfos: [],
        };
      }
      const credentials = byUser.get(user);
      if (!credentials) {
        return {
          user,
          errorCode: ErrorCode.RESOURCE_NOT_FOUND,
          errorMessage: `Attempt to describe a user credential that does not exist: ${user}`,
          credentialInfos: [],
        };
      }
      return {
        user,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        credentialInfos: credentials
          .map((c) => ({ mechanism: SCRAM_MECHANISM_TYPES[c.mechanism], iterations: c.iterations }))
          .sort((a, b) => a.mechanism - b.mechanism),
      };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
  errorResponse: (request, errorCode) => errorResults(request, errorCode),
});

/** Kafka's getErrorResponse: the error, repeated once per named user without the user's name. */
function errorResults(request: { users: readonly { name: string }[] | null }, errorCode: number) {
  const errorMessage = errorInfo(errorCode)?.message ?? null;
  return {
    errorCode,
    errorMessage,
    results: (request.users ?? []).map(
      (): Result => ({ user: '', errorCode, errorMessage, credentialInfos: [] }),
    ),
  };
}
