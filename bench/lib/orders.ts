/** The order-like JSON values and their schema that the record-check benchmarks validate. */

/** Types declared on every subschema, so that the same document is accepted by every kch version. */
export const ORDER_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    sku: { type: 'string', minLength: 1 },
    qty: { type: 'integer', minimum: 1 },
    amount: { type: 'number' },
    currency: { enum: ['EUR', 'USD', 'GBP', 'CHF'] },
    tags: { type: 'array', items: { type: 'string' } },
    placed_at: { type: 'string' },
  },
  required: ['id', 'sku', 'qty'],
};

/** An order ORDER_SCHEMA accepts (~150 bytes as JSON). */
export const ORDER = {
  id: 1234567,
  sku: 'SKU-000123',
  qty: 2,
  amount: 19.99,
  currency: 'EUR',
  tags: ['gift', 'express'],
  placed_at: '2026-01-31T23:59:59Z',
};

/** The same order with two faults ORDER_SCHEMA refuses. */
export const INVALID_ORDER = { ...ORDER, qty: 'two', currency: 'YEN' };
