import { type AlterUserScramCredentialsResponse, ErrorCode, errorInfo, type Init } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import {
  SCRAM_MAX_ITERATIONS,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanismName,
  scramCredentialFromSaltedPassword,
  scramMechanismOfType,
} from '../security/sasl/scram.js';

type Result = Init<AlterUserScramCredentialsResponse['results'][number]>;
type ApiError = { code: number; message: string };

const DUPLICATE: ApiError = {
  code: ErrorCode.DUPLICATE_RESOURCE,
  message: 'A user credential cannot be altered twice in the same request',
};

/** Kafka's ScramControlManager.validateScramUsernameAndMechanism. */
function nameAndMechanismError(name: string, mechanism: ScramMechanismName | undefined): ApiError | null {
  if (name === '') return { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: 'Username must not be empty' };
  if (!mechanism) return { code: ErrorCode.UNSUPPORTED_SASL_MECHANISM, message: 'Unknown SCRAM mechanism' };
  return null;
}

/**
 * AlterUserScramCredentials, as Kafka's controller applies it (ScramControlManager.alterCredentials):
 * deletions, then upsertions, each user at most once per request (a second alteration of a user makes
 * both DUPLICATE_RESOURCE, and later ones are ignored); an upsertion carries the client's salt,
 * iterations and SaltedPassword, from which the broker derives and stores StoredKey and ServerKey. The
 * answer lists successful deletions, then successful upsertions, then the failures.
 */
export default defineHandler({
  api: 'AlterUserScramCredentials',
  serial: true,
  async handle(request, ctx) {
    // Alter on the cluster, as Kafka's ControllerApis asks (else getErrorResponse's answer).
    if (!allowed(ctx, AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, ...errorResults(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED) };
    }
    const store = ctx.broker.security.store;
    const stored = new Set((await store.listScramCredentials()).map((c) => `${c.mechanism}\n${c.user}`));
    const deletions = new Map<string, ScramMechanismName>();
    const upsertions = new Map<string, (typeof request.upsertions)[number] & { scram: ScramMechanismName }>();
    const errors = new Map<string, ApiError>();

    for (const d of request.deletions) {
      if (errors.has(d.name)) continue;
      if (deletions.delete(d.name)) {
        errors.set(d.name, DUPLICATE);
        continue;
      }
      const mechanism = scramMechanismOfType(d.mechanism);
      const error =
        nameAndMechanismError(d.name, mechanism) ??
        (stored.has(`${mechanism}\n${d.name}`)
          ? null
          : {
              code: ErrorCode.RESOURCE_NOT_FOUND,
              message: 'Attempt to delete a user credential that does not exist',
            });
      if (error) errors.set(d.name, error);
      else deletions.set(d.name, mechanism!);
    }
    for (const u of request.upsertions) {
      if (errors.has(u.name)) continue;
      // A user both deleted and upserted in one request is altered twice too.
      if (deletions.delete(u.name) || upsertions.delete(u.name)) {
        errors.set(u.name, DUPLICATE);
        continue;
      }
      const mechanism = scramMechanismOfType(u.mechanism);
      let error = nameAndMechanismError(u.name, mechanism);
      if (!error && u.iterations < SCRAM_MIN_ITERATIONS)
        error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: 'Too few iterations' };
      else if (!error && u.iterations > SCRAM_MAX_ITERATIONS)
        error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: 'Too many iterations' };
      if (error) errors.set(u.name, error);
      else upsertions.set(u.name, { ...u, scram: mechanism! });
    }

    const results: Result[] = [];
    for (const [user, mechanism] of deletions) {
      await store.deleteScramCredential(user, mechanism);
      results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    for (const [user, u] of upsertions) {
      await store.putScramCredential(
        scramCredentialFromSaltedPassword(user, u.scram, u.salt, u.saltedPassword, u.iterations),
      );
      results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    for (const [user, error] of errors)
      results.push({ user, errorCode: error.code, errorMessage: error.message });
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (request, errorCode) => errorResults(request, errorCode),
});

/** Kafka's getErrorResponse: each user named in the request once, sorted, with the error. */
function errorResults(
  request: { deletions: readonly { name: string }[]; upsertions: readonly { name: string }[] },
  errorCode: number,
): { results: Result[] } {
  const users = new Set([...request.deletions, ...request.upsertions].map((a) => a.name));
  const errorMessage = errorInfo(errorCode)?.message ?? null;
  return { results: [...users].sort().map((user) => ({ user, errorCode, errorMessage })) };
}
