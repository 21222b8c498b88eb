/**
 * RowBinary rows rewritten as TabSeparated, for the one road that cannot carry binary rows: chdb's
 * inline insert, which reads its data as text and stops at a newline byte inside a binary row (an
 * Int64 of 10, a value holding `\n`). The rows of kch's own topic tables are written in RowBinary
 * (./records.ts); a large insert reaches the engine through a file, where any format goes, and a small
 * one is rewritten here, in the types the caller gave, and sent inline as before, so small inserts
 * keep the latency of inline rows (a file costs ~1.5-2 ms more per insert).
 *
 * Only the types kch's own tables use are known: Int8/16/32/64, String, Nullable, Array and Tuple
 * (names of tuple elements allowed). Anything else is a programming error and throws.
 */
import { RowBinaryReader } from './rowbinary.js';
import { TsvWriter } from './tsv.js';

type Column =
  | { kind: 'int'; size: 1 | 2 | 4 | 8 }
  | { kind: 'string' }
  | { kind: 'nullable'; of: Column }
  | { kind: 'array'; of: Column }
  | { kind: 'tuple'; of: Column[] };

const INT_SIZES: Record<string, 1 | 2 | 4 | 8> = { Int8: 1, Int16: 2, Int32: 4, Int64: 8 };
const parsed = new Map<string, Column>();

/** The column of a ClickHouse type name (cached: an insert's types repeat). */
export function columnOf(type: string): Column {
  let c = parsed.get(type);
  if (!c) {
    const p = { s: type, at: 0 };
    c = parseType(p);
    if (p.at !== type.length) throw new RangeError(`unexpected text after a type at ${p.at} in ${type}`);
    parsed.set(type, c);
  }
  return c;
}

function parseType(p: { s: string; at: number }): Column {
  const name = /^[A-Za-z][A-Za-z0-9]*/.exec(p.s.slice(p.at))?.[0];
  if (!name) throw new RangeError(`a type is expected at ${p.at} in ${p.s}`);
  p.at += name.length;
  const size = INT_SIZES[name];
  if (size) return { kind: 'int', size };
  if (name === 'String') return { kind: 'string' };
  if (name !== 'Nullable' && name !== 'Array' && name !== 'Tuple')
    throw new RangeError(`type ${name} cannot be rewritten from RowBinary (in ${p.s})`);
  const items: Column[] = [];
  expect(p, '(');
  for (;;) {
    // A named tuple element: `key String`.
    const named = /^[A-Za-z_][A-Za-z0-9_]* (?=[A-Z])/.exec(p.s.slice(p.at));
    if (name === 'Tuple' && named) p.at += named[0].length;
    items.push(parseType(p));
    if (p.s[p.at] === ',') {
      p.at++;
      while (p.s[p.at] === ' ') p.at++;
      continue;
    }
    expect(p, ')');
    break;
  }
  if (name === 'Tuple') return { kind: 'tuple', of: items };
  if (items.length !== 1) throw new RangeError(`${name} takes one type (in ${p.s})`);
  return name === 'Nullable' ? { kind: 'nullable', of: items[0]! } : { kind: 'array', of: items[0]! };
}

function expect(p: { s: string; at: number }, c: string): void {
  if (p.s[p.at] !== c) throw new RangeError(`'${c}' is expected at ${p.at} in ${p.s}`);
  p.at++;
}

/**
 * The rows of `chunks` (RowBinary, columns of `types` in order) as TabSeparated, strings as they are
 * when `rawBytes` (the transport takes bytes), else kept valid UTF-8 (./tsv.ts).
 */
export function rowBinaryToTsv(
  chunks: readonly Buffer[],
  types: readonly string[],
  rawBytes: boolean,
): Buffer {
  const columns = types.map(columnOf);
  let size = 0;
  for (const c of chunks) size += c.length;
  const w = new TsvWriter(Math.max(1024, size * 2), rawBytes);
  for (const chunk of chunks) {
    const r = new RowBinaryReader(chunk);
    while (!r.done) {
      for (let i = 0; i < columns.length; i++) {
        if (i > 0) w.tab();
        field(r, columns[i]!, w, false);
      }
      w.newline();
    }
  }
  return w.view();
}

/** One value; `inner` inside an Array or Tuple, where strings are quoted and NULL is spelled out. */
function field(r: RowBinaryReader, c: Column, w: TsvWriter, inner: boolean): void {
  switch (c.kind) {
    case 'int':
      if (c.size === 1) w.int(r.i8());
      else if (c.size === 2) w.int(r.i16());
      else if (c.size === 4) w.int(r.i32());
      else int64(r, w);
      return;
    case 'string': {
      const b = r.bytes();
      if (inner) w.quoted(b, 0, b.length);
      else w.string(b, 0, b.length);
      return;
    }
    case 'nullable':
      if (!r.isNull()) field(r, c.of, w, inner);
      else if (inner) w.raw(NULL_TEXT);
      else w.null();
      return;
    case 'array': {
      const n = r.uvarint();
      w.byte(0x5b); // [
      for (let i = 0; i < n; i++) {
        if (i > 0) w.byte(0x2c); // ,
        field(r, c.of, w, true);
      }
      w.byte(0x5d); // ]
      return;
    }
    case 'tuple':
      w.byte(0x28); // (
      for (let i = 0; i < c.of.length; i++) {
        if (i > 0) w.byte(0x2c);
        field(r, c.of[i]!, w, true);
      }
      w.byte(0x29); // )
      return;
  }
}

const NULL_TEXT = Buffer.from('NULL', 'latin1');

/** An Int64 in decimal: as a number when it is one exactly (offsets, timestamps), else as a bigint. */
function int64(r: RowBinaryReader, w: TsvWriter): void {
  const at = r.pos;
  const v = r.i64();
  if (Number.isSafeInteger(v)) w.int(v);
  else w.raw(Buffer.from(r.buf.readBigInt64LE(at).toString(), 'latin1'));
}
