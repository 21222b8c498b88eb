/**
 * The security part of the broker's options: listeners with their security protocols, TLS, SASL and
 * the authorizer, in Kafka's terms (server.properties maps onto these, ./server-properties.ts).
 * With none of it given, the broker has one PLAINTEXT listener and no authorizer, as before.
 */
import { z } from 'zod';

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

/**
 * TLS of a listener (Kafka's ssl.keystore.* / ssl.truststore.* / ssl.client.auth). Each PEM value is a
 * file path, or the PEM text itself (KIP-651); files are read again when they change, so a renewed
 * certificate is taken without a restart.
 */
export const tlsOptionsSchema = z.object({
  /** The certificate chain (PEM): a file path or the PEM text. */
  cert: z.string().min(1),
  /** The private key (PEM): a file path or the PEM text. */
  key: z.string().min(1),
  /** The key's password when it is encrypted (ssl.key.password). */
  keyPassword: z.string().optional(),
  /** Certificates of the authorities trusted to sign client certificates (PEM): file path or text. */
  ca: z.string().min(1).optional(),
  /** Whether clients must present a certificate (ssl.client.auth). */
  clientAuth: z.enum(['none', 'requested', 'required']).default('none'),
  /**
   * Rules mapping a client certificate's subject to a principal name (ssl.principal.mapping.rules):
   * `RULE:pattern/replacement/[LU]` entries and `DEFAULT`, as Kafka applies them.
   */
  principalMappingRules: z.string().default('DEFAULT'),
});
export type TlsOptions = z.output<typeof tlsOptionsSchema>;

/** One listener (an entry of Kafka's `listeners`, with its `advertised.listeners` entry). */
export const listenerSchema = z.object({
  /** The listener name (Kafka's, e.g. PLAINTEXT, INTERNAL, EXTERNAL). */
  name: z.string().regex(/^[A-Za-z0-9_]+$/, 'a listener name is letters, digits and _'),
  /** Address to bind; '0.0.0.0' or '::' for every interface. */
  host: z.string().default('127.0.0.1'),
  /** Port to bind; 0 picks a free one. */
  port: z.number().int().min(0).max(65535),
  securityProtocol: z.enum(SECURITY_PROTOCOLS).default('PLAINTEXT'),
  /** What Metadata tells clients that came in on this listener; default: the bound address. */
  advertisedHost: z.string().min(1).optional(),
  advertisedPort: z.number().int().min(1).max(65535).optional(),
  /** Needed for SSL and SASL_SSL. */
  tls: tlsOptionsSchema.optional(),
  /** SASL mechanisms of this listener; default: the broker's `sasl.enabledMechanisms`. */
  saslMechanisms: z.array(z.enum(SASL_MECHANISMS)).optional(),
  /** PLAIN users of this listener (user → password); default: the broker's `sasl.plainUsers`. */
  plainUsers: z.record(z.string(), z.string()).optional(),
});
export type ListenerOptions = z.output<typeof listenerSchema>;

/** OAUTHBEARER token validation (KIP-768's broker side): signed JWTs only, unless told otherwise. */
export const oauthBearerSchema = z.object({
  /** A JWKS file (a JSON Web Key Set), as the issuer publishes it. */
  jwksFile: z.string().min(1).optional(),
  /** Or one public key (PEM: a file path or the text) that signs the tokens. */
  publicKey: z.string().min(1).optional(),
  /** The `iss` a token must carry, when set. */
  expectedIssuer: z.string().optional(),
  /** One of these must be in the token's `aud`, when set. */
  expectedAudience: z.array(z.string()).optional(),
  /** The claim that names the principal (sasl.oauthbearer.sub.claim.name). */
  subClaimName: z.string().default('sub'),
  /** Seconds of clock difference allowed (sasl.oauthbearer.clock.skew.seconds). */
  clockSkewSeconds: z.number().int().min(0).default(30),
  /** Accept unsigned tokens (alg "none"), as Kafka's unsecured login module: for development only. */
  allowUnsecured: z.boolean().default(false),
});
export type OAuthBearerOptions = z.output<typeof oauthBearerSchema>;

export const saslOptionsSchema = z.object({
  /** Mechanisms offered on SASL listeners (sasl.enabled.mechanisms). */
  enabledMechanisms: z
    .array(z.enum(SASL_MECHANISMS))
    .min(1)
    .default(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
  /** PLAIN users from the configuration (user → password), as PlainLoginModule's `user_<name>` entries. */
  plainUsers: z.record(z.string(), z.string()).default({}),
  oauthBearer: oauthBearerSchema.optional(),
});
export type SaslOptions = z.output<typeof saslOptionsSchema>;

export const authorizerOptionsSchema = z.object({
  /** Principals allowed everything (super.users), e.g. `User:admin`. */
  superUsers: z
    .array(z.string().regex(/^[^:]+:.+$/, 'a principal is <type>:<name>, e.g. User:admin'))
    .default([]),
  /** Allow an action on a resource no ACL names (allow.everyone.if.no.acl.found). */
  allowEveryoneIfNoAclFound: z.boolean().default(false),
});
export type AuthorizerOptions = z.output<typeof authorizerOptionsSchema>;

export const securityOptionsSchema = z.object({
  /** Listeners to open on `listen()`; default: one PLAINTEXT listener where `listen` is told. */
  listeners: z.array(listenerSchema).default([]),
  sasl: saslOptionsSchema.default({
    enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
    plainUsers: {},
  }),
  /** Checks ACLs when set (Kafka's authorizer.class.name); without it every client may do everything. */
  authorizer: authorizerOptionsSchema.optional(),
  /** Longest an authenticated session lasts before the client must re-authenticate (0: forever). */
  connectionsMaxReauthMs: z.number().int().min(0).default(0),
  /** Delay before answering a failed authentication (connection.failed.authentication.delay.ms). */
  connectionFailedAuthenticationDelayMs: z.number().int().min(0).default(100),
});
export type SecurityOptions = z.output<typeof securityOptionsSchema>;
