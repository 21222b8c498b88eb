import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEAD_LETTER_HEADERS } from '@kch/broker';
import { ErrorCode } from '@kch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bad,
  good,
  type Input,
  ORDERS_KAFKAJS,
  ORDERS_LIBRDKAFKA,
  REFUNDS_GOOD,
  REFUNDS_LIBRDKAFKA,
  REFUNDS_MIXED,
} from '../src/records.js';
import { ORDERS_SELECT, ORDERS_TABLE, REFUNDS_SELECT, REFUNDS_TABLE } from '../src/sql.js';
import { ORDERS, ORDERS_DLQ, REFUNDS, refundSchema } from '../src/topics.js';
import {
  checkConfigs,
  consume,
  endOffsets,
  librdkafkaAvailable,
  metricValues,
  produce,
  produceRaw,
  produceWithLibrdkafka,
  type Stack,
  select,
  start,
} from '../src/validated-ingest.js';

// The librdkafka steps need Debian's python3-confluent-kafka: skipped without it, except in CI
// (.ci/run installs it).
const librdkafka = librdkafkaAvailable();
const NO_LIBRDKAFKA = 'python3-confluent-kafka is not installed (apt-get install python3-confluent-kafka)';
if (!librdkafka && process.env.CI) {
  throw new Error(`${NO_LIBRDKAFKA}; CI must have it: .ci/run installs it`);
}

type Placed = Input & { offset: number };

/** The offsets records get: consecutive per partition, in the order sent, bad records included (holes). */
function placed(sent: readonly Input[]): Placed[] {
  const next = new Map<number, number>();
  return sent.map((i) => {
    const offset = next.get(i.partition) ?? 0;
    next.set(i.partition, offset + 1);
    return { ...i, offset };
  });
}

const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) =>
  a.partition - b.partition || a.offset - b.offset;

/** End offset of each partition after `sent`. */
function ends(sent: readonly Input[], partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => sent.filter((i) => i.partition === p).length);
}

/** How ClickHouse prints a DateTime64(3, 'UTC'): 2024-06-03 09:15:00.000. */
const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/**
 * A date as the producer wrote it, in ms: ISO with a zone, a date and time without one (read in the
 * column's time zone, UTC), or unix seconds in a string.
 */
function dateMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const iso = text.replace(' ', 'T');
  return Date.parse(/(Z|[+-]\d\d:\d\d)$/.test(iso) ? iso : `${iso}Z`);
}

/** The row of shop.orders a good record becomes (ORDERS_SELECT's columns). */
function orderRow(r: Placed) {
  const v = JSON.parse(r.value);
  return {
    _partition: r.partition,
    _offset: r.offset,
    id: v.id,
    customer: v.customer,
    amount: v.amount,
    currency: v.currency ?? 'EUR', // the column's DEFAULT
    placed_at: utc(dateMs(v.placed_at)),
    _timestamp_ms: utc(r.timestamp),
    _key: r.key,
    _raw_message: r.value,
  };
}

/** The row of shop.refunds a good record becomes (REFUNDS_SELECT's columns). */
function refundRow(r: Placed) {
  const v = JSON.parse(r.value);
  return {
    _partition: r.partition,
    _offset: r.offset,
    order_id: v.order_id,
    amount: v.amount,
    reason: v.reason,
    _timestamp_ms: utc(r.timestamp),
  };
}

/** A reason pattern without its anchors, to find it inside a longer message. */
const inner = (re: RegExp) => re.source.replace(/^\^/, '').replace(/\$$/, '');

describe('validated ingest: a zod schema and dead letters, a JSON Schema and rejects, on embedded ClickHouse', () => {
  // chdb opens one data directory per process; vitest runs each test file in a process of its own.
  const dir = mkdtempSync(join(tmpdir(), 'kch-validated-ingest-'));
  let stack: Stack;
  /** Everything produced to `orders` so far, in order; and the count of records rejected on `refunds`. */
  const sentOrders: Input[] = [];
  const storedRefunds: Input[] = [];
  let rejected = 0;
  let round = 0;

  beforeAll(async () => {
    stack = await start(dir);
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the table, the topic and the dead-letter topic must hold after `sentOrders`. */
  async function expectOrders(): Promise<void> {
    round += 1;
    const all = placed(sentOrders);
    // In the order SELECT ... ORDER BY _partition, _offset and `consume` give them.
    const goodOnes = all.filter((r) => !r.bad).sort(byPosition);
    const badOnes = all.filter((r) => r.bad);

    // The good records are rows of the typed table: typed columns, the DEFAULT, the value as sent.
    expect(await select(stack, ORDERS_SELECT)).toEqual(goodOnes.map(orderRow));
    expect(
      await select(
        stack,
        'SELECT _headers.name AS n, _headers.value AS v FROM shop.orders ORDER BY _partition, _offset',
      ),
    ).toEqual(goodOnes.map((r) => ({ n: Object.keys(r.headers ?? {}), v: Object.values(r.headers ?? {}) })));

    // Every record took an offset; consumers get exactly the good ones, at theirs: the bad ones are holes.
    expect(await endOffsets(stack, ORDERS)).toEqual(ends(sentOrders, 2));
    expect(await endOffsets(stack, ORDERS_DLQ)).toEqual(ends(badOnes, 2));
    const [records, dead] = await Promise.all([
      consume(stack, ORDERS, goodOnes.length, `orders-reader-${round}`),
      consume(stack, ORDERS_DLQ, badOnes.length, `orders-dlq-reader-${round}`),
    ]);
    expect(records).toEqual(
      goodOnes.map((r) => ({
        partition: r.partition,
        offset: r.offset,
        key: r.key,
        value: r.value,
        timestamp: r.timestamp,
        headers: r.headers ?? {},
      })),
    );

    // The bad ones are in orders.dlq, in the source's partition, as sent, with the kch.dlq.* headers.
    const dlqOffsets = placed(badOnes).map((d) => d.offset);
    expect(dead).toEqual(
      badOnes
        .map((d, n) => ({
          partition: d.partition,
          offset: dlqOffsets[n]!,
          key: d.key,
          value: d.value,
          timestamp: d.timestamp,
          headers: {
            ...d.headers,
            [DEAD_LETTER_HEADERS.reason]: expect.stringMatching(d.bad!.reason),
            [DEAD_LETTER_HEADERS.topic]: ORDERS,
            [DEAD_LETTER_HEADERS.partition]: String(d.partition),
            // The offset the record would have had: its hole in `orders`.
            [DEAD_LETTER_HEADERS.offset]: String(d.offset),
          },
        }))
        .sort(byPosition),
    );
  }

  it('declares the topics with their checks', async () => {
    expect(await checkConfigs(stack, ORDERS)).toEqual({
      'kch.table': 'shop.orders',
      'kch.format': 'JSONEachRow',
      'kch.invalid.records': 'dead-letter',
      'kch.dead.letter.topic': ORDERS_DLQ,
      // No kch.schema: the zod schema lives in the broker's memory, not in a config (unset: left out).
    });
    const refunds = await checkConfigs(stack, REFUNDS);
    expect(refunds).toMatchObject({ 'kch.table': 'shop.refunds', 'kch.invalid.records': 'reject' });
    expect(JSON.parse(refunds['kch.schema']!)).toEqual(refundSchema);
    const metadata = await stack.admin.fetchTopicMetadata({ topics: [ORDERS, REFUNDS] });
    expect(Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]))).toEqual({
      [ORDERS]: 2,
      [REFUNDS]: 1,
    });
  });

  it('dead-letter mode (kafkajs): acknowledges the batch, stores the good records, dead-letters the bad', async () => {
    // The inputs cover what the issue lists: good records, malformed JSON, wrong types, a missing
    // required column, and schema (zod) violations.
    expect(bad(ORDERS_KAFKAJS).map((i) => i.bad!.problem)).toEqual([
      'malformed JSON (cut off)',
      'a negative amount (zod rule)',
      'a string for a UInt64 (wrong type)',
      'no customer (a required column)',
      'an unknown currency (zod rule)',
      'a third decimal (zod rule; Decimal(10, 2) would truncate it)',
    ]);
    const acks = await produce(stack, ORDERS, ORDERS_KAFKAJS);
    sentOrders.push(...ORDERS_KAFKAJS);
    expect(acks.sort((a, b) => a.partition - b.partition)).toMatchObject([
      { partition: 0, errorCode: 0, baseOffset: '0' },
      { partition: 1, errorCode: 0, baseOffset: '0' },
    ]);
    await expectOrders();
  });

  it('dead-letter mode (librdkafka): every record delivered at its offset, the bad one a hole', async (ctx) => {
    // ctx.skip's reason is printed by vitest's default reporter; it.skipIf's is not.
    ctx.skip(!librdkafka, NO_LIBRDKAFKA);
    const before = placed(sentOrders).length;
    const deliveries = await produceWithLibrdkafka(stack.bootstrap, ORDERS, ORDERS_LIBRDKAFKA);
    sentOrders.push(...ORDERS_LIBRDKAFKA);
    expect(deliveries).toEqual(
      placed(sentOrders)
        .slice(before)
        .map((r) => ({ partition: r.partition, offset: r.offset, error: null, code: null })),
    );
    await expectOrders();
  });

  it('reject mode: a batch with a bad record gets INVALID_RECORD, and nothing of it is stored', async () => {
    const first = await produce(stack, REFUNDS, REFUNDS_GOOD);
    storedRefunds.push(...REFUNDS_GOOD);
    expect(first).toMatchObject([{ partition: 0, errorCode: 0, baseOffset: '0' }]);

    // kafkajs (Produce v7) sees the error code only.
    const failure = await produce(stack, REFUNDS, REFUNDS_MIXED).then(
      () => null,
      (e: Error) => e,
    );
    rejected += bad(REFUNDS_MIXED).length;
    expect(failure).toMatchObject({ name: 'KafkaJSProtocolError', type: 'INVALID_RECORD', retriable: false });

    // Produce v9 carries the reasons: one per bad record, by its index in the batch.
    const answer = await produceRaw(stack.bootstrap, REFUNDS, 0, REFUNDS_MIXED);
    rejected += bad(REFUNDS_MIXED).length;
    const badOnes = REFUNDS_MIXED.flatMap((r, index) => (r.bad ? [{ index, reason: r.bad.reason }] : []));
    expect(answer).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD, baseOffset: -1n });
    expect(answer.recordErrors).toEqual(
      badOnes.map((b) => ({ batchIndex: b.index, batchIndexErrorMessage: expect.stringMatching(b.reason) })),
    );
    expect(answer.errorMessage).toMatch(
      new RegExp(
        `^${badOnes.length} of ${REFUNDS_MIXED.length} records were rejected; the first: ${inner(badOnes[0]!.reason)}`,
      ),
    );

    // Nothing of the batch is stored, the good records of it neither; no offset was taken.
    expect(await endOffsets(stack, REFUNDS)).toEqual([storedRefunds.length]);
    expect(await select(stack, REFUNDS_SELECT)).toEqual(placed(storedRefunds).map(refundRow));

    // Its good records, sent again, follow without a hole.
    const again = await produce(stack, REFUNDS, good(REFUNDS_MIXED));
    expect(again).toMatchObject([{ errorCode: 0, baseOffset: String(storedRefunds.length) }]);
    storedRefunds.push(...good(REFUNDS_MIXED));
    expect(await select(stack, REFUNDS_SELECT)).toEqual(placed(storedRefunds).map(refundRow));
    expect(await endOffsets(stack, REFUNDS)).toEqual([storedRefunds.length]);
  });

  it('reject mode (librdkafka): every record of the batch fails', async (ctx) => {
    ctx.skip(!librdkafka, NO_LIBRDKAFKA);
    const deliveries = await produceWithLibrdkafka(stack.bootstrap, REFUNDS, REFUNDS_LIBRDKAFKA);
    rejected += bad(REFUNDS_LIBRDKAFKA).length;
    expect(deliveries).toEqual(
      REFUNDS_LIBRDKAFKA.map((r) => ({
        partition: r.partition,
        offset: null,
        error: 'Broker: Broker failed to validate record',
        code: 'INVALID_RECORD',
      })),
    );
    expect(await select(stack, REFUNDS_SELECT)).toEqual(placed(storedRefunds).map(refundRow));
    expect(await endOffsets(stack, REFUNDS)).toEqual([storedRefunds.length]);
  });

  it("counts it all on the broker's metrics", async () => {
    const metrics = await metricValues(stack, [
      'kch_produced_records_total',
      'kch_records_rejected_total',
      'kch_records_dead_lettered_total',
      'kch_dead_letter_failures_total',
    ]);
    expect(Object.fromEntries(metrics)).toEqual({
      [`kch_produced_records_total{topic="${ORDERS}"}`]: good(sentOrders).length,
      [`kch_produced_records_total{topic="${ORDERS_DLQ}"}`]: bad(sentOrders).length,
      [`kch_produced_records_total{topic="${REFUNDS}"}`]: storedRefunds.length,
      [`kch_records_dead_lettered_total{topic="${ORDERS}"}`]: bad(sentOrders).length,
      [`kch_records_rejected_total{topic="${REFUNDS}"}`]: rejected,
    });
  });

  it('after a restart, serves the same records from the tables, holes and dead letters included', async () => {
    // Until now consumers were served from the broker's memory (the tail cache); a new broker on the
    // same data directory reads everything from ClickHouse: the rows of shop.orders (value from
    // _raw_message, key, headers, timestamp from their columns) and the dead-letter topic's own table.
    await stack.close();
    stack = await start(dir);
    await expectOrders();

    // shop.refunds has no _raw_message and no _key: its records come back as ClickHouse writes the row.
    const refunds = await consume(stack, REFUNDS, storedRefunds.length, 'refunds-reader');
    expect(refunds.map((r) => ({ ...r, value: JSON.parse(r.value!) }))).toEqual(
      placed(storedRefunds).map((r) => ({
        partition: r.partition,
        offset: r.offset,
        key: null,
        value: JSON.parse(r.value),
        timestamp: r.timestamp,
        headers: {},
      })),
    );
  });

  it('README shows the SQL the example runs', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const sql of [ORDERS_TABLE, REFUNDS_TABLE]) expect(readme).toContain(sql);
  });
});
