import { type DescribeUserScramCredentialsResponse, ErrorCode, errorInfo, type Init } from '@kch/protocol';
import type { ScramCredential } from '@kch/storage';
import { defineHandler } from '../handler.js';
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
    // authorization: Describe on CLUSTER (denied: errorResponse with CLUSTER_AUTHORIZATION_FAILED, as Kafka)
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
  errorResponse(request, errorCode) {
    const errorMessage = errorInfo(errorCode)?.message ?? null;
    return {
      errorCode,
      errorMessage,
      // Kafka's getErrorResponse repeats the error once per named user, without the user's name.
      results: (request.users ?? []).map(() => ({ user: '', errorCode, errorMessage, credentialInfos: [] })),
    };
  },
});
