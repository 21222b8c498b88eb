/**
 * SASL/OAUTHBEARER (RFC 7628) as Kafka's OAuthBearerSaslServer serves it, validating the bearer token as
 * a JWT the way Kafka's OAuthBearerValidatorCallbackHandler (jose4j) does: a signature by a configured
 * key (a JWKS file or one PEM public key), exp and iat required, nbf, issuer and audience checked, the
 * principal from a claim. Unsigned tokens (alg "none") only when allowed, as Kafka's unsecured
 * validator accepts them. node:crypto does all the cryptography.
 */
import { createPublicKey, constants as cryptoConstants, type KeyObject, verify } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { OAuthBearerOptions } from '../options.js';
import {
  invalidCredentials,
  SaslAuthenticationError,
  type SaslExchange,
  type SaslMechanism,
  type SaslStep,
  userPrincipal,
} from './exchange.js';

/** Why a token was refused: for tests and operators, never sent to the client (it gets invalid_token). */
export class JwtValidationError extends Error {
  override readonly name = 'JwtValidationError';
}

/** A token that passed: its principal name and when it expires. */
export interface ValidatedToken {
  readonly principalName: string;
  readonly expiresAtMs: number;
}

interface VerificationKey {
  readonly key: KeyObject;
  /** The JWK's kid, alg and use, when it came from a JWKS and said them. */
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
}

type KeyKind = 'rsa' | 'rsa-pss' | 'ec';

interface Algorithm {
  readonly digest: 'sha256' | 'sha384' | 'sha512';
  readonly kind: KeyKind;
  /** For ES*: the curve (node's name) and the signature's length (r and s, RFC 7518 section 3.4). */
  readonly curve?: string;
  readonly signatureLength?: number;
}

/** The JWS algorithms accepted (RFC 7518); HS* is not, as there is no shared secret to configure. */
const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: { digest: 'sha256', kind: 'rsa' },
  RS384: { digest: 'sha384', kind: 'rsa' },
  RS512: { digest: 'sha512', kind: 'rsa' },
  PS256: { digest: 'sha256', kind: 'rsa-pss' },
  PS384: { digest: 'sha384', kind: 'rsa-pss' },
  PS512: { digest: 'sha512', kind: 'rsa-pss' },
  ES256: { digest: 'sha256', kind: 'ec', curve: 'prime256v1', signatureLength: 64 },
  ES384: { digest: 'sha384', kind: 'ec', curve: 'secp384r1', signatureLength: 96 },
  ES512: { digest: 'sha512', kind: 'ec', curve: 'secp521r1', signatureLength: 132 },
};

/** jose4j refuses RSA keys under 2048 bits, and so does Kafka's validator. */
const MIN_RSA_BITS = 2048;

function verifySignature(alg: Algorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const type = key.asymmetricKeyType;
  if (alg.kind === 'ec') {
    if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== alg.curve) return false;
    if (signature.length !== alg.signatureLength) return false;
    return verify(alg.digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  // An RSA key serves RS* and PS*; a key restricted to PSS serves PS* only.
  if (!(type === 'rsa' || (type === 'rsa-pss' && alg.kind === 'rsa-pss'))) return false;
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return false;
  const padding =
    alg.kind === 'rsa-pss'
      ? { padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }
      : { padding: cryptoConstants.RSA_PKCS1_PADDING };
  return verify(alg.digest, data, { key, ...padding }, signature);
}

/** The keys of a JWKS document ({"keys": [...]}); keys node cannot use as public keys are left out. */
function parseJwks(text: string, source: string): VerificationKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source} is not JSON: ${(e as Error).message}`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new Error(`${source} is not a JWKS: it has no "keys" array`);
  const out: VerificationKey[] = [];
  for (const jwk of keys as Record<string, unknown>[]) {
    if (typeof jwk !== 'object' || jwk === null || (jwk.kty !== 'RSA' && jwk.kty !== 'EC')) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as never, format: 'jwk' });
    } catch {
      continue;
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    out.push({ key, kid: str(jwk.kid), alg: str(jwk.alg), use: str(jwk.use) });
  }
  if (out.length === 0) throw new Error(`${source} has no RSA or EC public key`);
  return out;
}

function parsePem(text: string, source: string): VerificationKey[] {
  try {
    return [{ key: createPublicKey(text) }];
  } catch (e) {
    throw new Error(`${source} is not a PEM public key: ${(e as Error).message}`);
  }
}

/**
 * Files read again when they change (an issuer rotates its keys), shared by every exchange of the
 * process. A file that fails to parse after a change leaves the keys read before it in use.
 */
const fileCache = new Map<string, { version: string; keys: VerificationKey[] }>();

function keysOfFile(
  path: string,
  parse: (text: string, source: string) => VerificationKey[],
): VerificationKey[] {
  const cached = fileCache.get(path);
  let version: string;
  try {
    const stat = statSync(path);
    version = `${stat.mtimeMs}:${stat.size}`;
  } catch (e) {
    if (cached) return cached.keys;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (cached?.version === version) return cached.keys;
  try {
    const keys = parse(readFileSync(path, 'utf8'), path);
    fileCache.set(path, { version, keys });
    return keys;
  } catch (e) {
    if (!cached) throw e;
    fileCache.set(path, { version, keys: cached.keys });
    return cached.keys;
  }
}

/** PEM text given in the options, parsed once. */
const pemCache = new Map<string, VerificationKey[]>();

function base64UrlJson(part: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new JwtValidationError(`the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwtValidationError(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new JwtValidationError(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A NumericDate claim (seconds since the epoch), or undefined when absent. */
function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new JwtValidationError(`the ${name} claim is not a non-negative number`);
  return value;
}

/** Validates bearer tokens against the configured keys and expectations. */
export class JwtValidator {
  constructor(private readonly options: OAuthBearerOptions) {
    // Reading the keys now makes a missing or bad key file an error at start, not at each login.
    const keys = this.keys();
    if (keys.length === 0 && !options.allowUnsecured) {
      throw new Error(
        'OAUTHBEARER needs a key to verify tokens: set sasl.oauthBearer.jwksFile or publicKey (or allowUnsecured, for development only)',
      );
    }
  }

  private keys(): VerificationKey[] {
    const { jwksFile, publicKey } = this.options;
    const keys: VerificationKey[] = [];
    if (jwksFile !== undefined) keys.push(...keysOfFile(jwksFile, parseJwks));
    if (publicKey !== undefined) {
      if (publicKey.includes('-----BEGIN')) {
        let parsed = pemCache.get(publicKey);
        if (!parsed) {
          parsed = parsePem(publicKey, 'the publicKey option');
          pemCache.set(publicKey, parsed);
        }
        keys.push(...parsed);
      } else {
        keys.push(...keysOfFile(publicKey, parsePem));
      }
    }
    return keys;
  }

  /** The token's principal and expiry; throws JwtValidationError saying why it is refused. */
  validate(token: string, nowMs = Date.now()): ValidatedToken {
    const parts = token.split('.');
    if (parts.length !== 3) throw new JwtValidationError('a JWT has three parts separated by "."');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = base64UrlJson(headerPart, 'header');
    const claims = base64UrlJson(payloadPart, 'payload');
    // RFC 7515: a critical header the validator does not understand refuses the token; kch knows none.
    if (header.crit !== undefined) throw new JwtValidationError('the header has critical extensions');
    const alg = header.alg;
    if (typeof alg !== 'string') throw new JwtValidationError('the header has no alg');
    const unsecured = alg === 'none';
    if (unsecured) {
      if (!this.options.allowUnsecured)
        throw new JwtValidationError('unsecured tokens (alg "none") are refused');
      if (signaturePart !== '') throw new JwtValidationError('an unsecured token has an empty signature');
    } else {
      this.verify(alg, header, `${headerPart}.${payloadPart}`, signaturePart);
    }
    return this.checkClaims(claims, unsecured, nowMs);
  }

  private verify(
    algName: string,
    header: Record<string, unknown>,
    signed: string,
    signaturePart: string,
  ): void {
    const alg = Object.hasOwn(ALGORITHMS, algName) ? ALGORITHMS[algName] : undefined;
    if (!alg) throw new JwtValidationError(`algorithm ${algName} is not accepted`);
    if (!/^[A-Za-z0-9_-]+$/.test(signaturePart))
      throw new JwtValidationError('the signature is not base64url');
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    // As jose4j's JWKS resolver: a key whose kid, alg or use says it is not for this token is not tried.
    const candidates = this.keys().filter(
      (k) =>
        (kid === undefined || k.kid === undefined || k.kid === kid) &&
        (k.alg === undefined || k.alg === algName) &&
        (k.use === undefined || k.use === 'sig'),
    );
    if (candidates.length === 0)
      throw new JwtValidationError(`no configured key matches kid ${kid ?? '(none)'}`);
    const data = Buffer.from(signed, 'ascii');
    const signature = Buffer.from(signaturePart, 'base64url');
    if (!candidates.some((k) => verifySignature(alg, k.key, data, signature)))
      throw new JwtValidationError('the signature does not verify with any configured key');
  }

  private checkClaims(claims: Record<string, unknown>, unsecured: boolean, nowMs: number): ValidatedToken {
    const { clockSkewSeconds, expectedIssuer, subClaimName } = this.options;
    const skewMs = clockSkewSeconds * 1000;
    const exp = numericDate(claims, 'exp');
    if (exp === undefined) throw new JwtValidationError('the token has no exp claim');
    if (nowMs - skewMs >= exp * 1000) throw new JwtValidationError('the token expired');
    // Kafka's validator requires iat of a signed token (jose4j's setRequireIssuedAt); its unsecured
    // validator takes a token without one.
    const iat = numericDate(claims, 'iat');
    if (iat === undefined && !unsecured) throw new JwtValidationError('the token has no iat claim');
    if (iat !== undefined && iat * 1000 > nowMs + skewMs)
      throw new JwtValidationError('the token is issued in the future');
    if (iat !== undefined && exp <= iat)
      throw new JwtValidationError('the token expires before it is issued');
    const nbf = numericDate(claims, 'nbf');
    if (nbf !== undefined && nbf * 1000 > nowMs + skewMs)
      throw new JwtValidationError('the token is not valid yet');
    if (expectedIssuer !== undefined && claims.iss !== expectedIssuer)
      throw new JwtValidationError(`the issuer is not ${expectedIssuer}`);
    this.checkAudience(claims.aud, unsecured);
    const sub = claims[subClaimName];
    if (typeof sub !== 'string' || sub.trim() === '')
      throw new JwtValidationError(`the ${subClaimName} claim is not a non-empty string`);
    return { principalName: sub.trim(), expiresAtMs: Math.floor(exp * 1000) };
  }

  private checkAudience(aud: unknown, unsecured: boolean): void {
    const expected = this.options.expectedAudience ?? [];
    if (aud === undefined) {
      if (expected.length > 0) throw new JwtValidationError('the token has no aud claim');
      return;
    }
    const audiences = typeof aud === 'string' ? [aud] : aud;
    if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string'))
      throw new JwtValidationError('the aud claim is not a string or an array of strings');
    if (expected.length === 0) {
      // jose4j, under Kafka's validator, refuses a token addressed to audiences when none is expected
      // (RFC 7519: a recipient not named in aud MUST reject the token); the unsecured validator does not
      // look at aud.
      if (unsecured) return;
      throw new JwtValidationError('the token names audiences, but no expected audience is configured');
    }
    if (!audiences.some((a) => expected.includes(a)))
      throw new JwtValidationError(`the audience is not one of ${expected.join(', ')}`);
  }
}

const SEPARATOR = '\x01';
// Kafka's OAuthBearerClientInitialResponse: gs2-header (no channel binding), then key=value pairs each
// ended by \x01, then \x01. The auth pair is "Bearer <token>"; the others are SASL extensions.
const SASLNAME = '(?:[\\x01-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+';
const KVPAIR = `[A-Za-z]+=[\\x21-\\x7E \\t\\r\\n]+${SEPARATOR}`;
const CLIENT_INITIAL_RESPONSE = new RegExp(
  `^n,(?:a=(${SASLNAME}))?,${SEPARATOR}((?:${KVPAIR})*)${SEPARATOR}$`,
);
const AUTH = /^(\w+) +([-_.a-zA-Z0-9]+)$/;

/** The token and authzid of a client's initial response; undefined when it is malformed. */
export function parseClientInitialResponse(message: string): { authzid: string; token: string } | undefined {
  const m = CLIENT_INITIAL_RESPONSE.exec(message);
  if (!m) return undefined;
  const pairs = new Map<string, string>();
  for (const pair of m[2]!.split(SEPARATOR).slice(0, -1)) {
    const eq = pair.indexOf('=');
    pairs.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const auth = AUTH.exec(pairs.get('auth') ?? '');
  if (!auth || auth[1]!.toLowerCase() !== 'bearer') return undefined;
  // Other pairs are SASL extensions; Kafka's default validator accepts none and refuses none, as kch.
  return { authzid: m[1] ?? '', token: auth[2]! };
}

/** RFC 7628 section 3.2.2: the error the server sends instead of completing; the client answers \x01. */
const INVALID_TOKEN = '{"status":"invalid_token"}';

/**
 * One OAUTHBEARER exchange, as OAuthBearerSaslServer runs it: a valid token completes it at once; an
 * invalid one is answered with the error JSON, and the client's \x01 that follows fails the exchange
 * with that JSON as the message. Anything else after the error is taken as a new initial response.
 */
class OAuthBearerExchange implements SaslExchange {
  private errorMessage: string | undefined;
  /** Why the token was refused, for the broker's log (Kafka logs it too, never to the client). */
  private errorDetail: string | undefined;
  private done = false;

  constructor(private readonly validator: JwtValidator) {}

  async step(token: Buffer): Promise<SaslStep> {
    if (this.done) throw invalidCredentials('OAUTHBEARER');
    if (token.length === 1 && token[0] === 1 && this.errorMessage !== undefined) {
      this.done = true;
      throw new SaslAuthenticationError(this.errorMessage, undefined, this.errorDetail);
    }
    this.errorMessage = undefined;
    const initial = parseClientInitialResponse(token.toString('utf8'));
    if (!initial) {
      this.done = true;
      throw invalidCredentials('OAUTHBEARER');
    }
    let validated: ValidatedToken;
    try {
      validated = this.validator.validate(initial.token);
    } catch (e) {
      if (!(e instanceof JwtValidationError)) throw e;
      this.errorMessage = INVALID_TOKEN;
      this.errorDetail = e.message;
      return { response: Buffer.from(INVALID_TOKEN) };
    }
    this.done = true;
    if (initial.authzid !== '' && initial.authzid !== validated.principalName) {
      throw new SaslAuthenticationError(
        `Authentication failed: Client requested an authorization id (${initial.authzid}) that is different from the token's principal name (${validated.principalName})`,
      );
    }
    return {
      response: Buffer.alloc(0),
      principal: userPrincipal(validated.principalName),
      expiresAtMs: validated.expiresAtMs,
    };
  }
}

export class OAuthBearerMechanism implements SaslMechanism {
  readonly name = 'OAUTHBEARER';
  private readonly validator: JwtValidator;

  /** Throws when the options give no usable key (a configuration error, best found at start). */
  constructor(options: OAuthBearerOptions) {
    this.validator = new JwtValidator(options);
  }

  start(): SaslExchange {
    return new OAuthBearerExchange(this.validator);
  }
}
