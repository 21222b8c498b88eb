import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import topics from '../src/commands/topics.js';
import transactions from '../src/commands/transactions.js';
import { run, startTestBroker, type TestBroker } from './client-helpers.js';

let broker: TestBroker;
let producer: Producer;
const kch = (command: typeof transactions, args: string[]) =>
  run(command, args, { bootstrap: broker.bootstrap });

/** The rows of a table printed by the command, as arrays of cells (header first). */
const rows = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));

beforeAll(async () => {
  broker = await startTestBroker();
  await kch(topics, ['create', 'payments', '--partitions', '1']);
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: 'payments', messages: [{ value: 'before' }] });
  await plain.disconnect();
  // A transaction left open at offset 1: what `abort` is for.
  producer = kafka.producer({ transactionalId: 'hanging-writer', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'payments', messages: [{ value: 'open' }] });
});
afterAll(async () => {
  await producer?.disconnect();
  await broker?.close();
});

describe('kch transactions', () => {
  it('lists the transactional ids, filtered by state', async () => {
    const r = await kch(transactions, ['list', '--state', 'Ongoing']);
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(rows(r.stdout)).toEqual([
      ['TransactionalId', 'ProducerId', 'TransactionState'],
      ['hanging-writer', expect.stringMatching(/^\d+$/), 'Ongoing'],
    ]);
    const none = await kch(transactions, ['list', '--state', 'CompleteCommit']);
    expect(rows(none.stdout)).toEqual([['TransactionalId', 'ProducerId', 'TransactionState']]);
  });

  it('describes a transaction and the producers of a partition', async () => {
    const described = JSON.parse((await kch(transactions, ['describe', 'hanging-writer', '--json'])).stdout);
    expect(described).toMatchObject({
      transactionalId: 'hanging-writer',
      transactionState: 'Ongoing',
      topics: [{ topic: 'payments', partitions: [0] }],
    });
    const producers = await kch(transactions, [
      'describe-producers',
      '--topic',
      'payments',
      '--partition',
      '0',
    ]);
    expect(producers.code, producers.stderr).toBe(ExitCode.OK);
    expect(rows(producers.stdout)[1]!.at(-1)).toBe('1');
    const unknown = await kch(transactions, ['describe', 'nobody']);
    expect(unknown.code).not.toBe(ExitCode.OK);
    expect(unknown.stderr).toMatch(/no transactional id "nobody"/);
  });

  it('aborts the hanging transaction by where it starts; its producer is fenced', async () => {
    const wrong = await kch(transactions, [
      'abort',
      '--topic',
      'payments',
      '--partition',
      '0',
      '--start-offset',
      '0',
    ]);
    expect(wrong.code).not.toBe(ExitCode.OK);
    expect(wrong.stderr).toMatch(/no open transaction of payments-0 starts at offset 0/);
    const r = await kch(transactions, [
      'abort',
      '--topic',
      'payments',
      '--partition',
      '0',
      '--start-offset',
      '1',
    ]);
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(
      /^Aborted the transaction of producer \d+ \(epoch \d+\) that started at offset 1 of payments-0\.$/m,
    );
    for (let i = 0; i < 100; i++) {
      const d = JSON.parse((await kch(transactions, ['describe', 'hanging-writer', '--json'])).stdout);
      if (d.transactionState === 'CompleteAbort') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = JSON.parse((await kch(transactions, ['describe', 'hanging-writer', '--json'])).stdout);
    expect(after.transactionState).toBe('CompleteAbort');
  });

  it('says which options a command takes', async () => {
    const r = await kch(transactions, ['describe-producers', '--topic', 'payments']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(/needs --topic and --partition/);
  });
});
