/**
 * Listeners and TLS with real sockets and certificates made by openssl: several listeners with their
 * own security protocols, each advertising itself; TLS clients (kafkajs, node:tls) with and without
 * client certificates; clients of the wrong protocol closed at once and logged once; certificates
 * renewed without a restart.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Broker, createBroker, type Logger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeCertificates,
  SERVER_EXTENSIONS,
  signedCertificate,
  type TestCertificates,
} from './helpers/certs.js';
import { skipEachUnless } from './helpers/skip.js';
import { openssl } from './helpers/tools.js';

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, msg, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** An ApiVersions v0 request frame, as any Kafka client sends first. */
function apiVersionsFrame(): Buffer {
  const clientId = Buffer.from('probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const frame = Buffer.alloc(4 + body.length);
  frame.writeInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Resolves with how long the server took to close a connection after `send`, or rejects after 5 s. */
function closedAfter(
  open: () => NodeJS.ReadWriteStream & { destroy(): void },
  send?: Buffer,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const socket = open();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the broker kept the connection open for 5 s'));
    }, 5000);
    const done = () => {
      clearTimeout(timer);
      resolve(performance.now() - start);
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => {});
    if (send) socket.write(send);
  });
}

describe('listeners and TLS', () => {
  skipEachUnless(openssl);
  let certs: TestCertificates;
  let broker: Broker;
  const lines: LogLine[] = [];
  let ports: Record<string, number>;

  beforeAll(async () => {
    if (!openssl.available) return;
    certs = makeCertificates();
    broker = await createBroker({
      storage: memoryStorage(),
      logger: capturingLogger(lines),
      groupInitialRebalanceDelayMs: 0,
      listeners: [
        { name: 'LOCAL', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' },
        {
          name: 'SECURE',
          host: '127.0.0.1',
          port: 0,
          securityProtocol: 'SSL',
          advertisedHost: 'localhost',
          tls: { cert: certs.serverCert, key: certs.serverKey },
        },
        {
          name: 'MUTUAL',
          host: '127.0.0.1',
          port: 0,
          securityProtocol: 'SSL',
          tls: {
            cert: certs.pem(certs.serverCert),
            key: certs.pem(certs.serverKey),
            ca: certs.caCert,
            clientAuth: 'required',
            principalMappingRules: 'RULE:^CN=([^,]*),OU=eng,.*$/$1/L,DEFAULT',
          },
        },
      ],
    });
    await broker.listen();
    ports = Object.fromEntries([...broker.boundListeners].map(([name, b]) => [name, b.port]));
  });

  afterAll(async () => {
    await broker?.close();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('serves kafkajs over TLS, and Metadata advertises the listener the client came in on', async () => {
    const secure = new Kafka({
      clientId: 'tls-test',
      brokers: [`localhost:${ports.SECURE}`],
      ssl: { ca: [certs.pem(certs.caCert)] },
      logLevel: logLevel.NOTHING,
    });
    const admin = secure.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toEqual([{ nodeId: 1, host: 'localhost', port: ports.SECURE }]);
      await admin.createTopics({ topics: [{ topic: 'tls-orders', numPartitions: 1 }] });
      const producer = secure.producer();
      await producer.connect();
      await producer.send({ topic: 'tls-orders', messages: [{ key: 'k', value: 'over tls' }] });
      await producer.disconnect();
    } finally {
      await admin.disconnect();
    }
    const local = new Kafka({
      clientId: 'plain-test',
      brokers: [`127.0.0.1:${ports.LOCAL}`],
      logLevel: logLevel.NOTHING,
    });
    const localAdmin = local.admin();
    await localAdmin.connect();
    try {
      const cluster = await localAdmin.describeCluster();
      expect(cluster.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: ports.LOCAL }]);
      const offsets = await localAdmin.fetchTopicOffsets('tls-orders');
      expect(offsets[0]!.high).toBe('1');
    } finally {
      await localAdmin.disconnect();
    }
  });

  it('closes a plaintext client on a TLS listener at once, and logs it once per client', async () => {
    const before = lines.filter((l) => l.msg === 'TLS handshake failed, connection closed').length;
    for (let i = 0; i < 3; i++) {
      const ms = await closedAfter(() => netConnect(ports.SECURE!, '127.0.0.1'), apiVersionsFrame());
      expect(ms).toBeLessThan(2000);
    }
    const logged = lines.filter((l) => l.msg === 'TLS handshake failed, connection closed');
    expect(logged.length - before).toBe(1);
    expect(String(logged.at(-1)!.fields.reason)).toContain('does not speak TLS');
  });

  it('closes a TLS client on a plaintext listener at once, and logs it once per client', async () => {
    const msg = 'closing connection after a request it could not parse';
    const before = lines.filter((l) => l.msg === msg).length;
    for (let i = 0; i < 3; i++) {
      const ms = await closedAfter(() =>
        tlsConnect({ host: '127.0.0.1', port: ports.LOCAL!, rejectUnauthorized: false }),
      );
      expect(ms).toBeLessThan(2000);
    }
    const logged = lines.filter((l) => l.msg === msg);
    expect(logged.length - before).toBe(1);
    expect(String(logged.at(-1)!.fields.reason)).toContain('TLS handshake');
  });

  it('requires a client certificate signed by the trusted CA and maps its subject to the principal', async () => {
    const authenticated: string[] = [];
    const onAuth = (e: { principal?: string }) => e.principal && authenticated.push(e.principal);
    broker.on('authentication', onAuth);
    try {
      const mutual = new Kafka({
        clientId: 'mtls-test',
        brokers: [`localhost:${ports.MUTUAL}`],
        ssl: {
          ca: [certs.pem(certs.caCert)],
          cert: certs.pem(certs.clientCert),
          key: certs.pem(certs.clientKey),
        },
        logLevel: logLevel.NOTHING,
      });
      const admin = mutual.admin();
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      expect(authenticated).toContain('User:alice');
    } finally {
      broker.off('authentication', onAuth);
    }
    // Without a certificate, and with one from a CA the listener does not trust: refused in the handshake.
    for (const client of [{}, { cert: certs.pem(certs.strangerCert), key: certs.pem(certs.strangerKey) }]) {
      const ms = await closedAfter(
        () =>
          tlsConnect({
            host: '127.0.0.1',
            port: ports.MUTUAL!,
            ca: certs.pem(certs.caCert),
            servername: 'localhost',
            ...client,
          }),
        apiVersionsFrame(),
      );
      expect(ms).toBeLessThan(2000);
    }
  });

  it('serves a renewed certificate without a restart', async () => {
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s: TLSSocket = tlsConnect(
          { host: '127.0.0.1', port: ports.SECURE!, ca: certs.pem(certs.caCert), servername: 'localhost' },
          () => {
            resolve(s.getPeerCertificate().serialNumber);
            s.destroy();
          },
        );
        s.on('error', reject);
      });
    const first = await serial();
    signedCertificate(certs.dir, 'ca', 'renewed', '/CN=localhost', SERVER_EXTENSIONS);
    // The key first, then the certificate, as a renewal tool writes them.
    copyFileSync(`${certs.dir}/renewed.key`, certs.serverKey);
    copyFileSync(`${certs.dir}/renewed.crt`, certs.serverCert);
    await expect.poll(serial, { timeout: 10_000, interval: 200 }).not.toBe(first);
    expect(lines.some((l) => l.msg === 'TLS certificate reloaded')).toBe(true);
  });
});
