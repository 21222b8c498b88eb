/**
 * The two topics, as declared in the broker's `topics` option: created at start when missing, their
 * configs (`kch.table`, `kch.invalid.records`, `kch.schema`...) set from these fields.
 *
 * A record is checked in this order, and the first check that fails gives its reason:
 *   1. the bound table: the value must be one JSON object whose fields fit the column types, with
 *      every required column (no DEFAULT, not Nullable) given;
 *   2. a JSON Schema (`kch.schema`), when the topic has one;
 *   3. a zod schema given in code, when the topic has one.
 */
import type { BrokerOptionsInput } from '@kch/broker';
import { z } from 'zod';

export const ORDERS = 'orders';
export const ORDERS_DLQ = 'orders.dlq';
export const REFUNDS = 'refunds';

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'] as const;

/**
 * Business rules on top of the table's types: the table takes any Decimal(10, 2), so a negative
 * amount, a third decimal (which Decimal(10, 2) would truncate silently: 12.345 -> 12.34) or an
 * unknown currency would be stored. Fields the rules do not name are not looked at here (the table's
 * check has done that), and a missing `currency` takes the column's DEFAULT.
 */
export const orderRules = z.object({
  amount: z.number().positive().multipleOf(0.01),
  currency: z.enum(CURRENCIES).optional(),
});

/** A JSON Schema, stored with the topic as `kch.schema`: every broker on the same storage applies it. */
export const refundSchema = {
  type: 'object',
  properties: {
    order_id: { type: 'integer', minimum: 1 },
    amount: { type: 'number', exclusiveMinimum: 0 },
    reason: { type: 'string', enum: ['damaged', 'late', 'wrong-item'] },
  },
  required: ['order_id', 'amount', 'reason'],
};

export const TOPICS: NonNullable<BrokerOptionsInput['topics']> = {
  // Bad records go to orders.dlq; the good records of the same batch are stored and acknowledged.
  [ORDERS]: {
    partitions: 2,
    table: 'shop.orders',
    format: 'JSONEachRow',
    onInvalid: 'dead-letter',
    deadLetterTopic: ORDERS_DLQ, // the default, <topic>.dlq
    schema: orderRules,
  },
  // One bad record fails its whole batch with INVALID_RECORD; nothing of the batch is stored.
  [REFUNDS]: {
    partitions: 1,
    table: 'shop.refunds',
    onInvalid: 'reject', // the default
    schema: refundSchema,
  },
};
