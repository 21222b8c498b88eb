/**
 * The pre-authentication path under random and truncated input: frames of random bytes, truncated
 * requests, SASL exchanges fed random tokens for every mechanism (as SaslAuthenticate requests and as
 * raw v0 tokens). The broker must stay up, raise no unexpected error, and keep serving clients that
 * authenticate properly.
 */
import { connect } from 'node:net';
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import {
  ApiKeys,
  ApiVersionsRequest,
  encodeRequestFrame,
  SaslAuthenticateRequest,
  SaslHandshakeRequest,
} from '@kch/protocol';
import { memoryStorage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A small seeded generator (mulberry32), so a failing case can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'];

function frame(bytes: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(bytes.length, 0);
  return Buffer.concat([size, bytes]);
}

/** One connection's worth of hostile input, chosen by `rand`. */
function hostileInput(rand: () => number): Buffer {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const mechanism = MECHANISMS[Math.floor(rand() * MECHANISMS.length)]!;
  const handshake = (version: number) =>
    Buffer.concat(
      encodeRequestFrame(SaslHandshakeRequest, ApiKeys.SaslHandshake, version, 1, 'fuzz', { mechanism }),
    );
  const authenticate = (token: Buffer) =>
    Buffer.concat(
      encodeRequestFrame(
        SaslAuthenticateRequest,
        ApiKeys.SaslAuthenticate,
        Math.floor(rand() * 3),
        2,
        'fuzz',
        {
          authBytes: token,
        },
      ),
    );
  const token = () =>
    rand() < 0.5
      ? bytes(Math.floor(rand() * 200))
      : Buffer.from(
          [
            'n,,n=alice,r=abc',
            'n,,\u0001auth=Bearer x.y.z\u0001\u0001',
            '\u0000alice\u0000',
            'c=biws,r=abc,p=AAAA',
            'n,a=,n=,r=',
            '\u0001',
          ][Math.floor(rand() * 6)]!,
        );
  const truncate = (b: Buffer) => b.subarray(0, Math.floor(rand() * b.length));
  switch (Math.floor(rand() * 7)) {
    case 0:
      return bytes(1 + Math.floor(rand() * 64));
    case 1:
      return frame(bytes(Math.floor(rand() * 64)));
    case 2:
      return truncate(
        Buffer.concat(encodeRequestFrame(ApiVersionsRequest, ApiKeys.ApiVersions, 3, 1, 'fuzz', {})),
      );
    case 3:
      return truncate(handshake(1));
    case 4:
      return Buffer.concat([handshake(1), authenticate(token()), authenticate(token())]);
    case 5:
      return Buffer.concat([handshake(0), frame(token()), frame(token())]);
    default:
      return Buffer.concat([handshake(1), truncate(authenticate(token()))]);
  }
}

/** Sends `input`, half-closes, and resolves when the broker has closed the connection. */
function send(port: number, input: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(input);
      s.end();
    });
    s.on('data', () => {});
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

describe('the pre-authentication path under hostile input', () => {
  let broker: Broker;
  let port: number;
  const errors: Error[] = [];

  beforeAll(async () => {
    broker = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      connectionFailedAuthenticationDelayMs: 0,
      sasl: {
        enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'],
        plainUsers: { alice: 'alice-secret' },
        oauthBearer: { allowUnsecured: true },
      },
      listeners: [{ name: 'SASL', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' }],
    });
    broker.on('error', (e) => errors.push(e));
    port = (await broker.listen()).port;
  });

  afterAll(() => broker?.close());

  it('stays up through 600 hostile connections and serves an authenticated client after them', async () => {
    const rand = random(0x6b6368);
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 20 }, () => send(port, hostileInput(rand))));
    }
    expect(errors).toEqual([]);
    const kafka = new Kafka({
      clientId: 'after-fuzz',
      brokers: [`127.0.0.1:${port}`],
      sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const [meta] = await producer.send({ topic: 'after-fuzz', messages: [{ value: 'still here' }] });
    await producer.disconnect();
    expect(meta!.errorCode).toBe(0);
    // Every connection is gone once its client went: nothing leaks.
    await expect.poll(() => broker.openConnections).toBe(0);
  });
});
