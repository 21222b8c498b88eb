/**
 * `--command-config <file>`: Kafka client properties, read as Kafka's tools read them (Utils.loadProps,
 * java.util.Properties.load: @kch/broker's parseJavaProperties) with the meanings of Kafka's client
 * configs:
 *
 * - security.protocol (case-insensitive; PLAINTEXT by default), sasl.mechanism (Kafka's default is
 *   GSSAPI, which kch does not speak, so it must be given for SASL);
 * - sasl.jaas.config (@kch/broker's JAAS parser, Kafka's messages): one login module, PlainLoginModule
 *   or ScramLoginModule with username and password (either serves PLAIN and SCRAM, as in Kafka, where
 *   both only put the credentials in the Subject), OAuthBearerLoginModule with a token from
 *   sasl.oauthbearer.token.endpoint.url=file:... or an unsecured one (unsecuredLoginStringClaim_sub);
 * - ssl.truststore.* and ssl.keystore.* with the rules of Kafka's DefaultSslEngineFactory: a store is
 *   a file (ssl.*.location) or PEM in the property (KIP-651), never both; ssl.*.type defaults to JKS,
 *   which kch cannot read (it reads PEM), so PEM files need ssl.*.type=PEM as they do in Kafka;
 * - ssl.endpoint.identification.algorithm: https (the default) checks the broker's host name, empty
 *   does not.
 *
 * This module is loaded only when a file is given (@kch/broker costs a third of a second to load).
 * Only the security settings and bootstrap.servers are read; other client configs (timeouts, batching)
 * are the command's own. Unknown ssl.* and sasl.* properties are named in one warning, since one of
 * them could be a misspelt setting that was meant to secure the connection.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type JaasEntry, parseJaasConfig, parseJavaProperties, pemText } from '@kch/broker';
import { decodeProperties } from '../server-properties.js';
import {
  SASL_MECHANISMS,
  SECURITY_PROTOCOLS,
  type SecuritySettings,
  settingsError,
} from './security-options.js';

const LOGIN_MODULE = 'org.apache.kafka.common.security';
const PLAIN_MODULE = `${LOGIN_MODULE}.plain.PlainLoginModule`;
const SCRAM_MODULE = `${LOGIN_MODULE}.scram.ScramLoginModule`;
const OAUTH_MODULE = `${LOGIN_MODULE}.oauthbearer.OAuthBearerLoginModule`;

/** The properties read here; any other ssl.* or sasl.* one is named in the warning. */
const KNOWN = new Set([
  'bootstrap.servers',
  'security.protocol',
  'sasl.mechanism',
  'sasl.jaas.config',
  'sasl.oauthbearer.token.endpoint.url',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.certificates',
  'ssl.truststore.password',
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.keystore.password',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
]);

/** Java classes kch cannot run in place of Kafka's own: a file that names one cannot be honoured. */
const CLASSES = [
  'sasl.login.callback.handler.class',
  'sasl.client.callback.handler.class',
  'sasl.login.class',
  'ssl.engine.factory.class',
];

type Props = Readonly<Record<string, string>>;

interface Reading {
  props: Props;
  file: string;
  cwd: string;
  problems: string[];
}

function value(r: Reading, name: string): string | undefined {
  return Object.hasOwn(r.props, name) ? r.props[name] : undefined;
}

/** The file named by a property, read, or undefined after recording why it cannot be. */
function readFile(r: Reading, name: string, path: string): string | undefined {
  const full = isAbsolute(path) ? path : resolve(r.cwd, path);
  try {
    return readFileSync(full, 'utf8');
  } catch (e) {
    r.problems.push(
      `${name}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
    return undefined;
  }
}

/** ssl.<store>.type, upper-cased as KeyStore.getInstance takes it; JKS when not set, as in Kafka. */
function storeType(r: Reading, store: 'keystore' | 'truststore'): string {
  return (value(r, `ssl.${store}.type`)?.trim() || 'JKS').toUpperCase();
}

/** Why a store of another type than PEM cannot be read, with the conversion that makes it PEM. */
function notPem(r: Reading, store: 'keystore' | 'truststore', location: string): void {
  const type = storeType(r, store);
  const name = `ssl.${store}.location`;
  if (value(r, `ssl.${store}.type`) === undefined && /\.(pem|crt|cer|key)$/i.test(location.trim())) {
    r.problems.push(
      `${name}: ssl.${store}.type is not set, so the file is read as JKS (Kafka's default); for a PEM file, set ssl.${store}.type=PEM`,
    );
    return;
  }
  const what = store === 'keystore' ? '-nodes' : '-nokeys';
  const p12 = type === 'JKS' ? 'store.p12' : location;
  const toP12 =
    type === 'JKS'
      ? `keytool -importkeystore -srckeystore ${location} -destkeystore ${p12} -deststoretype PKCS12 && `
      : '';
  r.problems.push(
    `${name}: the ${store.replace('store', ' store')} is ${type}, and kch reads PEM only: convert it with \`${toP12}openssl pkcs12 -in ${p12} -out ${store}.pem ${what}\`, then set ssl.${store}.type=PEM and ${name} to the PEM file`,
  );
}

function truststore(r: Reading, settings: Partial<SecuritySettings> & { tls: SecuritySettings['tls'] }) {
  const certificates = value(r, 'ssl.truststore.certificates');
  const location = value(r, 'ssl.truststore.location');
  const type = storeType(r, 'truststore');
  if (certificates !== undefined) {
    if (type !== 'PEM')
      return r.problems.push(
        `ssl.truststore.certificates: SSL trust store certs can be specified only for PEM, but trust store type is ${type}: set ssl.truststore.type=PEM`,
      );
    if (location !== undefined)
      return r.problems.push(
        'ssl.truststore.location, ssl.truststore.certificates: Both SSL trust store location and separate trust certificates are specified',
      );
    const pem = pemText(certificates);
    if (!pem)
      return r.problems.push('ssl.truststore.certificates: not PEM text (-----BEGIN CERTIFICATE----- ...)');
    settings.tls.ca = pem;
    settings.trustFrom = `ssl.truststore.certificates in ${r.file}`;
  } else if (location !== undefined) {
    if (type !== 'PEM') return notPem(r, 'truststore', location);
    const pem = readFile(r, 'ssl.truststore.location', location);
    if (pem === undefined) return;
    settings.tls.ca = pem;
    settings.trustFrom = `ssl.truststore.location in ${r.file}`;
  } else return;
  if (value(r, 'ssl.truststore.password') !== undefined)
    r.problems.push('ssl.truststore.password: SSL trust store password cannot be specified for PEM format');
}

function keystore(r: Reading, settings: { tls: SecuritySettings['tls'] }) {
  const chain = value(r, 'ssl.keystore.certificate.chain');
  const key = value(r, 'ssl.keystore.key');
  const location = value(r, 'ssl.keystore.location');
  const type = storeType(r, 'keystore');
  if (key !== undefined || chain !== undefined) {
    if (type !== 'PEM')
      return r.problems.push(
        `ssl.keystore.key: SSL private key can be specified only for PEM, but key store type is ${type}: set ssl.keystore.type=PEM`,
      );
    if (key === undefined || chain === undefined)
      return r.problems.push(
        key === undefined
          ? 'ssl.keystore.certificate.chain: SSL certificate chain is specified, but private key is not specified (ssl.keystore.key)'
          : 'ssl.keystore.key: SSL private key is specified, but certificate chain is not specified (ssl.keystore.certificate.chain)',
      );
    if (location !== undefined)
      return r.problems.push(
        'ssl.keystore.location, ssl.keystore.key: Both SSL key store location and separate private key are specified',
      );
    const cert = pemText(chain);
    const pemKey = pemText(key);
    if (!cert)
      r.problems.push('ssl.keystore.certificate.chain: not PEM text (-----BEGIN CERTIFICATE----- ...)');
    if (!pemKey) r.problems.push('ssl.keystore.key: not PEM text (-----BEGIN PRIVATE KEY----- ...)');
    if (!cert || !pemKey) return;
    settings.tls.cert = cert;
    settings.tls.key = pemKey;
  } else if (location !== undefined) {
    if (type !== 'PEM') return notPem(r, 'keystore', location);
    // One PEM file holds the key and the certificate chain, as in Kafka; node:tls picks each from it.
    const pem = readFile(r, 'ssl.keystore.location', location);
    if (pem === undefined) return;
    settings.tls.cert = pem;
    settings.tls.key = pem;
  } else return;
  if (value(r, 'ssl.keystore.password') !== undefined)
    r.problems.push(
      'ssl.keystore.password: SSL key store password cannot be specified with PEM format, only key password may be specified (ssl.key.password, for an encrypted key)',
    );
  const keyPassword = value(r, 'ssl.key.password');
  if (keyPassword !== undefined) settings.tls.passphrase = keyPassword;
}

/** An unsigned JWT as Kafka's OAuthBearerUnsecuredLoginCallbackHandler makes it, for development. */
function unsecuredToken(options: Record<string, string>): () => string {
  const lifetime = Number(options.unsecuredLoginLifetimeSeconds ?? '3600');
  const claims: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    const m = /^unsecuredLoginStringClaim_(.+)$/.exec(k);
    if (m) claims[m[1]!] = v;
  }
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return () => {
    const iat = Math.floor(Date.now() / 1000);
    return `${part({ alg: 'none' })}.${part({ ...claims, iat, exp: iat + lifetime })}.`;
  };
}

/** A token read from a file: KIP-768's sasl.oauthbearer.token.endpoint.url with a file: URL. */
function tokenFile(r: Reading, url: string): (() => string) | undefined {
  if (!/^file:/i.test(url)) {
    r.problems.push(
      `sasl.oauthbearer.token.endpoint.url: kch reads a token from a file (file:///path/to/token), not from ${url}: fetch the token first, e.g. with curl, into a file`,
    );
    return undefined;
  }
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    r.problems.push(`sasl.oauthbearer.token.endpoint.url: ${(e as Error).message}`);
    return undefined;
  }
  if (readFile(r, 'sasl.oauthbearer.token.endpoint.url', path) === undefined) return undefined;
  return () => readFileSync(path, 'utf8').trim();
}

/** sasl.jaas.config: the one login module's credentials, into `settings`. */
function credentials(r: Reading, entries: JaasEntry[], settings: Partial<SecuritySettings>): void {
  // Kafka's JaasContext.loadClientContext: a JAAS config property holds exactly one login module.
  if (entries.length !== 1) {
    r.problems.push(
      `sasl.jaas.config: JAAS config property contains ${entries.length} login modules, should be 1 module`,
    );
    return;
  }
  const { loginModule, options } = entries[0]!;
  const from = `sasl.jaas.config in ${r.file}`;
  if (loginModule === PLAIN_MODULE || loginModule === SCRAM_MODULE) {
    if (options.username !== undefined) {
      settings.username = options.username;
      settings.usernameFrom = from;
    }
    if (options.password !== undefined) {
      settings.password = options.password;
      settings.passwordFrom = from;
    }
    return;
  }
  if (loginModule === OAUTH_MODULE) {
    const url = value(r, 'sasl.oauthbearer.token.endpoint.url');
    if (url !== undefined) {
      const token = tokenFile(r, url);
      if (token) {
        settings.token = token;
        settings.tokenFrom = `the token in ${url}`;
      }
    } else if (
      options.unsecuredLoginStringClaim_sub !== undefined ||
      options.unsecuredLoginPrincipalClaimName
    ) {
      settings.token = unsecuredToken(options);
      settings.tokenFrom = `the unsecured token of ${from}`;
    }
    return;
  }
  r.problems.push(
    `sasl.jaas.config: kch's clients take ${PLAIN_MODULE}, ${SCRAM_MODULE} or ${OAUTH_MODULE}, not ${loginModule}`,
  );
}

/**
 * The security settings of a Kafka client properties file; throws a CliError (exit 2) naming every
 * property kch cannot honour.
 */
export function clientPropertiesSettings(file: string, cwd: string): Partial<SecuritySettings> {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  let props: Props;
  try {
    props = parseJavaProperties(decodeProperties(readFileSync(path)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw settingsError(
      `--command-config ${file}: ${code === 'ENOENT' ? 'no such file' : code ? `cannot be read: ${(e as Error).message}` : `is not a properties file Kafka would read: ${(e as Error).message}`}`,
    );
  }
  const r: Reading = { props, file, cwd, problems: [] };
  const settings: Partial<SecuritySettings> & { tls: SecuritySettings['tls'] } = {
    tls: { verifyHostname: true },
    saslFlags: [],
    tlsFlags: [],
    file,
  };
  const protocol = value(r, 'security.protocol');
  if (protocol !== undefined) {
    const p = protocol.trim().toUpperCase();
    if ((SECURITY_PROTOCOLS as readonly string[]).includes(p))
      settings.protocol = p as SecuritySettings['protocol'];
    else
      r.problems.push(
        `security.protocol: Invalid value ${protocol} for configuration security.protocol: String must be one of (case insensitive): ${SECURITY_PROTOCOLS.join(', ')}`,
      );
  }
  const mechanism = value(r, 'sasl.mechanism');
  if (mechanism !== undefined) {
    const m = mechanism.trim();
    if ((SASL_MECHANISMS as readonly string[]).includes(m))
      settings.mechanism = m as SecuritySettings['mechanism'];
    else
      r.problems.push(
        `sasl.mechanism: ${m === 'GSSAPI' ? 'GSSAPI (Kerberos) is not supported by kch' : `unknown SASL mechanism ${m}`}; use ${SASL_MECHANISMS.join(', ')}`,
      );
  }
  const jaas = value(r, 'sasl.jaas.config');
  if (jaas !== undefined) {
    try {
      credentials(r, parseJaasConfig(jaas), settings);
    } catch (e) {
      r.problems.push(`sasl.jaas.config: ${(e as Error).message}`);
    }
  }
  truststore(r, settings);
  keystore(r, settings);
  const algorithm = value(r, 'ssl.endpoint.identification.algorithm');
  if (algorithm !== undefined) {
    if (algorithm.trim() === '') settings.tls.verifyHostname = false;
    else if (algorithm.trim().toLowerCase() !== 'https')
      r.problems.push(
        `ssl.endpoint.identification.algorithm: kch checks host names as https does (the default), or not at all (the empty value), not ${algorithm}`,
      );
  }
  for (const name of CLASSES)
    if (value(r, name) !== undefined)
      r.problems.push(
        `${name}: kch's clients cannot run Java classes; remove it (kch has the standard behaviour built in)`,
      );
  const bootstrap = value(r, 'bootstrap.servers');
  if (bootstrap !== undefined && bootstrap.trim() !== '') settings.bootstrap = bootstrap.trim();
  settings.ignored = Object.keys(props)
    .filter((k) => /^(ssl|sasl|security)\./.test(k) && !KNOWN.has(k) && !CLASSES.includes(k))
    .sort();
  if (r.problems.length > 0)
    throw settingsError(
      `--command-config ${file}:${r.problems.length === 1 ? ` ${r.problems[0]}` : `\n${r.problems.map((p) => `  ${p}`).join('\n')}`}`,
    );
  return settings;
}
