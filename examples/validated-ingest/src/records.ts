/**
 * What the producers send: good records and bad ones, each bad one saying what is wrong with it and
 * the reason the broker should give (the test checks the broker agrees, and computes everything else
 * it expects, offsets, rows, dead letters and counts, from these lists).
 *
 * Values are written by hand, not with JSON.stringify: spacing and member order vary, as they do
 * between producers, and the topic gives each value back byte for byte (`_raw_message`).
 */

export interface Input {
  partition: number;
  key: string | null;
  value: string;
  /** CreateTime, ms since the epoch. */
  timestamp: number;
  headers?: Record<string, string>;
  /** Set on a bad record: what is wrong with it, and (a pattern of) the reason the broker gives. */
  bad?: { problem: string; reason: RegExp };
}

/** 2024-06-03 09:00 UTC plus `minutes`. */
export const at = (minutes: number) => Date.UTC(2024, 5, 3, 9, minutes);

const zodRules = 'the value does not match the schema of topics\\.orders in the broker options: ';
const jsonSchema = 'the value does not match kch\\.schema: ';

/** Orders, produced with kafkajs in one send: one batch per partition. */
export const ORDERS_KAFKAJS: Input[] = [
  {
    partition: 0,
    key: 'order-1',
    value: '{"id":1,"customer":"ann","amount":12.5,"currency":"EUR","placed_at":"2024-06-03T09:15:00Z"}',
    timestamp: at(15),
    headers: { 'trace-id': 'a1' },
  },
  {
    partition: 0,
    key: 'order-2',
    value: '{"id":2,"customer":"bob","amount":30,',
    timestamp: at(16),
    headers: { 'trace-id': 'b2' },
    bad: { problem: 'malformed JSON (cut off)', reason: /^the value is not JSON: / },
  },
  {
    partition: 0,
    key: 'order-3',
    value: '{ "id": 3, "customer": "chloé", "amount": 99.99, "placed_at": "2024-06-03 10:00:00" }',
    timestamp: at(60),
  },
  {
    partition: 0,
    key: 'order-4',
    value: '{"id":4,"customer":"dan","amount":-5,"currency":"USD","placed_at":"2024-06-03T10:30:00Z"}',
    timestamp: at(90),
    bad: { problem: 'a negative amount (zod rule)', reason: new RegExp(`^${zodRules}amount: Too small`) },
  },
  {
    partition: 0,
    key: 'order-5',
    value:
      '{"placed_at":"2024-06-03T11:00:00.250+02:00","id":5,"customer":"eve","currency":"GBP","amount":7.25}',
    timestamp: at(100),
  },
  {
    partition: 1,
    key: 'order-6',
    value: '{"id":"six","customer":"fay","amount":10,"placed_at":"2024-06-03T09:20:00Z"}',
    timestamp: at(20),
    bad: { problem: 'a string for a UInt64 (wrong type)', reason: /^field "id": expected UInt64, got "six"/ },
  },
  {
    partition: 1,
    key: 'order-7',
    value:
      '{"id":7,"customer":"gus","amount":42,"currency":"CHF","placed_at":"2024-06-03T12:00:00Z","coupon":"SUMMER24"}',
    timestamp: at(180),
  },
  {
    partition: 1,
    key: 'order-8',
    value: '{"id":8,"amount":15,"placed_at":"2024-06-03T12:05:00Z"}',
    timestamp: at(185),
    headers: { 'trace-id': 'h8', source: 'web' },
    bad: {
      problem: 'no customer (a required column)',
      reason: /^field "customer": expected String, got nothing \(the column has no DEFAULT\)$/,
    },
  },
  {
    partition: 1,
    key: 'order-9',
    value: '{"id":9,"customer":"ivy","amount":20,"currency":"BTC","placed_at":"2024-06-03T12:10:00Z"}',
    timestamp: at(190),
    bad: {
      problem: 'an unknown currency (zod rule)',
      reason: new RegExp(`^${zodRules}currency: Invalid option`),
    },
  },
  {
    partition: 1,
    key: 'order-10',
    value: '{"id":10,"customer":"jo","amount":12.345,"placed_at":"2024-06-03T12:15:00Z"}',
    timestamp: at(195),
    bad: {
      problem: 'a third decimal (zod rule; Decimal(10, 2) would truncate it)',
      reason: new RegExp(`^${zodRules}amount: .*multiple of 0\\.01`),
    },
  },
  {
    partition: 1,
    key: null,
    value: '{"id":11,"customer":"kim","amount":0.5,"currency":"USD","placed_at":"1717416000"}',
    timestamp: at(200),
  },
];

/** Orders produced by librdkafka (python3-confluent-kafka), after the kafkajs ones. */
export const ORDERS_LIBRDKAFKA: Input[] = [
  {
    partition: 0,
    key: 'order-12',
    value: '{"id":12,"customer":"lee","amount":64.9,"placed_at":"2024-06-03T13:00:00Z"}',
    timestamp: at(240),
  },
  {
    partition: 0,
    key: 'order-13',
    value: '{"id":13,"customer":"max","amount":5,"placed_at":"next tuesday"}',
    timestamp: at(241),
    headers: { 'trace-id': 'm13' },
    bad: { problem: 'not a date', reason: /^field "placed_at": expected DateTime64\(3, 'UTC'\)/ },
  },
  {
    partition: 1,
    key: 'order-14',
    value: '{"id":14,"customer":"ned","amount":1000,"currency":"USD","placed_at":"2024-06-03T13:05:00Z"}',
    timestamp: at(245),
  },
];

/** Refunds: a good batch, a batch with two bad records (rejected whole), then its good records again. */
export const REFUNDS_GOOD: Input[] = [
  {
    partition: 0,
    key: 'order-1',
    value: '{"order_id":1,"amount":12.5,"reason":"damaged"}',
    timestamp: at(300),
  },
  { partition: 0, key: 'order-3', value: '{"order_id":3,"amount":20,"reason":"late"}', timestamp: at(301) },
];

export const REFUNDS_MIXED: Input[] = [
  {
    partition: 0,
    key: 'order-5',
    value: '{"order_id":5,"amount":7.25,"reason":"wrong-item"}',
    timestamp: at(310),
  },
  {
    partition: 0,
    key: 'order-7',
    value: '{"order_id":7,"amount":"ten","reason":"late"}',
    timestamp: at(311),
    bad: {
      problem: 'a string for a Decimal (table type)',
      reason: /^field "amount": expected Decimal\(10, 2\)/,
    },
  },
  {
    partition: 0,
    key: 'order-11',
    value: '{"order_id":11,"amount":0.5,"reason":"changed-mind"}',
    timestamp: at(312),
    bad: { problem: 'a reason not in the enum (JSON Schema)', reason: new RegExp(`^${jsonSchema}reason: `) },
  },
  {
    partition: 0,
    key: 'order-12',
    value: '{"order_id":12,"amount":64.9,"reason":"late"}',
    timestamp: at(313),
  },
];

/** Refunds produced by librdkafka: one bad record fails the batch for librdkafka too. */
export const REFUNDS_LIBRDKAFKA: Input[] = [
  {
    partition: 0,
    key: 'order-14',
    value: '{"order_id":14,"amount":100,"reason":"damaged"}',
    timestamp: at(320),
  },
  {
    partition: 0,
    key: null,
    value: '{"order_id":0,"amount":1,"reason":"late"}',
    timestamp: at(321),
    bad: { problem: 'order_id 0 (JSON Schema minimum 1)', reason: new RegExp(`^${jsonSchema}order_id: `) },
  },
];

export const good = (inputs: readonly Input[]) => inputs.filter((i) => !i.bad);
export const bad = (inputs: readonly Input[]) => inputs.filter((i) => i.bad);
