/**
 * SASL from Kafka's properties: the mechanisms (sasl.enabled.mechanisms, broker-wide or per listener),
 * the JAAS config of each listener and mechanism (listener.name.<listener>.<mechanism>.sasl.jaas.config,
 * both names in lower case, as Kafka's JaasContext.loadServerContext looks them up), PLAIN users as
 * PlainLoginModule's `user_<name>="<password>"` options, and OAUTHBEARER's token validation.
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import {
  type oauthBearerSchema,
  SASL_MECHANISMS,
  type SaslMechanismName,
  type SecurityProtocol,
  saslOptionsSchema,
} from '../security/options.js';
import { type JaasEntry, parseJaasConfig } from './jaas.js';
import { csvList, listenerPrefix, type Prop, type PropertyReader } from './reader.js';

/** The login module each mechanism's JAAS entry names on a Kafka broker. */
const LOGIN_MODULES: Record<SaslMechanismName, string> = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  OAUTHBEARER: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule',
};

/** Kafka's own server callback handlers, which kch stands in for; any other class is custom code. */
const CALLBACK_HANDLERS: Record<SaslMechanismName, readonly string[]> = {
  PLAIN: ['org.apache.kafka.common.security.plain.internals.PlainServerCallbackHandler'],
  'SCRAM-SHA-256': ['org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler'],
  'SCRAM-SHA-512': ['org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler'],
  OAUTHBEARER: [],
};
/** KIP-768's validator of signed JWTs (its name since Kafka 3.7, and before). */
const OAUTH_SECURED = [
  'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
  'org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler',
];
/** Kafka's default OAUTHBEARER validator: unsigned tokens, for development. */
const OAUTH_UNSECURED =
  'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler';

/** kch's mechanisms when sasl.enabled.mechanisms is not given (Kafka's default, GSSAPI, kch lacks). */
const DEFAULT_MECHANISMS: readonly SaslMechanismName[] =
  saslOptionsSchema.shape.enabledMechanisms.parse(undefined);

export interface ListenerSasl {
  saslMechanisms?: SaslMechanismName[];
  plainUsers?: Record<string, string>;
}

type OAuthBearerInput = z.input<typeof oauthBearerSchema>;

export interface SaslResult {
  sasl: z.input<typeof saslOptionsSchema>;
  listeners: Map<string, ListenerSasl>;
}

function mechanisms(reader: PropertyReader, prop: Prop | undefined): SaslMechanismName[] | undefined {
  if (!prop) return undefined;
  const out: SaslMechanismName[] = [];
  for (const m of csvList(prop.value)) {
    if (m === 'GSSAPI') {
      reader.error(
        `${prop.name}: GSSAPI (Kerberos) is not supported by kch; enable ${SASL_MECHANISMS.join(', ')} instead`,
      );
    } else if ((SASL_MECHANISMS as readonly string[]).includes(m)) {
      out.push(m as SaslMechanismName);
    } else {
      reader.error(`${prop.name}: unknown SASL mechanism ${m}; kch supports ${SASL_MECHANISMS.join(', ')}`);
    }
  }
  if (out.length === 0 && csvList(prop.value).length === 0)
    reader.error(`${prop.name}: at least one SASL mechanism is needed`);
  return out;
}

/** The JAAS entry of one mechanism on one listener, and where it came from. */
function jaasEntry(
  reader: PropertyReader,
  listener: string,
  mechanism: SaslMechanismName,
  brokerWide: () => JaasEntry[] | undefined,
): { entry: JaasEntry; prop: Prop; broker: boolean } | undefined {
  const module = LOGIN_MODULES[mechanism];
  const own = reader.get(`${listenerPrefix(listener)}${mechanism.toLowerCase()}.sasl.jaas.config`);
  if (own) {
    const entries = parse(reader, own);
    if (!entries) return undefined;
    // Kafka's JaasContext.load: a JAAS config property holds exactly one login module.
    if (entries.length !== 1) {
      reader.error(
        `${own.name}: JAAS config property contains ${entries.length} login modules, should be 1 module`,
      );
      return undefined;
    }
    if (entries[0]!.loginModule !== module) {
      reader.error(`${own.name}: ${mechanism} takes ${module}, not ${entries[0]!.loginModule}`);
      return undefined;
    }
    return { entry: entries[0]!, prop: own, broker: false };
  }
  // The broker-wide sasl.jaas.config, which a Kafka broker ignores with a warning: kch takes it for the
  // listeners and mechanisms without their own, each mechanism its module's entry.
  const entry = brokerWide()?.find((e) => e.loginModule === module);
  if (!entry) return undefined;
  return { entry, prop: reader.get('sasl.jaas.config')!, broker: true };
}

/** A JAAS value's entries, or undefined after recording Kafka's message. */
function parse(reader: PropertyReader, prop: Prop): JaasEntry[] | undefined {
  try {
    return parseJaasConfig(prop.value);
  } catch (e) {
    reader.error(`${prop.name}: ${(e as Error).message}`);
    return undefined;
  }
}

/** `user_<name>` options: PlainLoginModule's users and their passwords on the broker. */
function plainUsers(entry: JaasEntry): Record<string, string> {
  const users: Record<string, string> = {};
  for (const [option, value] of Object.entries(entry.options))
    if (option.startsWith('user_') && option.length > 5) users[option.slice(5)] = value;
  return users;
}

/**
 * A custom server callback handler is Java code kch cannot run; Kafka's own handlers are what kch
 * does anyway. Returns the class named, if any.
 */
function callbackHandler(
  reader: PropertyReader,
  listener: string,
  mechanism: SaslMechanismName,
): Prop | undefined {
  const prop = reader.get(
    `${listenerPrefix(listener)}${mechanism.toLowerCase()}.sasl.server.callback.handler.class`,
  );
  if (!prop) return undefined;
  const known = [
    ...CALLBACK_HANDLERS[mechanism],
    ...(mechanism === 'OAUTHBEARER' ? [...OAUTH_SECURED, OAUTH_UNSECURED] : []),
  ];
  if (!known.includes(prop.value.trim()))
    reader.error(
      `${prop.name}: kch cannot load the Java class ${prop.value.trim()}; it checks ${mechanism} itself`,
    );
  return prop;
}

/**
 * OAUTHBEARER validation of one listener. Kafka validates unsigned tokens unless the listener's
 * callback handler is KIP-768's validator; kch validates signed tokens whenever a JWKS is configured
 * (a JWKS without the validator class is a slip that would let unsigned tokens in), unsigned ones
 * when the listener's handler or JAAS options say so (`unsecuredLoginStringClaim_sub`,
 * `unsecuredValidator*`), and refuses to guess otherwise.
 */
function oauthBearer(
  reader: PropertyReader,
  listener: string,
  entry: JaasEntry | undefined,
): OAuthBearerInput | undefined {
  const prefix = listenerPrefix(listener);
  // ConfigurationUtils: the mechanism-prefixed name first, then the listener's view.
  const names = (key: string) => [`${prefix}oauthbearer.${key}`, `${prefix}${key}`, key];
  const at = (key: string) => reader.first(...names(key));
  const handlerProp = callbackHandler(reader, listener, 'OAUTHBEARER');
  const handler = handlerProp?.value.trim();
  if (handler !== undefined && handler !== OAUTH_UNSECURED && !OAUTH_SECURED.includes(handler))
    return undefined;
  const options = entry?.options ?? {};
  const jwksSet = names('sasl.oauthbearer.jwks.endpoint.url').some((n) => reader.peek(n) !== undefined);
  const unsecuredOptions = Object.keys(options).some((o) => /^unsecured(Login|Validator)/.test(o));
  if (handler === OAUTH_UNSECURED || (handler === undefined && !jwksSet && unsecuredOptions)) {
    const required = options.unsecuredValidatorRequiredScope;
    if (required !== undefined) {
      reader.error(
        `listener ${listener}: unsecuredValidatorRequiredScope (${required}) cannot be honoured: kch does not check token scopes`,
      );
    }
    const skewMs = options.unsecuredValidatorAllowableClockSkewMs;
    const skew = skewMs === undefined ? 0 : Number(skewMs);
    if (!Number.isInteger(skew) || skew < 0)
      reader.error(
        `listener ${listener}: unsecuredValidatorAllowableClockSkewMs must be a whole number of milliseconds, got ${skewMs}`,
      );
    return {
      allowUnsecured: true,
      subClaimName: options.unsecuredValidatorPrincipalClaimName ?? 'sub',
      // Kafka's unsecured validator allows no clock skew unless told.
      clockSkewSeconds: Math.ceil(Math.max(0, skew) / 1000),
    };
  }
  const jwks = at('sasl.oauthbearer.jwks.endpoint.url');
  if (!jwks) {
    reader.error(
      handler
        ? `listener ${listener}: ${handler} needs sasl.oauthbearer.jwks.endpoint.url (a file: URL of the issuer's JWKS)`
        : `listener ${listener} enables OAUTHBEARER without saying how tokens are checked: set sasl.oauthbearer.jwks.endpoint.url to a file: URL of the issuer's JWKS (with ${prefix}oauthbearer.sasl.server.callback.handler.class=${OAUTH_SECURED[0]}), or, for development, the unsecured mode (unsecuredLoginStringClaim_sub in ${prefix}oauthbearer.sasl.jaas.config)`,
    );
    return undefined;
  }
  let jwksFile: string | undefined;
  const url = jwks.value.trim();
  if (/^file:/i.test(url)) {
    try {
      jwksFile = fileURLToPath(url);
    } catch (e) {
      reader.error(`${jwks.name}: ${(e as Error).message}`);
    }
  } else if (/^https?:/i.test(url)) {
    reader.error(
      `${jwks.name}: kch does not fetch keys over HTTP: download the JWKS to a file (curl -fsSo /etc/kch/jwks.json ${url}) and set ${jwks.name}=file:///etc/kch/jwks.json; kch reads the file again when it changes`,
    );
  } else {
    reader.error(`${jwks.name}: ${url} is not a file: URL`);
  }
  if (jwksFile === undefined) return undefined;
  const issuer = at('sasl.oauthbearer.expected.issuer');
  const audience = at('sasl.oauthbearer.expected.audience');
  const sub = at('sasl.oauthbearer.sub.claim.name');
  const skew = reader.number(at('sasl.oauthbearer.clock.skew.seconds'), 'int', 0);
  return {
    jwksFile,
    ...(issuer ? { expectedIssuer: issuer.value.trim() } : {}),
    ...(audience ? { expectedAudience: csvList(audience.value) } : {}),
    ...(sub ? { subClaimName: sub.value.trim() } : {}),
    ...(skew !== undefined ? { clockSkewSeconds: skew } : {}),
  };
}

/** SASL for the listeners that speak SASL_PLAINTEXT or SASL_SSL. */
export function saslFromProperties(
  reader: PropertyReader,
  listeners: readonly { name: string; securityProtocol: SecurityProtocol }[],
): SaslResult {
  const result: SaslResult = { sasl: {}, listeners: new Map() };
  const enabled = mechanisms(reader, reader.get('sasl.enabled.mechanisms'));
  if (enabled) result.sasl.enabledMechanisms = enabled;
  let oauth: { listener: string; options: OAuthBearerInput } | undefined;
  // The broker-wide JAAS config serves every listener: parsed (and its errors told) once, when needed.
  let brokerJaas: { entries: JaasEntry[] | undefined } | undefined;
  const brokerWide = () => {
    const value = reader.peek('sasl.jaas.config');
    if (value === undefined) return undefined;
    brokerJaas ??= { entries: parse(reader, { name: 'sasl.jaas.config', value }) };
    return brokerJaas.entries;
  };
  for (const { name, securityProtocol } of listeners) {
    if (securityProtocol !== 'SASL_PLAINTEXT' && securityProtocol !== 'SASL_SSL') continue;
    const own = mechanisms(reader, reader.get(`${listenerPrefix(name)}sasl.enabled.mechanisms`));
    const listenerSasl: ListenerSasl = own ? { saslMechanisms: own } : {};
    for (const mechanism of own ?? enabled ?? DEFAULT_MECHANISMS) {
      if (mechanism !== 'OAUTHBEARER') callbackHandler(reader, name, mechanism);
      const jaas = jaasEntry(reader, name, mechanism, brokerWide);
      if (jaas && mechanism === 'PLAIN') {
        const users = plainUsers(jaas.entry);
        if (jaas.broker) result.sasl.plainUsers = users;
        else listenerSasl.plainUsers = users;
      }
      if (mechanism === 'OAUTHBEARER') {
        const options = oauthBearer(reader, name, jaas?.entry);
        if (!options) continue;
        // kch validates tokens one way for the whole broker.
        if (oauth && JSON.stringify(oauth.options) !== JSON.stringify(options)) {
          reader.error(
            `listeners ${oauth.listener} and ${name} validate OAUTHBEARER tokens differently; kch has one OAUTHBEARER validation for all listeners`,
          );
        }
        oauth ??= { listener: name, options };
      }
    }
    result.listeners.set(name, listenerSasl);
  }
  if (oauth) result.sasl.oauthBearer = oauth.options;
  return result;
}
