/**
 * Certificates for TLS tests, made with Debian's openssl in a temporary directory: a CA, a server
 * certificate for localhost and 127.0.0.1, and client certificates, all signed by the CA, plus a
 * second CA nobody trusts. Made once per test file (each takes a few hundred milliseconds).
 * The bench's `security` group (bench/security.ts) makes its TLS listener's certificate here too, with
 * `makeServerCertificates`, so the tests and the bench run one generator.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a TLS listener needs: a CA, and a certificate for localhost and 127.0.0.1 that it signed. */
export interface ServerCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
}

export interface TestCertificates extends ServerCertificates {
  /** A client certificate whose subject is CN=alice,OU=eng,O=kch. */
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA, which the broker does not trust. */
  strangerCert: string;
  strangerKey: string;
  /** Reads a file of the set as text (PEM). */
  pem(path: string): string;
}

function run(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  run(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
  ]);
}

/** A key and a certificate for `subject`, signed by the CA `caName`, with `extensions` (openssl syntax). */
export function signedCertificate(
  dir: string,
  caName: string,
  name: string,
  subject: string,
  extensions: string,
): void {
  run(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    subject,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  run(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.crt`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

export const SERVER_EXTENSIONS = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXTENSIONS = 'extendedKeyUsage=clientAuth\n';

/** The CA and the server certificate alone (two keys instead of five: a few hundred ms less). */
export function makeServerCertificates(): ServerCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'kch-test-certs-'));
  ca(dir, 'ca');
  signedCertificate(dir, 'ca', 'server', '/CN=localhost', SERVER_EXTENSIONS);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

export function makeCertificates(): TestCertificates {
  const server = makeServerCertificates();
  const { dir } = server;
  ca(dir, 'other-ca');
  signedCertificate(dir, 'ca', 'client', '/O=kch/OU=eng/CN=alice', CLIENT_EXTENSIONS);
  signedCertificate(dir, 'other-ca', 'stranger', '/CN=mallory', CLIENT_EXTENSIONS);
  const at = (f: string) => join(dir, f);
  return {
    ...server,
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.crt'),
    strangerKey: at('stranger.key'),
    pem: (path) => readFileSync(path, 'utf8'),
  };
}
