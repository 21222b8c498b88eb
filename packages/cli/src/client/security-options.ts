/**
 * The security options of the client commands (flags, usage, and what they come to), apart from the
 * parsing in ./security.ts: a command loads this module always, and the parsing (zod, and for a
 * properties file @kch/broker) only when a security option is given, so a plain connection starts as
 * fast as before.
 */
import type { SaslMechanismName, SecurityProtocol } from '@kch/broker';
import type { OptionsConfig } from '../args.js';
import { ExitCode } from '../command.js';
import { CliError } from './errors.js';

export const SECURITY_PROTOCOLS = [
  'PLAINTEXT',
  'SSL',
  'SASL_PLAINTEXT',
  'SASL_SSL',
] as const satisfies readonly SecurityProtocol[];
export const SASL_MECHANISMS = [
  'PLAIN',
  'SCRAM-SHA-256',
  'SCRAM-SHA-512',
  'OAUTHBEARER',
] as const satisfies readonly SaslMechanismName[];

/** The security options every client command takes, for parseArgs. */
export const SECURITY_OPTIONS = {
  'command-config': { type: 'string' },
  'security-protocol': { type: 'string' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  'ssl-ca': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
} as const satisfies OptionsConfig;

export type SecurityFlags = { [K in keyof typeof SECURITY_OPTIONS]?: string };

export const SECURITY_USAGE = `  --command-config <file>    Kafka client properties, as Kafka's tools take them:
                             security.protocol, sasl.mechanism, sasl.jaas.config,
                             ssl.truststore.*, ssl.keystore.* (PEM) ...
  --security-protocol <p>    PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  --sasl-mechanism <m>       PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER
  --sasl-username <user>     the SASL user; its password with --sasl-password <p>
                             or, kept out of the shell's history, $KCH_SASL_PASSWORD
  --ssl-ca <file>            PEM certificates of the authorities that sign the
                             broker's certificate (default: the system's)
  --ssl-cert <file>, --ssl-key <file>
                             a client certificate and its private key (PEM)`;

/** A SASL mechanism's credentials, once known. */
export interface ClientSasl {
  mechanism: SaslMechanismName;
  username?: string;
  password?: string;
  /** OAUTHBEARER: the token, read again for each connection (a file may be renewed). */
  token?: () => string;
}

/** TLS toward the broker: the trusted authorities (the system's when none) and a client certificate. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** The key's pass phrase (ssl.key.password). */
  passphrase?: string;
  /** Whether the certificate must name the host connected to (ssl.endpoint.identification.algorithm). */
  verifyHostname: boolean;
}

/** What the settings say, from the file and the flags together, before they are checked for Kafka. */
export interface SecuritySettings {
  protocol?: SecurityProtocol;
  mechanism?: SaslMechanismName;
  username?: string;
  password?: string;
  token?: () => string;
  tls: ClientTls;
  /** Where each credential came from (a flag, KCH_SASL_PASSWORD, the file), for messages. */
  usernameFrom?: string;
  passwordFrom?: string;
  tokenFrom?: string;
  /** Where the trusted authorities came from, to say what to change when the broker is not trusted. */
  trustFrom: string;
  /** Which flags set something, to refuse those that a protocol without SASL or TLS would ignore. */
  saslFlags: string[];
  tlsFlags: string[];
  /** bootstrap.servers of the properties file. */
  bootstrap?: string;
  /** Security properties of the file kch has no use for (named in one warning). */
  ignored: string[];
  file?: string;
}

/** The settings checked for a Kafka connection. */
export interface ClientSecurity {
  protocol: SecurityProtocol;
  tls?: ClientTls;
  sasl?: ClientSasl;
  /** What to check when the broker refuses the credentials, e.g. `--sasl-username/--sasl-password`. */
  credentialsFrom: string;
  /** What gives the trusted authorities, e.g. `--ssl-ca`. */
  trustFrom: string;
}

export const PLAINTEXT: ClientSecurity = {
  protocol: 'PLAINTEXT',
  credentialsFrom: '--sasl-username/--sasl-password',
  trustFrom: '--ssl-ca',
};

/** Whether any security option is given (else the connection is PLAINTEXT, and nothing is parsed). */
export function hasSecurityOptions(values: SecurityFlags): boolean {
  return Object.keys(SECURITY_OPTIONS).some((k) => values[k as keyof SecurityFlags] !== undefined);
}

/** A problem with the settings: printed without the usage (it is not a mistyped option), exit 2. */
export function settingsError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE);
}
