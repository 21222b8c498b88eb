/**
 * The security options of the client commands, as Kafka's tools take them: `--command-config <file>`
 * with Kafka client properties (./client-properties.ts), and flags over it (`--security-protocol`,
 * `--sasl-mechanism`, `--sasl-username`, `--sasl-password` or KCH_SASL_PASSWORD, `--ssl-ca`,
 * `--ssl-cert`, `--ssl-key`), checked here, at the edge, with zod. The result is what kafka-config.ts
 * gives @platformatic/kafka's connections (`tls`, `sasl`), or the credentials of an admin HTTP request.
 * Loaded only when a security option is given; @kch/broker (the properties and JAAS parsers) only when
 * a properties file is.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecurityProtocol } from '@kch/broker';
import { z } from 'zod';
import {
  type ClientSasl,
  type ClientSecurity,
  PLAINTEXT,
  SASL_MECHANISMS,
  SECURITY_PROTOCOLS,
  type SecurityFlags,
  type SecuritySettings,
  settingsError,
} from './security-options.js';

/** What to check when the broker refuses the credentials: where each of them came from. */
function credentialsFrom(s: SecuritySettings): string {
  if (s.mechanism === 'OAUTHBEARER') return s.tokenFrom ?? 'the token';
  const user = s.usernameFrom ?? '--sasl-username';
  const password = s.passwordFrom ?? '--sasl-password';
  if (user === '--sasl-username' && password === '--sasl-password') return `${user}/${password}`;
  return user === password ? user : `${user} and ${password}`;
}

/** A value that is not a known name: the message names the option and the choices. */
function oneOf<const T extends readonly string[]>(what: string, names: T) {
  return z
    .string()
    .transform((s) => s.trim().toUpperCase())
    .pipe(
      z.enum(names, {
        error: (issue) =>
          `${what} must be ${names.slice(0, -1).join(', ')} or ${names.at(-1)}, got "${String(issue.input)}"`,
      }),
    );
}

const nonEmpty = (what: string) => z.string().min(1, { error: `${what} must not be empty` });

const flagsSchema = z.object({
  'command-config': nonEmpty('--command-config').optional(),
  'security-protocol': oneOf('--security-protocol', SECURITY_PROTOCOLS).optional(),
  'sasl-mechanism': oneOf('--sasl-mechanism', SASL_MECHANISMS).optional(),
  'sasl-username': nonEmpty('--sasl-username').optional(),
  'sasl-password': nonEmpty('--sasl-password').optional(),
  'ssl-ca': nonEmpty('--ssl-ca').optional(),
  'ssl-cert': nonEmpty('--ssl-cert').optional(),
  'ssl-key': nonEmpty('--ssl-key').optional(),
});

/** A PEM file's text, or a settings error naming the option it came from. */
export function readPemFile(file: string, what: string, cwd: string): string {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw settingsError(
      `${what} ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot be read: ${(e as Error).message}`}`,
    );
  }
  if (!text.includes('-----BEGIN'))
    throw settingsError(`${what} ${file}: not a PEM file (-----BEGIN ... -----)`);
  return text;
}

/**
 * The settings of the flags over those of `--command-config` (and KCH_SASL_PASSWORD over the file's
 * password, under --sasl-password), with every file read. Throws a CliError (exit 2) saying what is
 * wrong.
 */
export async function securitySettings(
  given: SecurityFlags,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): Promise<SecuritySettings> {
  const parsed = flagsSchema.safeParse(given);
  if (!parsed.success) throw settingsError(parsed.error.issues[0]!.message);
  const flags = parsed.data;
  const settings: SecuritySettings = {
    tls: { verifyHostname: true },
    trustFrom: '--ssl-ca',
    saslFlags: [],
    tlsFlags: [],
    ignored: [],
  };
  if (flags['command-config'] !== undefined) {
    // Loaded here only: @kch/broker costs a third of a second to load.
    const { clientPropertiesSettings } = await import('./client-properties.js');
    Object.assign(settings, clientPropertiesSettings(flags['command-config'], cwd));
  }
  if (flags['security-protocol']) settings.protocol = flags['security-protocol'];
  if (flags['sasl-mechanism']) {
    settings.mechanism = flags['sasl-mechanism'];
    settings.saslFlags.push('--sasl-mechanism');
  }
  if (flags['sasl-username'] !== undefined) {
    settings.username = flags['sasl-username'];
    settings.usernameFrom = '--sasl-username';
    settings.saslFlags.push('--sasl-username');
  }
  if (flags['sasl-password'] !== undefined) {
    settings.password = flags['sasl-password'];
    settings.passwordFrom = '--sasl-password';
    settings.saslFlags.push('--sasl-password');
  } else if (env.KCH_SASL_PASSWORD) {
    settings.password = env.KCH_SASL_PASSWORD;
    settings.passwordFrom = 'KCH_SASL_PASSWORD';
  }
  if (flags['ssl-ca'] !== undefined) {
    settings.tls.ca = readPemFile(flags['ssl-ca'], '--ssl-ca', cwd);
    settings.trustFrom = '--ssl-ca';
    settings.tlsFlags.push('--ssl-ca');
  }
  if ((flags['ssl-cert'] === undefined) !== (flags['ssl-key'] === undefined))
    throw settingsError(
      `${flags['ssl-cert'] !== undefined ? '--ssl-cert needs --ssl-key' : '--ssl-key needs --ssl-cert'}: a client certificate goes with its private key`,
    );
  if (flags['ssl-cert'] !== undefined && flags['ssl-key'] !== undefined) {
    settings.tls.cert = readPemFile(flags['ssl-cert'], '--ssl-cert', cwd);
    settings.tls.key = readPemFile(flags['ssl-key'], '--ssl-key', cwd);
    delete settings.tls.passphrase;
    settings.tlsFlags.push('--ssl-cert');
  }
  return settings;
}

/** The settings checked for a Kafka connection; throws a CliError (exit 2) saying what is missing. */
export function kafkaSecurity(settings: SecuritySettings): ClientSecurity {
  const { saslFlags, tlsFlags } = settings;
  const protocol = settings.protocol;
  if (protocol === undefined) {
    // Inferring SASL_PLAINTEXT would send a password unencrypted because --ssl-ca was forgotten.
    const flag = saslFlags[0] ?? tlsFlags[0];
    if (flag === undefined) return PLAINTEXT;
    throw settingsError(
      `${flag} is given, but no security protocol: add --security-protocol ${saslFlags.length > 0 ? 'SASL_SSL (or SASL_PLAINTEXT)' : 'SSL (or SASL_SSL)'}`,
    );
  }
  const sasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  if (!sasl && saslFlags.length > 0)
    throw settingsError(
      `${saslFlags[0]} is given, but the security protocol is ${protocol}, which has no SASL: use ${tls ? 'SASL_SSL' : 'SASL_PLAINTEXT (or SASL_SSL)'}`,
    );
  if (!tls && tlsFlags.length > 0)
    throw settingsError(
      `${tlsFlags[0]} is given, but the security protocol is ${protocol}, which has no TLS: use ${sasl ? 'SASL_SSL' : 'SSL'}`,
    );
  const out: ClientSecurity = {
    protocol,
    credentialsFrom: credentialsFrom(settings),
    trustFrom: settings.trustFrom,
  };
  if (tls) out.tls = settings.tls;
  if (sasl) out.sasl = saslCredentials(settings, protocol);
  return out;
}

function saslCredentials(settings: SecuritySettings, protocol: SecurityProtocol): ClientSasl {
  const mechanism = settings.mechanism;
  if (mechanism === undefined)
    throw settingsError(
      `${protocol} needs a SASL mechanism: --sasl-mechanism PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (sasl.mechanism in --command-config; Kafka's default, GSSAPI, is Kerberos, which kch does not speak)`,
    );
  if (mechanism === 'OAUTHBEARER') {
    if (!settings.token)
      throw settingsError(
        'OAUTHBEARER needs a token: in --command-config, sasl.oauthbearer.token.endpoint.url=file:///<path of a file holding the JWT> with sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
      );
    return { mechanism, token: settings.token };
  }
  if (settings.username === undefined)
    throw settingsError(
      `${mechanism} needs a user: --sasl-username <user> with --sasl-password <password> or KCH_SASL_PASSWORD, or sasl.jaas.config in --command-config`,
    );
  if (settings.password === undefined)
    throw settingsError(
      `${mechanism} needs the password of user ${settings.username}: KCH_SASL_PASSWORD=<password> (which keeps it out of the shell's history) or --sasl-password <password>`,
    );
  return { mechanism, username: settings.username, password: settings.password };
}

/**
 * The settings for the admin HTTP server (`kch sql`, `kch views`): its certificate's authorities and a
 * client certificate, and the credentials as an Authorization header: HTTP Basic for a user and
 * password, Bearer for an OAUTHBEARER token. Undefined when the settings name no credentials.
 */
export function httpCredentials(settings: SecuritySettings): string | undefined {
  if (settings.mechanism === 'OAUTHBEARER' && settings.token) return `Bearer ${settings.token()}`;
  if (settings.username === undefined) {
    if (settings.password !== undefined && settings.saslFlags.includes('--sasl-password'))
      throw settingsError('--sasl-password needs --sasl-username: the user it is the password of');
    return undefined;
  }
  if (settings.password === undefined)
    throw settingsError(
      `the password of user ${settings.username}: KCH_SASL_PASSWORD=<password> (which keeps it out of the shell's history) or --sasl-password <password>`,
    );
  return `Basic ${Buffer.from(`${settings.username}:${settings.password}`, 'utf8').toString('base64')}`;
}
