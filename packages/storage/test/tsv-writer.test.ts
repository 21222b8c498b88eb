/**
 * The TSV writer's two modes: for transports that take bytes (`rawBytes`), strings pass byte for byte
 * with only TSV's own escapes, so a binary value stays its size; otherwise invalid UTF-8 becomes
 * `\xHH` and the payload is valid UTF-8. Each is read back with an unescaper written from ClickHouse's
 * TSV rules (the storage tests read them back through ClickHouse itself).
 */

import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TsvWriter } from '../src/clickhouse/tsv.js';

const LETTERS: Record<string, number> = { '0': 0, t: 9, n: 10, r: 13, '\\': 0x5c, "'": 0x27 };

/** A TSV string field back to its bytes, as ClickHouse reads one (the escapes the writer uses). */
function readField(field: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const e = String.fromCharCode(field[++i]!);
    if (e === 'x') {
      out.push(Number.parseInt(field.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else out.push(LETTERS[e]!);
  }
  return Buffer.from(out);
}

function written(value: Buffer, rawBytes: boolean): Buffer {
  const w = new TsvWriter(16, rawBytes);
  w.string(value, 0, value.length);
  return Buffer.from(w.view());
}

describe('TsvWriter', () => {
  for (const rawBytes of [true, false]) {
    it(`reads back any bytes exactly (${rawBytes ? 'raw bytes' : 'UTF-8 only'})`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (u) => {
          const out = written(Buffer.from(u), rawBytes);
          expect(readField(out).equals(Buffer.from(u))).toBe(true);
          // No raw tab or newline: they would end the field or the row.
          expect(out.includes(0x09) || out.includes(0x0a)).toBe(false);
          if (!rawBytes) expect(isUtf8(out)).toBe(true);
        }),
      );
    });
  }

  it('keeps a random binary value about its size with raw bytes, 2.4 times it without', () => {
    const value = randomBytes(64 * 1024);
    const raw = written(value, true).length / value.length;
    const utf8 = written(value, false).length / value.length;
    // 5 of 256 byte values take an escape byte more: 1.02 expected.
    expect(raw).toBeLessThan(1.05);
    expect(utf8).toBeGreaterThan(2);
  });

  it('escapes quotes inside quoted strings in both modes', () => {
    for (const rawBytes of [true, false]) {
      const w = new TsvWriter(16, rawBytes);
      w.quoted(Buffer.from("a'\xff", 'latin1'), 0, 3);
      expect(w.view().toString('latin1')).toBe(rawBytes ? "'a\\'\xff'" : "'a\\'\\xff'");
    }
  });
});
