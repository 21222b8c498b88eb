/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's ScramSaslServer serves them, and
 * the credentials they check: salt, iterations, StoredKey and ServerKey, never the password.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ScramCredential, SecurityStore } from '@kch/storage';
import {
  invalidCredentials,
  SaslAuthenticationError,
  type SaslExchange,
  type SaslMechanism,
  type SaslStep,
  userPrincipal,
} from './exchange.js';

export type ScramMechanismName = ScramCredential['mechanism'];

/** Kafka's ScramMechanism.minIterations: fewer is refused when stored and when authenticating. */
export const SCRAM_MIN_ITERATIONS = 4096;
/** The most AlterUserScramCredentials accepts (Kafka's ScramControlManager.MAX_ITERATIONS). */
export const SCRAM_MAX_ITERATIONS = 16384;

/** The mechanisms' codes in AlterUserScramCredentials and DescribeUserScramCredentials (0 is UNKNOWN). */
export const SCRAM_MECHANISM_TYPES: Readonly<Record<ScramMechanismName, number>> = {
  'SCRAM-SHA-256': 1,
  'SCRAM-SHA-512': 2,
};

export function scramMechanismOfType(type: number): ScramMechanismName | undefined {
  if (type === 1) return 'SCRAM-SHA-256';
  if (type === 2) return 'SCRAM-SHA-512';
  return undefined;
}

/** The hash function H of a SCRAM mechanism, by its node:crypto name and output length. */
export interface ScramHash {
  readonly digest: string;
  readonly length: number;
}

export const SCRAM_HASHES: Readonly<Record<ScramMechanismName, ScramHash>> = {
  'SCRAM-SHA-256': { digest: 'sha256', length: 32 },
  'SCRAM-SHA-512': { digest: 'sha512', length: 64 },
};

/** What the server needs of a user's credential. */
export type ScramKeys = Pick<ScramCredential, 'salt' | 'iterations' | 'storedKey' | 'serverKey'>;

const pbkdf2Async = promisify(pbkdf2);

/**
 * SaltedPassword = Hi(password, salt, i): PBKDF2 with HMAC-H. Kafka normalizes the password as its
 * UTF-8 bytes (no SASLprep), and so does kch, so a credential made by either works with both.
 */
export function saltedPassword(
  password: string,
  salt: Buffer,
  iterations: number,
  hash: ScramHash,
): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, hash.length, hash.digest);
}

function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash.digest, key).update(data).digest();
}

/** StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export function scramKeys(salted: Buffer, hash: ScramHash): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, 'Client Key');
  return {
    storedKey: createHash(hash.digest).update(clientKey).digest(),
    serverKey: hmac(hash, salted, 'Server Key'),
  };
}

/**
 * The credential of a SaltedPassword, as AlterUserScramCredentials carries it: the client salts and
 * iterates the password, the broker derives the keys it stores (Kafka's ScramControlManager).
 */
export function scramCredentialFromSaltedPassword(
  user: string,
  mechanism: ScramMechanismName,
  salt: Buffer,
  salted: Buffer,
  iterations: number,
): ScramCredential {
  return { user, mechanism, salt, iterations, ...scramKeys(salted, SCRAM_HASHES[mechanism]) };
}

/** A user's credential from the password; the salt is 32 random bytes unless given. */
export async function scramCredential(
  user: string,
  mechanism: ScramMechanismName,
  password: string,
  iterations: number,
  salt: Buffer = randomBytes(32),
): Promise<ScramCredential> {
  const salted = await saltedPassword(password, salt, iterations, SCRAM_HASHES[mechanism]);
  return scramCredentialFromSaltedPassword(user, mechanism, salt, salted, iterations);
}

/** Whether `password` is the one the credential was made from (compared in constant time). */
export async function verifyScramPassword(
  credential: ScramKeys & { mechanism: ScramMechanismName },
  password: string,
): Promise<boolean> {
  const hash = SCRAM_HASHES[credential.mechanism];
  const salted = await saltedPassword(password, credential.salt, credential.iterations, hash);
  return sameBytes(scramKeys(salted, hash).storedKey, credential.storedKey);
}

/** The stored credential of a user for a mechanism, if any. */
export async function findScramCredential(
  store: SecurityStore,
  user: string,
  mechanism: ScramMechanismName,
): Promise<ScramCredential | undefined> {
  return (await store.listScramCredentials()).find((c) => c.user === user && c.mechanism === mechanism);
}

/**
 * Drawn once per process, so nobody can compute the fake keys below. A restart draws another, so the
 * fake salt of an unknown user changes then while a real user's stays: kch keeps no secret at rest.
 */
const FAKE_SECRET = randomBytes(32);

/**
 * The keys of a user who has no credential: the exchange runs with them to the proof, which fails as
 * a wrong password does, so a client cannot tell an unknown user from a wrong password. They are the
 * same for every attempt at a user (a salt that changed per attempt would give the user away), and
 * look like real ones (a 32-byte salt, the usual 4096 iterations).
 */
export function fakeScramKeys(user: string, hash: ScramHash): ScramKeys {
  const derive = (label: string, digest: string) =>
    createHmac(digest, FAKE_SECRET).update(`${label}\0${hash.digest}\0${user}`).digest();
  return {
    salt: derive('salt', 'sha256'),
    iterations: SCRAM_MIN_ITERATIONS,
    storedKey: derive('stored-key', hash.digest),
    serverKey: derive('server-key', hash.digest),
  };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// RFC 5802's grammar, as Kafka's ScramMessages parses it. A saslname is any UTF-8 text but NUL, ',' and
// '=', which come as =2C and =3D (Kafka also refuses non-ASCII names; accepting them refuses no client).
const SASLNAME = '(?:[^\\x00,=]|=2C|=3D)+';
const PRINTABLE = '[\\x21-\\x2B\\x2D-\\x7E]+';
const VALUE = '[\\x01-\\x2B\\x2D-\\x7F]+';
const BASE64 = '(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?';
const EXTENSIONS = `((?:,[A-Za-z]+=${VALUE})*)`;
/** gs2-header ("n" only: kch, like Kafka, has no channel binding), [reserved-mext], username, nonce, extensions. */
const CLIENT_FIRST = new RegExp(
  `^n,(?:a=(${SASLNAME}))?,(m=${VALUE},)?n=(${SASLNAME}),r=(${PRINTABLE})${EXTENSIONS}$`,
);
const CLIENT_FINAL = new RegExp(`^c=(${BASE64}),r=(${PRINTABLE})${EXTENSIONS},p=(${BASE64})$`);

/** A saslname's user name: =2C is ',' and =3D is '=' (the grammar admits no other '='). */
function unescapeSaslName(name: string): string {
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

function extensionsOf(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of text.split(',').slice(1)) {
    const eq = pair.indexOf('=');
    map.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return map;
}

/** A server nonce: printable, no ','; 144 random bits (Kafka draws 130). */
function randomNonce(): string {
  return randomBytes(18).toString('base64url');
}

export interface ScramServerOptions {
  /** The mechanism's name, for messages. */
  readonly name: string;
  readonly hash: ScramHash;
  /** The user's credential, or undefined when there is none (a fake one is used then). */
  readonly lookup: (user: string) => Promise<ScramKeys | undefined>;
  /** Draws the server's part of the nonce; fixed only in tests of the RFC's examples. */
  readonly serverNonce?: () => string;
}

/** What the server-first fixed, for checking the client-final. */
interface AwaitingFinal {
  readonly at: 'client-final';
  readonly user: string;
  readonly credential: ScramKeys;
  readonly gs2Header: string;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
}

type ScramState = { readonly at: 'client-first' } | AwaitingFinal | { readonly at: 'done' };

/**
 * One SCRAM exchange on the server (RFC 5802 section 5): client-first, server-first, client-final,
 * server-final. Every failure ends the exchange; failures that say nothing of the credential's
 * existence carry Kafka's generic message.
 */
export class ScramServerExchange implements SaslExchange {
  private state: ScramState = { at: 'client-first' };

  constructor(private readonly options: ScramServerOptions) {}

  async step(token: Buffer): Promise<SaslStep> {
    const state = this.state;
    this.state = { at: 'done' };
    if (state.at === 'client-first') {
      const next = await this.clientFirst(token.toString('utf8'));
      this.state = next;
      return { response: Buffer.from(next.serverFirst) };
    }
    if (state.at === 'client-final') return this.clientFinal(token.toString('utf8'), state);
    throw this.refused();
  }

  private refused(error?: string): SaslAuthenticationError {
    return invalidCredentials(this.options.name, error === undefined ? undefined : Buffer.from(`e=${error}`));
  }

  private async clientFirst(message: string): Promise<AwaitingFinal> {
    const m = CLIENT_FIRST.exec(message);
    if (!m) throw this.refused();
    const [, authzid, reserved, saslName, clientNonce, extensions] = m as unknown as string[];
    // RFC 5802: a mandatory extension (m=) the server does not know MUST fail the exchange.
    if (reserved !== undefined) throw this.refused();
    // tokenauth=true asks for a delegation token (KIP-48), which kch does not issue; Kafka ignores
    // the other extensions, and so does kch.
    if (extensionsOf(extensions!).get('tokenauth')?.toLowerCase() === 'true') throw this.refused();
    const user = unescapeSaslName(saslName!);
    const credential = (await this.options.lookup(user)) ?? fakeScramKeys(user, this.options.hash);
    // Checked for unknown users too, so this message says nothing about whether the user exists.
    if (authzid !== undefined && unescapeSaslName(authzid) !== user) {
      throw new SaslAuthenticationError(
        'Authentication failed: Client requested an authorization id that is different from username',
      );
    }
    if (credential.iterations < SCRAM_MIN_ITERATIONS) throw this.refused();
    const gs2Header = message.slice(0, message.indexOf(',', 2) + 1);
    const nonce = clientNonce! + (this.options.serverNonce ?? randomNonce)();
    return {
      at: 'client-final',
      user,
      credential,
      gs2Header,
      clientFirstBare: message.slice(gs2Header.length),
      serverFirst: `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`,
      nonce,
    };
  }

  private clientFinal(message: string, state: AwaitingFinal): SaslStep {
    const m = CLIENT_FINAL.exec(message);
    if (!m) throw this.refused('invalid-encoding');
    const [, channelBinding, nonce, , proofText] = m as unknown as string[];
    // Without channel binding, c= is the gs2-header the client sent ("biws" for "n,,").
    if (!Buffer.from(channelBinding!, 'base64').equals(Buffer.from(state.gs2Header)))
      throw this.refused('channel-bindings-dont-match');
    // Kafka's ScramSaslServer checks that the nonce ends with the server-first nonce, not that it is
    // equal: librdkafka (2.0 and others) sends its own nonce before the combined one.
    if (!nonce!.endsWith(state.nonce)) throw this.refused('other-error');
    const { hash } = this.options;
    const withoutProof = message.slice(0, message.length - proofText!.length - ',p='.length);
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = state.credential;
    const clientSignature = hmac(hash, storedKey, authMessage);
    const proof = Buffer.from(proofText!, 'base64');
    if (proof.length !== clientSignature.length) throw this.refused('invalid-proof');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!sameBytes(createHash(hash.digest).update(clientKey).digest(), storedKey))
      throw this.refused('invalid-proof');
    const serverSignature = hmac(hash, serverKey, authMessage);
    return {
      response: Buffer.from(`v=${serverSignature.toString('base64')}`),
      principal: userPrincipal(state.user),
    };
  }
}

/** SCRAM-SHA-256 or SCRAM-SHA-512 over the credentials of the security store. */
export class ScramMechanism implements SaslMechanism {
  constructor(
    readonly name: ScramMechanismName,
    private readonly store: SecurityStore,
  ) {}

  start(): SaslExchange {
    return new ScramServerExchange({
      name: this.name,
      hash: SCRAM_HASHES[this.name],
      lookup: (user) => findScramCredential(this.store, user, this.name),
    });
  }
}
