/**
 * SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer serves it: one message, authzid NUL authcid NUL
 * password. Users come from the configuration (PlainLoginModule's user_<name> entries) or, for a name
 * the configuration does not have, from the user's SCRAM credential in the security store.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecurityStore } from '@kch/storage';
import {
  invalidCredentials,
  SaslAuthenticationError,
  type SaslExchange,
  type SaslMechanism,
  type SaslStep,
  userPrincipal,
} from './exchange.js';
import { fakeScramKeys, SCRAM_HASHES, type ScramMechanismName, verifyScramPassword } from './scram.js';

/**
 * Kafka's split of the message: up to three parts at NUL, missing ones empty, and whatever follows a
 * third NUL dropped (so a message with one NUL has an empty password, refused below).
 */
function splitPlain(message: string): [authzid: string, user: string, password: string] {
  const parts: [string, string, string] = ['', '', ''];
  let start = 0;
  for (let i = 0; i < 3; i++) {
    const end = message.indexOf('\0', start);
    if (end === -1) {
      parts[i] = message.slice(start);
      break;
    }
    parts[i] = message.slice(start, end);
    start = end + 1;
  }
  return parts;
}

/** Equal strings, compared in time that depends on neither (hashing first hides the lengths too). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** When a user has both SCRAM credentials, PLAIN checks the stronger one: one derivation per attempt. */
const SCRAM_PREFERENCE: readonly ScramMechanismName[] = ['SCRAM-SHA-512', 'SCRAM-SHA-256'];

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';

  constructor(
    private readonly users: Readonly<Record<string, string>>,
    private readonly store: SecurityStore,
  ) {}

  start(): SaslExchange {
    let used = false;
    return {
      step: (token) => {
        // PLAIN is one message: anything after it is out of turn.
        if (used) return Promise.reject(invalidCredentials(this.name));
        used = true;
        return this.authenticate(token);
      },
    };
  }

  private async authenticate(token: Buffer): Promise<SaslStep> {
    const [authzid, user, password] = splitPlain(token.toString('utf8'));
    if (user === '' || password === '') throw invalidCredentials(this.name);
    if (!(await this.verify(user, password)))
      throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
    // After the password, as Kafka: the answer to a wrong authzid tells only someone who knows it.
    if (authzid !== '' && authzid !== user) {
      throw new SaslAuthenticationError(
        'Authentication failed: Client requested an authorization id that is different from username',
      );
    }
    return { response: Buffer.alloc(0), principal: userPrincipal(user) };
  }

  private async verify(user: string, password: string): Promise<boolean> {
    // hasOwn: a user named "constructor" must not find Object's.
    if (Object.hasOwn(this.users, user)) return sameSecret(this.users[user]!, password);
    const credentials = (await this.store.listScramCredentials()).filter((c) => c.user === user);
    const credential = SCRAM_PREFERENCE.map((m) => credentials.find((c) => c.mechanism === m)).find(
      (c) => c !== undefined,
    );
    if (credential) return verifyScramPassword(credential, password);
    // An unknown user costs the same derivation as a known one, so the time does not tell them apart.
    const mechanism = 'SCRAM-SHA-256';
    await verifyScramPassword({ ...fakeScramKeys(user, SCRAM_HASHES[mechanism]), mechanism }, password);
    return false;
  }
}
