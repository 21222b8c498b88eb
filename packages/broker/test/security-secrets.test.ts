/**
 * Credentials never appear in logs, events or metrics: a broker logging at debug level, with metrics,
 * sees successful and failed logins of every password mechanism, and none of the passwords (nor the
 * SASL tokens that carry them) shows up anywhere it writes.
 */
import { type Broker, brokerMetrics, createBroker, type Logger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramCredential } from '../src/security/sasl/scram.js';

const SECRETS = ['alice-plain-Secret-1', 'bob-scram-Secret-2', 'wrong-Secret-3'];

describe('credentials stay out of logs, events and metrics', () => {
  let broker: Broker;
  let port: number;
  const written: string[] = [];

  beforeAll(async () => {
    const logger: Logger = Object.fromEntries(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => [
        level,
        (msg: string, fields?: Record<string, unknown>) =>
          written.push(JSON.stringify({ level, msg, ...fields })),
      ]),
    ) as unknown as Logger;
    broker = await createBroker({
      storage: memoryStorage(),
      logger,
      connectionFailedAuthenticationDelayMs: 0,
      sasl: { plainUsers: { alice: SECRETS[0]! } },
      listeners: [{ name: 'SASL', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' }],
    });
    for (const event of ['authentication', 'request', 'connection', 'disconnect', 'error'] as const)
      broker.on(event, (...args: unknown[]) =>
        written.push(JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? String(v) : v))),
      );
    port = (await broker.listen()).port;
    await broker.context.security.store.putScramCredential(
      await scramCredential('bob', 'SCRAM-SHA-256', SECRETS[1]!, 4096),
    );
  });

  afterAll(() => broker?.close());

  it('logs who failed to authenticate and how, never a password', async () => {
    const attempts: SASLOptions[] = [
      { mechanism: 'plain', username: 'alice', password: SECRETS[0]! },
      { mechanism: 'plain', username: 'alice', password: SECRETS[2]! },
      { mechanism: 'scram-sha-256', username: 'bob', password: SECRETS[1]! },
      { mechanism: 'scram-sha-256', username: 'bob', password: SECRETS[2]! },
    ];
    for (const sasl of attempts) {
      const admin = new Kafka({
        clientId: 'secrets',
        brokers: [`127.0.0.1:${port}`],
        sasl,
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      }).admin();
      await admin.connect().then(
        () => admin.listTopics(),
        () => undefined,
      );
      await admin.disconnect();
    }
    const metrics = brokerMetrics(broker);
    written.push(await metrics.render());
    metrics.close();
    const all = written.join('\n');
    expect(all).toContain('authentication failed');
    expect(all).toContain('User:bob');
    for (const secret of SECRETS) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(Buffer.from(secret).toString('base64'));
    }
  });
});
