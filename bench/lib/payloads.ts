/**
 * The kinds of record value the bench sends (`--payloads`): printable random values (base64url, the
 * bench's first and default kind), random bytes (Avro, Protobuf, compressed payloads look like this to
 * a broker: 5 in 256 bytes need a TSV escape) and JSON objects (order-like records). Every kind is a
 * pool of values of exactly the value size, so the clients and limits read all of them alike.
 */
import { createHash } from 'node:crypto';

export type Payload = 'printable' | 'binary' | 'json';

export const PAYLOADS: readonly Payload[] = ['printable', 'binary', 'json'];

/**
 * The key of a size and payload in results.json's limits (`1024`, `1024-binary`, `1024-json`):
 * printable keeps the bare size, as results of runs before payloads had it.
 */
export function payloadKey(size: number, payload: Payload = 'printable'): string {
  return payload === 'printable' ? String(size) : `${size}-${payload}`;
}

/** The size and payload of a limits key (`1024-binary`); a bare size is printable. */
export function parsePayloadKey(key: string): { size: number; payload: Payload } {
  const [size, payload] = key.split('-');
  return { size: Number(size), payload: (payload as Payload | undefined) ?? 'printable' };
}

export const sizeName = (s: number) => (s >= 1024 ? `${s / 1024} KiB` : `${s} B`);

/** How a report names values of a size and payload: `1 KiB`, `1 KiB binary`, `100 B json`. */
export function valuesName(size: number, payload: Payload = 'printable'): string {
  return payload === 'printable' ? sizeName(size) : `${sizeName(size)} ${payload}`;
}

/** Numbers in [0, 1) from SHA-256 of the seed and a counter: the JSON pool is the same in every run. */
function random(seed: number): () => number {
  let block = Buffer.alloc(0);
  let at = 0;
  let blocks = 0;
  return () => {
    if (at + 4 > block.length) {
      block = createHash('sha256').update(`${seed}/${blocks++}`).digest();
      at = 0;
    }
    at += 4;
    return block.readUInt32LE(at - 4) / 2 ** 32;
  };
}

// biome-ignore format: a word list
const WORDS = [
  'blue', 'cotton', 'shirt', 'large', 'express', 'gift', 'wrap', 'leave', 'at', 'door', 'fragile',
  'handle', 'with', 'care', 'second', 'floor', 'ring', 'bell', 'steel', 'bottle', 'coffee', 'beans',
  'organic', 'medium', 'roast', 'paper', 'filter', 'spare', 'battery', 'cable', 'charger', 'black',
];
const CITIES = ['Berlin', 'Lyon', 'Porto', 'Gdansk', 'Turin', 'Leeds', 'Ghent', 'Bergen', 'Brno', 'Cork'];
const STATUSES = ['created', 'paid', 'packed', 'shipped', 'delivered', 'returned'];
const CURRENCIES = ['EUR', 'GBP', 'USD', 'PLN', 'CZK', 'NOK'];

/**
 * One order-like JSON object of exactly `size` bytes (UTF-8, ASCII here): an id, customer, status,
 * timestamps, as many line items as fit and a free-text note that pads it to the size. Value `i` of a
 * pool carries id `i`, so the values are distinct; `rnd` varies the rest. Sizes too small for an
 * order get a shorter object, or a JSON string.
 */
export function jsonValue(i: number, size: number, rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const ts = 1_767_225_600_000 + i * 37 + int(1000);
  const note = (o: Record<string, unknown>, pad: number) => {
    let text = '';
    while (text.length < pad) text += `${text ? ' ' : ''}${pick(WORDS)}`;
    return { ...o, note: text.slice(0, pad) };
  };
  const order: Record<string, unknown> = {
    id: i,
    customer: { id: 10_000 + int(90_000), city: pick(CITIES) },
    status: pick(STATUSES),
    total: Math.round(rnd() * 50_000) / 100,
  };
  const fits = (o: Record<string, unknown>) => JSON.stringify(note(o, 0)).length <= size;
  if (!fits(order)) {
    const small = { id: i };
    if (!fits(small))
      return Buffer.from(
        `"${String(i)
          .padEnd(size - 2, 'x')
          .slice(0, size - 2)}"`,
      );
    return Buffer.from(JSON.stringify(note(small, size - JSON.stringify(note(small, 0)).length)));
  }
  // What else fits, in this order: currency, creation time, line items, update time.
  for (const more of [{ currency: pick(CURRENCIES) }, { createdAt: ts }]) {
    if (fits({ ...order, ...more })) Object.assign(order, more);
  }
  const items: { sku: string; qty: number; price: number }[] = [];
  for (;;) {
    const item = { sku: `SKU-${1000 + int(9000)}-${pick(['S', 'M', 'L', 'XL'])}`, qty: 1 + int(5), price: 0 };
    item.price = Math.round((1 + rnd() * 200) * 100) / 100;
    const total = items.reduce((t, x) => t + x.qty * x.price, item.qty * item.price);
    const next = { ...order, total: Math.round(total * 100) / 100, items: [...items, item] };
    if (!fits(next)) break;
    items.push(item);
    Object.assign(order, next);
  }
  const updated = { updatedAt: ts + int(600_000) };
  if (fits({ ...order, ...updated })) Object.assign(order, updated);
  const body = note(order, 0);
  return Buffer.from(JSON.stringify(note(order, size - JSON.stringify(body).length)));
}

/** `n` JSON values of `size` bytes back to back, the same for the same seed. */
export function jsonPool(n: number, size: number, seed = 19): Buffer {
  const rnd = random(seed);
  const buf = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const v = jsonValue(i, size, rnd);
    if (v.length !== size) throw new Error(`JSON value ${i} has ${v.length} bytes, not ${size}`);
    v.copy(buf, i * size);
  }
  return buf;
}
