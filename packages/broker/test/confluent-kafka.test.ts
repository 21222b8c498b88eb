/**
 * librdkafka through python3-confluent-kafka: AdminClient, idempotent producer, a consumer group,
 * and its transactional API.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

const script = (name: string) => fileURLToPath(new URL(`./python/${name}`, import.meta.url));

describe('confluent-kafka', () => {
  skipEachUnless(confluentKafka);
  let b: RunningBroker;
  beforeAll(async () => {
    if (confluentKafka.available) b = await startBroker();
  });
  afterAll(async () => {
    await b?.close();
  });

  it('AdminClient manages topics and configs; an idempotent producer writes every record once', async () => {
    const r = await run(PYTHON, [script('confluent_admin.py'), b.bootstrap, 'ck-admin'], {
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      duplicate_error: 'TOPIC_ALREADY_EXISTS',
      topics: ['ck-admin-one', 'ck-admin-two'],
      partitions_one: 3,
      retention_ms: '60000',
      cleanup_policy_default: true,
      retention_after_alter: '120000',
      partitions_two: 4,
      produce_errors: [],
      stored: 500,
      after_delete: ['ck-admin-one'],
    });
  });

  it('three consumers read every acknowledged record of a 6-partition topic; a late member honours commits', async () => {
    const r = await run(PYTHON, [script('confluent_group.py'), b.bootstrap, 'ck-group'], {
      timeoutMs: 180_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.acked).toBe(900);
    expect(out.missing).toEqual([]);
    expect(out.distinct).toBe(900);
    expect(out.first_phase_reads).toBeGreaterThanOrEqual(600);
    expect(out.duplicates).toBe(0);
    // All three original members took part.
    for (const name of ['c0', 'c1', 'c2']) expect(out.reads[name] ?? 0).toBeGreaterThan(0);
  });

  it('transactions: a consume-transform-produce loop, aborted once and restarted with a transaction open, yields every input exactly once', async () => {
    const r = await run(PYTHON, [script('confluent_transactions.py'), b.bootstrap, 'ck-eos'], {
      timeoutMs: 170_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.values).toEqual(Array.from({ length: 100 }, (_, i) => `V${String(i).padStart(3, '0')}`));
    expect(out.committed).toBe(100);
    // librdkafka names the fencing error the zombie's commit got.
    expect(out.zombie_error).toMatch(/FENCED|INVALID_PRODUCER_EPOCH/);
  });
});
