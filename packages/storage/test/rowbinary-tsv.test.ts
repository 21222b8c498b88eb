/**
 * RowBinary rows rewritten as TabSeparated (chdb's inline inserts): every type kch's own tables use,
 * NULL at the top and inside a tuple, escapes in and out of quotes, Int64 beyond 2^53 exactly, and a
 * type it does not know refused.
 */
import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from '../src/clickhouse/rowbinary.js';
import { columnOf, rowBinaryToTsv } from '../src/clickhouse/rowbinary-tsv.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('rowBinaryToTsv', () => {
  it('writes each column as TSV reads it back', () => {
    const types = [
      'Int8',
      'Int16',
      'Int32',
      'Int64',
      'Nullable(String)',
      'Nullable(String)',
      'Array(Tuple(key String, value Nullable(String)))',
    ];
    const w = new RowBinaryWriter(16);
    w.i8(-5).i16(-300).i32(70000).big64(4611686018427387905n);
    w.nullFlag(true);
    const v = b('a\tb\n\nc\\');
    w.nullFlag(false).string(v, 0, v.length);
    const k1 = b("k'1");
    const v2 = b('\xff\n');
    w.uvarint(2)
      .string(k1, 0, k1.length)
      .nullFlag(true)
      .string(b('k2'), 0, 2)
      .nullFlag(false)
      .string(v2, 0, 2);
    const firstRow = w.pos;
    // A second row (its own chunk): the smallest Int64, an empty array.
    w.i8(0).i16(0).i32(0).big64(-9223372036854775808n).nullFlag(true).nullFlag(true).uvarint(0);
    const chunk = w.view();
    const tsv = rowBinaryToTsv([chunk.subarray(0, firstRow), chunk.subarray(firstRow)], types, true);
    expect(tsv.toString('latin1')).toBe(
      "-5\t-300\t70000\t4611686018427387905\t\\N\ta\\tb\\n\\nc\\\\\t[('k\\'1',NULL),('k2','\xff\\n')]\n" +
        '0\t0\t0\t-9223372036854775808\t\\N\t\\N\t[]\n',
    );
    // Without raw bytes the invalid UTF-8 byte is escaped.
    expect(rowBinaryToTsv([chunk], types, false).toString('latin1')).toContain("('k2','\\xff\\n')");
  });

  it('refuses a type it cannot rewrite', () => {
    expect(() => columnOf('Float64')).toThrow(/Float64 cannot be rewritten/);
    expect(() => columnOf('Nullable(String, String)')).toThrow(/takes one type/);
  });
});
