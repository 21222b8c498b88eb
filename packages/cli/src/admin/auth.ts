/**
 * Who may use the admin server's SQL and views, and how they prove it.
 *
 * Without an authorizer on the broker, as before: the admin token when one is set (`Authorization:
 * Bearer <token>`), else anyone who reaches the server. Once the broker has an authorizer, every
 * request to /sql and /views needs an authenticated principal with a permission on the cluster, as a
 * Kafka request would: Alter for POST /sql and for creating or dropping views, Describe for reading
 * views. The credentials are the broker's own, checked by its SASL mechanisms' code:
 *
 * - `Authorization: Basic <user:password>`: a PLAIN user of the broker's configuration (any listener's,
 *   or the broker-wide ones) or a SCRAM user, verified by the PLAIN mechanism (which checks a SCRAM
 *   user's password against the stored credential);
 * - `Authorization: Bearer <JWT>` when the broker validates OAUTHBEARER tokens: verified by the
 *   OAUTHBEARER mechanism, with the same keys, issuer, audience and principal claim.
 *
 * 401 with WWW-Authenticate when the request is not authenticated (after the broker's delay for
 * failed authentications), 403 naming the permission that is missing. /metrics and /healthz stay
 * open: they are for probes, and hold no data.
 */
import type { IncomingMessage } from 'node:http';
import {
  type AclOperation,
  type Broker,
  CLUSTER_NAME,
  createMechanism,
  javaHostAddress,
  type Logger,
  operationName,
  pascalCase,
  ResourceType,
  SaslAuthenticationError,
} from '@kch/broker';
import { HttpError, requireToken } from './http.js';

const REALM = 'realm="kch admin"';

type Mechanism = ReturnType<typeof createMechanism>;

export type AdminOperation = typeof AclOperation.ALTER | typeof AclOperation.DESCRIBE;

export interface AdminAccess {
  /** Resolves when the request may perform `operation` on the cluster; else throws an HttpError 401/403. */
  require(req: IncomingMessage, operation: AdminOperation, what: string): Promise<void>;
  /** Whether requests are checked against the broker's ACLs (else the token, if any). */
  readonly authorized: boolean;
}

/** The PLAIN user lists of the broker's configuration: the broker-wide one and each listener's own. */
function plainUserLists(broker: Broker): Readonly<Record<string, string>>[] {
  const lists: Readonly<Record<string, string>>[] = [broker.config.sasl.plainUsers];
  for (const l of broker.config.listeners)
    if (l.plainUsers && !lists.includes(l.plainUsers)) lists.push(l.plainUsers);
  return lists;
}

export function adminAccess(broker: Broker, token: string | undefined, logger: Logger): AdminAccess {
  const authorizer = broker.context.security.authorizer;
  if (!authorizer)
    return {
      authorized: false,
      require: (req, _operation, what) => Promise.resolve(requireToken(req, token, what)),
    };
  const store = broker.context.security.store;
  const plain = plainUserLists(broker).map((plainUsers) => createMechanism('PLAIN', { plainUsers, store }));
  let bearer: Mechanism | undefined;
  const oauthBearer = broker.config.sasl.oauthBearer;
  if (oauthBearer) {
    try {
      bearer = createMechanism('OAUTHBEARER', { plainUsers: {}, store, oauthBearer });
    } catch (e) {
      logger.warn('the admin server takes no bearer tokens: the OAUTHBEARER settings cannot verify them', {
        reason: (e as Error).message,
      });
    }
  }
  const challenges = [`Basic ${REALM}, charset="UTF-8"`, ...(bearer ? [`Bearer ${REALM}`] : [])];
  const unauthenticated = (message: string) =>
    new HttpError(401, message, { 'www-authenticate': challenges });
  const delayMs = broker.config.connectionFailedAuthenticationDelayMs;

  /** The principal of an exchange's one message, or undefined when the mechanism refuses it. */
  const principalOf = async (mechanism: Mechanism, token: Buffer): Promise<string | undefined> => {
    try {
      return (await mechanism.start().step(token)).principal;
    } catch (e) {
      if (e instanceof SaslAuthenticationError) return undefined;
      throw e;
    }
  };

  const authenticate = async (req: IncomingMessage, what: string): Promise<string> => {
    const header = req.headers.authorization ?? '';
    const [scheme = '', credentials = ''] = header.trim().split(/\s+/, 2);
    let principal: string | undefined;
    if (/^basic$/i.test(scheme)) {
      const text = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      if (colon > 0) {
        // PLAIN's message (authzid NUL user NUL password), so the mechanism's own checks apply.
        const message = Buffer.from(`\0${text.slice(0, colon)}\0${text.slice(colon + 1)}`, 'utf8');
        for (const mechanism of plain) {
          principal = await principalOf(mechanism, message);
          if (principal) break;
        }
      }
    } else if (/^bearer$/i.test(scheme) && bearer) {
      // OAUTHBEARER's client initial response (RFC 7628), without authzid or extensions.
      principal = await principalOf(bearer, Buffer.from(`n,,\x01auth=Bearer ${credentials}\x01\x01`, 'utf8'));
    } else {
      throw unauthenticated(
        `${what} needs a user of the broker: Authorization: Basic with a SCRAM user or a PLAIN user of its configuration${bearer ? ', or Bearer with an OAUTHBEARER token' : ''} (kch sql and kch views: --sasl-username with KCH_SASL_PASSWORD)`,
      );
    }
    if (principal === undefined) {
      // As the broker delays a failed SASL authentication, so that guessing is slow.
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      throw unauthenticated(
        `authentication failed for ${what}: wrong user name or password, or an invalid token`,
      );
    }
    return principal;
  };

  return {
    authorized: true,
    async require(req, operation, what) {
      const principal = await authenticate(req, what);
      const host = javaHostAddress(req.socket.remoteAddress ?? '');
      if (authorizer.authorize({ principal, host }, operation, ResourceType.CLUSTER, CLUSTER_NAME)) return;
      const name = pascalCase(operationName(operation));
      logger.debug('admin request not authorized', { principal, host, operation: name, what });
      throw new HttpError(
        403,
        `${principal} may not ${what}: it needs ${name} on the cluster; an administrator grants it with \`kch acls add --allow-principal ${principal} --operation ${name} --cluster\``,
      );
    },
  };
}
