/**
 * `topics` in the broker's options: read from the config file (or KCH_TOPICS), checked with the
 * broker's schema, passed to the broker, which creates the topics; dead-lettered records counted on
 * /metrics; a declaration the broker refuses stops the start with a message naming the topic.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import { OptionsError, resolveBrokerOptions } from '../src/options.js';
import { brokerArgs, metric, runKch, startKch } from './kch-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-cli-topics-'));
function configFile(content: unknown): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const orders = {
  partitions: 2,
  onInvalid: 'dead-letter',
  schema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  configs: { 'retention.ms': 86400000 },
};

describe('the topics option', () => {
  it('comes from the config file or KCH_TOPICS, in the shape of the broker option', () => {
    const fromFile = resolveBrokerOptions({ config: configFile({ topics: { orders } }) }, {}).options;
    expect(fromFile.topics).toEqual({ orders: { ...orders, configs: { 'retention.ms': '86400000' } } });
    const fromEnv = resolveBrokerOptions(
      {},
      { KCH_TOPICS: JSON.stringify({ events: { table: 'db.events' } }) },
    );
    expect(fromEnv.options.topics).toEqual({ events: { table: 'db.events' } });
    expect(resolveBrokerOptions({}, {}).options.topics).toEqual({});
  });

  it('explains a bad declaration, naming the topic and the field', () => {
    const message = (topics: unknown) => {
      try {
        resolveBrokerOptions({ config: configFile({ topics }) }, {});
      } catch (e) {
        expect(e).toBeInstanceOf(OptionsError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(message({ orders: { onInvalid: 'drop' } })).toMatch(/topics in .*: topic orders: onInvalid: /);
    expect(message({ orders: { schema: 'text' } })).toMatch(
      /topic orders: schema: must be a zod schema \(or another Standard Schema\) or a JSON Schema object/,
    );
    expect(message({ orders: { tabel: 'x' } })).toMatch(
      /topic orders: declaration: Unrecognized key: "tabel"/,
    );
    expect(message([1])).toMatch(/must be a JSON object of topics/);
  });

  it('creates the declared topics when the broker starts; their invalid records show on /metrics', async () => {
    const kch = await startKch(brokerArgs('memory', '--config', configFile({ topics: { orders } })));
    try {
      const kafka = new Kafka({ clientId: 'cli-test', brokers: [kch.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      const meta = await admin.fetchTopicMetadata({ topics: ['orders'] });
      await admin.disconnect();
      expect(meta.topics[0]!.partitions).toHaveLength(2);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: 'orders',
        messages: [
          { partition: 0, value: '{"id": 1}' },
          { partition: 0, value: '{"id": "one"}' },
        ],
      });
      await producer.disconnect();
      const text = await (await fetch(`${kch.adminUrl}/metrics`)).text();
      expect(metric(text, 'kch_records_dead_lettered_total{topic="orders"}')).toBe(1);
      expect(metric(text, 'kch_produced_records_total{topic="orders.dlq"}')).toBe(1);
    } finally {
      await kch.stop('SIGKILL');
    }
  });

  it('stops the start with the reason when the broker refuses a declaration', async () => {
    const r = await runKch(
      [
        'broker',
        '--port',
        '0',
        '--admin-port',
        'off',
        '--storage',
        'memory',
        '--config',
        // A misspelt keyword ("require"): enforced as written, it would check nothing.
        configFile({ topics: { orders: { schema: { type: 'object', require: ['id'] } } } }),
      ],
      { timeoutMs: 30_000 },
    );
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain(
      'kch broker: invalid broker options: topics.orders: Invalid value {"type":"object","require":["id"]} for configuration kch.schema: not a JSON Schema kch can enforce: unknown keyword "require"',
    );
  });
});
