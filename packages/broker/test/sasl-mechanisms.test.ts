/**
 * The SASL server mechanisms (security/sasl): SCRAM against the RFC examples and kafkajs's client,
 * PLAIN against configured users and stored SCRAM credentials, OAUTHBEARER with JWTs signed here.
 */
import {
  constants,
  createHash,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  pbkdf2Sync,
  sign,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySecurityStore } from '@kch/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthBearerOptions } from '../src/security/options.js';
import {
  createMechanism,
  SaslAuthenticationError,
  type SaslExchange,
} from '../src/security/sasl/mechanism.js';
import { JwtValidationError, JwtValidator } from '../src/security/sasl/oauthbearer.js';
import {
  SCRAM_HASHES,
  type ScramHash,
  type ScramKeys,
  ScramServerExchange,
  scramCredential,
  scramCredentialFromSaltedPassword,
  scramKeys,
} from '../src/security/sasl/scram.js';
import { kafkajsAuthenticate } from './helpers/sasl-client.js';

const GENERIC = (mechanism: string) =>
  `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;

/** The error a step rejects with. */
async function refusal(exchange: SaslExchange, token: string | Buffer): Promise<SaslAuthenticationError> {
  const e = await exchange.step(Buffer.from(token)).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SaslAuthenticationError);
  return e as SaslAuthenticationError;
}

/** An exchange over one fixed credential, with the server nonce fixed as in the RFC examples. */
function rfcExchange(
  hash: ScramHash,
  password: string,
  salt: string,
  serverNonce: string,
): ScramServerExchange {
  const saltBytes = Buffer.from(salt, 'base64');
  const salted = pbkdf2Sync(password, saltBytes, 4096, hash.length, hash.digest);
  const credential: ScramKeys = { salt: saltBytes, iterations: 4096, ...scramKeys(salted, hash) };
  return new ScramServerExchange({
    name: 'SCRAM-TEST',
    hash,
    lookup: async (user) => (user === 'user' ? credential : undefined),
    serverNonce: () => serverNonce,
  });
}

/** The examples' messages: the client's two and the server's two, byte for byte. */
const RFC_EXAMPLES = [
  {
    example: 'RFC 7677 section 3 (SCRAM-SHA-256)',
    hash: SCRAM_HASHES['SCRAM-SHA-256'],
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal:
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
  {
    // SCRAM-SHA-1, which Kafka does not offer: the same exchange over another hash.
    example: 'RFC 5802 section 5 (SCRAM-SHA-1)',
    hash: { digest: 'sha1', length: 20 },
    salt: 'QSXCR+Q6sek8bf92',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
];

describe('SCRAM: the RFC examples', () => {
  it.each(RFC_EXAMPLES)('$example: user "user", password "pencil"', async (x) => {
    const exchange = rfcExchange(x.hash, 'pencil', x.salt, x.serverNonce);
    const first = await exchange.step(Buffer.from(x.clientFirst));
    expect(first.response.toString()).toBe(x.serverFirst);
    expect(first.principal).toBeUndefined();
    const final = await exchange.step(Buffer.from(x.clientFinal));
    expect(final.response.toString()).toBe(x.serverFinal);
    expect(final.principal).toBe('User:user');
  });

  it('a wrong proof in the RFC exchange is refused with e=invalid-proof', async () => {
    const exchange = rfcExchange(SCRAM_HASHES['SCRAM-SHA-256'], 'pencil', 'W22ZaJ0SNY7soEsUEjb6gQ==', 'xyz');
    await exchange.step(Buffer.from('n,,n=user,r=abc'));
    const e = await refusal(exchange, `c=biws,r=abcxyz,p=${Buffer.alloc(32, 7).toString('base64')}`);
    expect(e.message).toBe(GENERIC('SCRAM-TEST'));
    expect(e.response.toString()).toBe('e=invalid-proof');
  });
});

describe('SCRAM credentials', () => {
  it('scramCredential derives what the salted-password form derives, with a 32-byte random salt by default', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const made = await scramCredential('user', 'SCRAM-SHA-256', 'pencil', 4096, salt);
    const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256');
    expect(made).toEqual(scramCredentialFromSaltedPassword('user', 'SCRAM-SHA-256', salt, salted, 4096));
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    expect(made.storedKey).toEqual(createHash('sha256').update(clientKey).digest());
    expect(made.serverKey).toEqual(createHmac('sha256', salted).update('Server Key').digest());
    const random = await scramCredential('user', 'SCRAM-SHA-512', 'pencil', 4096);
    expect(random.salt).toHaveLength(32);
    expect(random.storedKey).toHaveLength(64);
  });
});

/** A minimal SCRAM client, for messages kafkajs would never send. */
class RawScramClient {
  readonly nonce = 'clientnonce123';
  serverFirst = '';
  constructor(
    readonly hash: ScramHash,
    readonly user: string,
    readonly password: string,
  ) {}
  first(gs2 = 'n,,', extensions = ''): string {
    return `${gs2}n=${this.user},r=${this.nonce}${extensions}`;
  }
  final(options: { channel?: string; nonce?: string } = {}): string {
    const fields = Object.fromEntries(this.serverFirst.split(',').map((f) => [f[0], f.slice(2)]));
    const salted = pbkdf2Sync(
      this.password,
      Buffer.from(fields.s!, 'base64'),
      Number(fields.i),
      this.hash.length,
      this.hash.digest,
    );
    const withoutProof = `c=${options.channel ?? 'biws'},r=${options.nonce ?? fields.r}`;
    const authMessage = `n=${this.user},r=${this.nonce},${this.serverFirst},${withoutProof}`;
    const clientKey = createHmac(this.hash.digest, salted).update('Client Key').digest();
    const storedKey = createHash(this.hash.digest).update(clientKey).digest();
    const signature = createHmac(this.hash.digest, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    return `${withoutProof},p=${proof.toString('base64')}`;
  }
}

describe.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)('%s', (name) => {
  const store = new MemorySecurityStore();
  const mechanism = createMechanism(name, { plainUsers: {}, store });
  beforeAll(async () => {
    await store.putScramCredential(await scramCredential('alice', name, 'alice-secret', 4096));
    await store.putScramCredential(await scramCredential('odd,name=x', name, 'odd-secret', 8192));
    await store.putScramCredential({
      ...(await scramCredential('weak', name, 'weak-secret', 4096)),
      iterations: 1000,
    });
  });

  async function raw(user: string, password: string, gs2?: string, extensions?: string) {
    const client = new RawScramClient(SCRAM_HASHES[name], user, password);
    const exchange = mechanism.start();
    client.serverFirst = (
      await exchange.step(Buffer.from(client.first(gs2, extensions)))
    ).response.toString();
    return { client, exchange };
  }

  it('kafkajs authenticates, and checks the server-final signature itself', async () => {
    const outcome = await kafkajsAuthenticate(mechanism, { username: 'alice', password: 'alice-secret' });
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.principal).toBe('User:alice');
    expect(outcome.sent[0]!.toString()).toMatch(/^n,,n=alice,r=/);
  });

  it('a user name with "," and "=" (sent as =2C and =3D) and its own iteration count', async () => {
    const outcome = await kafkajsAuthenticate(mechanism, { username: 'odd,name=x', password: 'odd-secret' });
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.principal).toBe('User:odd,name=x');
  });

  it('a wrong password and an unknown user are refused alike, at the proof', async () => {
    const wrong = await kafkajsAuthenticate(mechanism, { username: 'alice', password: 'guess' });
    const unknown = await kafkajsAuthenticate(mechanism, { username: 'mallory', password: 'guess' });
    for (const outcome of [wrong, unknown]) {
      expect(outcome.clientError).toBeDefined();
      expect(outcome.principal).toBeUndefined();
      // Both got a server-first and sent a client-final: the refusal came at the second step.
      expect(outcome.sent).toHaveLength(2);
      expect(outcome.serverError!.message).toBe(GENERIC(name));
      expect(outcome.serverError!.response.toString()).toBe('e=invalid-proof');
    }
  });

  it("an unknown user's server-first looks like a real one and stays the same across attempts", async () => {
    const shape = (serverFirst: string) => {
      const [, salt, iterations] = /^r=clientnonce123[A-Za-z0-9_-]+,s=([^,]+),i=(\d+)$/.exec(serverFirst)!;
      return { saltLength: Buffer.from(salt!, 'base64').length, iterations, salt };
    };
    const real = shape((await raw('alice', 'x')).client.serverFirst);
    const fake1 = shape((await raw('mallory', 'x')).client.serverFirst);
    const fake2 = shape((await raw('mallory', 'y')).client.serverFirst);
    const other = shape((await raw('trudy', 'x')).client.serverFirst);
    expect(fake1).toMatchObject({ saltLength: real.saltLength, iterations: real.iterations });
    expect(fake2.salt).toBe(fake1.salt);
    expect(other.salt).not.toBe(fake1.salt);
  });

  it('the raw client with the right password completes; each step after the end is refused', async () => {
    const { client, exchange } = await raw('alice', 'alice-secret');
    const final = await exchange.step(Buffer.from(client.final()));
    expect(final.principal).toBe('User:alice');
    expect(final.response.toString()).toMatch(/^v=/);
    expect((await refusal(exchange, client.final())).message).toBe(GENERIC(name));
  });

  it('channel binding, nonce and encoding of the client-final are checked (RFC 5802 e= values)', async () => {
    const cases: [Parameters<RawScramClient['final']>[0] | string, string][] = [
      [{ channel: Buffer.from('y,,').toString('base64') }, 'e=channel-bindings-dont-match'],
      [{ nonce: 'clientnonce123forged' }, 'e=other-error'],
      ['c=biws,r=x', 'e=invalid-encoding'],
    ];
    for (const [change, expected] of cases) {
      const { client, exchange } = await raw('alice', 'alice-secret');
      const e = await refusal(exchange, typeof change === 'string' ? change : client.final(change));
      expect(e.message).toBe(GENERIC(name));
      expect(e.response.toString()).toBe(expected);
    }
  });

  it("accepts librdkafka's client-final nonce (its own nonce before the combined one), as Kafka does", async () => {
    const { client, exchange } = await raw('alice', 'alice-secret');
    const combined = /^r=([^,]+)/.exec(client.serverFirst)![1]!;
    const done = await exchange.step(Buffer.from(client.final({ nonce: `${client.nonce}${combined}` })));
    expect(done.principal).toBe('User:alice');
  });

  it('an authzid must be the user itself; the gs2-header it sends is what c= carries', async () => {
    const same = await raw('alice', 'alice-secret', 'n,a=alice,');
    const done = await same.exchange.step(
      Buffer.from(same.client.final({ channel: Buffer.from('n,a=alice,').toString('base64') })),
    );
    expect(done.principal).toBe('User:alice');
    for (const user of ['alice', 'mallory']) {
      const e = await refusal(mechanism.start(), `n,a=bob,n=${user},r=abc`);
      expect(e.message).toBe(
        'Authentication failed: Client requested an authorization id that is different from username',
      );
    }
  });

  it('refuses client-firsts Kafka refuses: channel binding, m=, delegation tokens, bad syntax', async () => {
    for (const first of [
      'y,,n=alice,r=abc',
      'p=tls-unique,,n=alice,r=abc',
      'n,,m=ext,n=alice,r=abc',
      'n,,n=alice,r=abc,tokenauth=true',
      'n,,n=alice',
      'n,,n=al=ice,r=abc',
      '',
    ]) {
      expect((await refusal(mechanism.start(), first)).message).toBe(GENERIC(name));
    }
    // Other extensions are ignored, as by Kafka.
    const { client, exchange } = await raw('alice', 'alice-secret', 'n,,', ',foo=bar');
    expect(client.serverFirst).toMatch(/^r=clientnonce123/);
    await expect(exchange.step(Buffer.from(client.final()))).rejects.toThrow(SaslAuthenticationError);
  });

  it('a stored credential with fewer than 4096 iterations is refused', async () => {
    expect((await refusal(mechanism.start(), 'n,,n=weak,r=abc')).message).toBe(GENERIC(name));
  });
});

describe('PLAIN', () => {
  const store = new MemorySecurityStore();
  const plain = createMechanism('PLAIN', {
    plainUsers: { admin: 'admin-secret', both: 'config-wins' },
    store,
  });
  beforeAll(async () => {
    await store.putScramCredential(await scramCredential('scram256', 'SCRAM-SHA-256', 's256', 4096));
    await store.putScramCredential(await scramCredential('scram512', 'SCRAM-SHA-512', 's512', 8192));
    await store.putScramCredential(await scramCredential('both', 'SCRAM-SHA-256', 'stored', 4096));
  });
  const login = async (username: string, password: string) =>
    kafkajsAuthenticate(plain, { username, password });
  const INVALID = 'Authentication failed: Invalid username or password';

  it('authenticates configured users and users with a stored SCRAM credential (either mechanism)', async () => {
    for (const [user, password] of [
      ['admin', 'admin-secret'],
      ['scram256', 's256'],
      ['scram512', 's512'],
      ['both', 'config-wins'],
    ] as const) {
      const outcome = await login(user, password);
      expect(outcome.clientError).toBeUndefined();
      expect(outcome.principal).toBe(`User:${user}`);
    }
  });

  it('a wrong password and an unknown user get the same message', async () => {
    for (const [user, password] of [
      ['admin', 'admin-secre'],
      ['scram256', 'wrong'],
      ['both', 'stored'], // the configuration decides for a user it has
      ['mallory', 'x'],
      ['constructor', 'x'],
    ]) {
      expect((await login(user!, password!)).serverError?.message).toBe(INVALID);
    }
  });

  it('authzid, empty fields and extra NULs as Kafka splits them', async () => {
    const step = (text: string) => plain.start().step(Buffer.from(text));
    await expect(step('admin\0admin\0admin-secret')).resolves.toMatchObject({ principal: 'User:admin' });
    expect((await refusal(plain.start(), 'root\0admin\0admin-secret')).message).toBe(
      'Authentication failed: Client requested an authorization id that is different from username',
    );
    // Kafka keeps at most three parts: what follows a third NUL is dropped.
    await expect(step('\0admin\0admin-secret\0trailing')).resolves.toMatchObject({ principal: 'User:admin' });
    for (const bad of ['\0\0admin-secret', '\0admin\0', '\0admin', 'admin', '']) {
      expect((await refusal(plain.start(), bad)).message).toBe(GENERIC('PLAIN'));
    }
  });

  it('is one message: a second token is refused', async () => {
    const exchange = plain.start();
    await exchange.step(Buffer.from('\0admin\0admin-secret'));
    expect((await refusal(exchange, '\0admin\0admin-secret')).message).toBe(GENERIC('PLAIN'));
  });
});

// ---- OAUTHBEARER -------------------------------------------------------------------------------------

const b64url = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

interface Signer {
  alg: string;
  kid?: string;
  key: KeyObject;
}

function jwt(
  signer: Signer | 'none',
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const alg = signer === 'none' ? 'none' : signer.alg;
  const kid = signer === 'none' ? undefined : signer.kid;
  const signed = `${b64url({ alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header })}.${b64url(claims)}`;
  if (signer === 'none') return `${signed}.`;
  const digest = `sha${alg.slice(2)}`;
  const options = alg.startsWith('ES')
    ? { key: signer.key, dsaEncoding: 'ieee-p1363' as const }
    : alg.startsWith('PS')
      ? {
          key: signer.key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }
      : { key: signer.key };
  return `${signed}.${sign(digest, Buffer.from(signed), options).toString('base64url')}`;
}

const initialResponse = (token: string, authzid = '') =>
  `n,${authzid ? `a=${authzid}` : ''},\x01auth=Bearer ${token}\x01\x01`;

describe('OAUTHBEARER', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const RS256: Signer = { alg: 'RS256', kid: 'rsa-1', key: rsa.privateKey };
  const ES256: Signer = { alg: 'ES256', kid: 'ec-1', key: ec.privateKey };
  let dir: string;
  let options: OAuthBearerOptions;
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'alice', iss: 'https://issuer.test', aud: 'kch', iat: now - 10, exp: now + 600 };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kch-oauth-'));
    const jwk = (k: KeyObject, extra: object) => ({ ...k.export({ format: 'jwk' }), ...extra });
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({
        keys: [
          jwk(rsa.publicKey, { kid: 'rsa-1', use: 'sig', alg: 'RS256' }),
          jwk(ec.publicKey, { kid: 'ec-1', use: 'sig' }),
          jwk(ec384.publicKey, { kid: 'ec-2' }),
          jwk(small.publicKey, { kid: 'small' }),
          jwk(other.publicKey, { kid: 'enc', use: 'enc' }),
          { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
        ],
      }),
    );
    writeFileSync(join(dir, 'key.pem'), other.publicKey.export({ format: 'pem', type: 'spki' }));
    options = {
      jwksFile: join(dir, 'jwks.json'),
      expectedIssuer: 'https://issuer.test',
      expectedAudience: ['other', 'kch'],
      subClaimName: 'sub',
      clockSkewSeconds: 30,
      allowUnsecured: false,
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const oauthBearer = (o: Partial<OAuthBearerOptions> = {}) =>
    createMechanism('OAUTHBEARER', {
      plainUsers: {},
      store: new MemorySecurityStore(),
      oauthBearer: { ...options, ...o },
    });
  const reason = (token: string, o: Partial<OAuthBearerOptions> = {}): string => {
    try {
      new JwtValidator({ ...options, ...o }).validate(token);
    } catch (e) {
      expect(e).toBeInstanceOf(JwtValidationError);
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('RS256 and ES256 tokens verified with the JWKS complete the exchange; the session ends at exp', async () => {
    const mechanism = oauthBearer();
    for (const signer of [RS256, ES256, { alg: 'ES384', kid: 'ec-2', key: ec384.privateKey }]) {
      const step = await mechanism.start().step(Buffer.from(initialResponse(jwt(signer, claims))));
      expect(step).toEqual({
        response: Buffer.alloc(0),
        principal: 'User:alice',
        expiresAtMs: claims.exp * 1000,
      });
    }
  });

  it("kafkajs's OAUTHBEARER client authenticates with a token", async () => {
    const mechanism = oauthBearer();
    const token = jwt(RS256, claims);
    const outcome = await kafkajsAuthenticate(mechanism, {
      oauthBearerProvider: async () => ({ value: token, extensions: { traceId: 'abc' } }),
    });
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.principal).toBe('User:alice');
    expect(outcome.sent[0]!.toString()).toBe(`n,,\x01auth=Bearer ${token}\x01traceId=abc\x01\x01`);
  });

  it("a refused token gets the RFC 7628 error, and the client's \\x01 then fails the exchange with it", async () => {
    const mechanism = oauthBearer();
    const exchange = mechanism.start();
    const first = await exchange.step(Buffer.from(initialResponse(jwt(RS256, { ...claims, exp: now - 60 }))));
    expect(first.response.toString()).toBe('{"status":"invalid_token"}');
    expect(first.principal).toBeUndefined();
    expect((await refusal(exchange, '\x01')).message).toBe('{"status":"invalid_token"}');
    expect((await refusal(exchange, '\x01')).message).toBe(GENERIC('OAUTHBEARER'));
  });

  it('says why a token is refused', () => {
    const tampered = jwt(RS256, claims).split('.');
    tampered[1] = b64url({ ...claims, sub: 'admin' });
    expect(reason(jwt(RS256, claims))).toBe('accepted');
    expect(reason(jwt(RS256, { ...claims, exp: now - 31 }))).toBe('the token expired');
    expect(reason(jwt(RS256, { ...claims, iat: now - 100, exp: now - 20 }))).toBe('accepted'); // within the clock skew
    expect(reason(jwt(RS256, { ...claims, exp: undefined }))).toBe('the token has no exp claim');
    expect(reason(jwt(RS256, { ...claims, iat: undefined }))).toBe('the token has no iat claim');
    expect(reason(jwt(RS256, { ...claims, iat: now + 300 }))).toBe('the token is issued in the future');
    expect(reason(jwt(RS256, { ...claims, nbf: now + 300 }))).toBe('the token is not valid yet');
    expect(reason(jwt(RS256, { ...claims, iss: 'https://evil.test' }))).toBe(
      'the issuer is not https://issuer.test',
    );
    expect(reason(jwt(RS256, { ...claims, aud: ['else'] }))).toBe('the audience is not one of other, kch');
    expect(reason(jwt(RS256, { ...claims, aud: undefined }))).toBe('the token has no aud claim');
    expect(reason(jwt(RS256, claims), { expectedAudience: undefined })).toBe(
      'the token names audiences, but no expected audience is configured',
    );
    expect(reason(jwt(RS256, { ...claims, sub: ' ' }))).toBe('the sub claim is not a non-empty string');
    expect(reason(jwt(RS256, { ...claims, user: 'bob' }), { subClaimName: 'user' })).toBe('accepted');
    expect(reason(tampered.join('.'))).toBe('the signature does not verify with any configured key');
    expect(reason(jwt({ ...RS256, kid: 'nope' }, claims))).toBe('no configured key matches kid nope');
    expect(reason(jwt({ ...ES256, alg: 'ES384' }, claims))).toBe(
      'the signature does not verify with any configured key',
    );
    expect(reason(jwt({ alg: 'RS256', kid: 'small', key: small.privateKey }, claims))).toBe(
      'the signature does not verify with any configured key',
    );
    expect(reason(jwt({ alg: 'RS256', kid: 'enc', key: other.privateKey }, claims))).toBe(
      'no configured key matches kid enc',
    );
    expect(
      reason(jwt({ alg: 'HS256', key: rsa.privateKey } as never, claims).replace(/\.[^.]*$/, '.c2ln')),
    ).toBe('algorithm HS256 is not accepted');
    expect(reason(jwt(RS256, claims, { crit: ['exp'] }))).toBe('the header has critical extensions');
    expect(reason('abc.def')).toBe('a JWT has three parts separated by "."');
  });

  it('a PEM public key (file or text) verifies PS256 and RS256 tokens, with or without a kid', () => {
    const pem = other.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    for (const publicKey of [join(dir, 'key.pem'), pem]) {
      const o = { jwksFile: undefined, publicKey };
      expect(reason(jwt({ alg: 'PS256', key: other.privateKey }, claims), o)).toBe('accepted');
      expect(reason(jwt({ alg: 'RS512', kid: 'k', key: other.privateKey }, claims), o)).toBe('accepted');
      expect(reason(jwt(RS256, claims), o)).toBe('the signature does not verify with any configured key');
    }
  });

  it('unsecured tokens: refused unless allowed; then exp is required and iat optional, as Kafka', () => {
    const unsigned = jwt('none', { sub: 'dev', exp: now + 60 });
    expect(reason(unsigned)).toBe('unsecured tokens (alg "none") are refused');
    const dev = { allowUnsecured: true, expectedIssuer: undefined, expectedAudience: undefined };
    expect(reason(unsigned, dev)).toBe('accepted');
    expect(reason(jwt('none', { sub: 'dev', aud: 'x', exp: now + 60 }), dev)).toBe('accepted');
    expect(reason(jwt('none', { sub: 'dev' }), dev)).toBe('the token has no exp claim');
    expect(reason(`${unsigned}c2ln`, dev)).toBe('an unsecured token has an empty signature');
    // Allowing unsecured tokens does not stop signed ones from being verified.
    expect(reason(jwt(RS256, claims), { allowUnsecured: true })).toBe('accepted');
    const mechanism = oauthBearer({ ...dev, jwksFile: undefined });
    return expect(mechanism.start().step(Buffer.from(initialResponse(unsigned)))).resolves.toMatchObject({
      principal: 'User:dev',
    });
  });

  it('an authzid must be the principal; malformed initial responses get the generic refusal', async () => {
    const mechanism = oauthBearer();
    const token = jwt(RS256, claims);
    await expect(mechanism.start().step(Buffer.from(initialResponse(token, 'alice')))).resolves.toMatchObject(
      {
        principal: 'User:alice',
      },
    );
    expect((await refusal(mechanism.start(), initialResponse(token, 'bob'))).message).toBe(
      "Authentication failed: Client requested an authorization id (bob) that is different from the token's principal name (alice)",
    );
    for (const bad of [
      `n,,\x01auth=Basic ${token}\x01\x01`,
      `n,,\x01auth=Bearer ${token}\x01`,
      `y,,\x01auth=Bearer ${token}\x01\x01`,
      `n,,\x01\x01`,
      '\x01',
    ]) {
      expect((await refusal(mechanism.start(), bad)).message).toBe(GENERIC('OAUTHBEARER'));
    }
  });

  it('a configuration without a usable key is an error when the mechanism is made', () => {
    const store = new MemorySecurityStore();
    expect(() => createMechanism('OAUTHBEARER', { plainUsers: {}, store })).toThrow(
      /OAUTHBEARER is enabled but not configured/,
    );
    expect(() => oauthBearer({ jwksFile: join(dir, 'missing.json') })).toThrow(/cannot read/);
    expect(() => oauthBearer({ jwksFile: undefined })).toThrow(/needs a key/);
    const badPem = '-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----';
    expect(() => oauthBearer({ jwksFile: undefined, publicKey: badPem })).toThrow(/not a PEM public key/);
  });
});
