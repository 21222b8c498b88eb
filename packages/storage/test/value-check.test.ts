/**
 * The checks of topics bound to a table: the JSON parser, ClickHouse type parsing, value checks and
 * the record check, unit by unit; then a cross-check against ClickHouse itself (embedded, chdb): for a
 * table of many types, every value the checker accepts must insert, and values ClickHouse is strict
 * about must be refused by both. chdb binds one data directory per process; this file has its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCheckFor } from '../src/clickhouse/bound-check.js';
import { BOUND_INSERT_SETTINGS } from '../src/clickhouse/bound-insert.js';
import { bindingOf, describeTable, tableColumn } from '../src/clickhouse/bound-table.js';
import { JsonNumber, JsonObject, type JsonValue, parseJson } from '../src/clickhouse/json-value.js';
import { splitRow } from '../src/clickhouse/text-row.js';
import {
  acceptsNull,
  checkJson,
  checkText,
  describeMismatch,
  parseType,
} from '../src/clickhouse/value-check.js';

/** A JSON value parsed back to plain JavaScript (numbers as JSON.parse reads them). */
function plain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(plain);
  // fromEntries defines own properties, as JSON.parse does: `o[k] =` would make a member named
  // __proto__ the object's prototype instead.
  if (v instanceof JsonObject) return Object.fromEntries(v.members.map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('parseJson', () => {
  it('reads what JSON.parse reads, keeping number text and member order', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(plain(parseJson(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
    const v = parseJson(' {"b": 18446744073709551615, "a": [1.50, -0e3], "b": "x\\u00e9\\ud83d\\ude00"} ');
    expect(v).toBeInstanceOf(JsonObject);
    const members = (v as JsonObject).members;
    expect(members.map(([k]) => k)).toEqual(['b', 'a', 'b']);
    expect((members[0]![1] as JsonNumber).text).toBe('18446744073709551615');
    expect((members[1]![1] as JsonNumber[]).map((n) => n.text)).toEqual(['1.50', '-0e3']);
    expect(members[2]![1]).toBe('xé😀');
    // A member named __proto__ is a member like any other (fast-check found it, seed 1168589607).
    const proto = '{"":[{"__proto__":0}]}';
    expect(plain(parseJson(proto))).toEqual(JSON.parse(proto));
  });

  it('refuses what JSON.parse refuses, and lone surrogates and deep nesting too', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '{',
            '}',
            '[',
            ']',
            '"',
            ':',
            ',',
            '1',
            '-',
            '.',
            'e',
            't',
            'n',
            ' ',
            '\\',
            'u',
          ),
        }),
        (text) => {
          let native = true;
          try {
            JSON.parse(text);
          } catch {
            native = false;
          }
          let ours = true;
          try {
            parseJson(text);
          } catch {
            ours = false;
          }
          if (!/\\u/.test(text)) expect(ours).toBe(native);
          else if (ours) expect(native).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
    for (const bad of [
      '',
      '{',
      '{"a":1,}',
      '[1,]',
      '01',
      '1.',
      '.5',
      '+1',
      "'a'",
      '"\t"',
      'NaN',
      '{"a" 1}',
      '"\\x41"',
      '{} {}',
    ]) {
      expect(() => parseJson(bad), bad).toThrow();
    }
    expect(() => parseJson('"\\ud800"')).toThrow(/lone surrogate/);
    expect(() => parseJson('"\\udc00\\ud800"')).toThrow(/lone surrogate/);
    expect(() => parseJson(`${'['.repeat(1001)}${']'.repeat(1001)}`)).toThrow(/deeper than 1000/);
    expect(parseJson(`${'['.repeat(1000)}${']'.repeat(1000)}`)).toBeTruthy();
  });
});

describe('parseType', () => {
  it('reads the types system.columns writes', () => {
    expect(parseType('UInt8')).toMatchObject({ kind: 'int', unsigned: true, min: 0n, max: 255n });
    expect(parseType('Int256')).toMatchObject({ kind: 'int', min: -(2n ** 255n), max: 2n ** 255n - 1n });
    expect(parseType("DateTime64(3, 'Asia/Tokyo')")).toMatchObject({ kind: 'datetime', fractional: true });
    expect(parseType("DateTime('UTC')")).toMatchObject({ kind: 'datetime', fractional: false });
    expect(parseType('Decimal(9, 2)')).toMatchObject({ kind: 'decimal', precision: 9, scale: 2 });
    expect(parseType('Decimal64(4)')).toMatchObject({ kind: 'decimal', precision: 18, scale: 4 });
    expect(parseType('FixedString(16)')).toMatchObject({ kind: 'fixed', length: 16 });
    const e = parseType("Enum8('a' = 1, 'it\\'s' = -2, 'x, y' = 3)");
    expect(e).toMatchObject({ kind: 'enum' });
    expect(e.kind === 'enum' && [...e.names]).toEqual(['a', "it's", 'x, y']);
    expect(e.kind === 'enum' && [...e.values]).toEqual([1, -2, 3]);
    const m = parseType('Map(LowCardinality(String), Array(Nullable(Decimal(10, 2))))');
    expect(m).toMatchObject({
      kind: 'map',
      key: { kind: 'lowcardinality', inner: { kind: 'string' } },
      value: {
        kind: 'array',
        inner: { kind: 'nullable', inner: { kind: 'decimal' } },
        text: 'Array(Nullable(Decimal(10, 2)))',
      },
    });
    expect(acceptsNull(parseType('LowCardinality(Nullable(String))'))).toBe(true);
    expect(acceptsNull(parseType('Dynamic'))).toBe(true);
    expect(acceptsNull(parseType('Array(Nullable(String))'))).toBe(false);
    for (const other of [
      'Tuple(a String, b Nullable(Int32))',
      "JSON(max_dynamic_paths = 10, a.b UInt32, SKIP a.c, SKIP REGEXP '^x')",
      'Nested(a String, b UInt8)',
      'AggregateFunction(uniq, String)',
      'Variant(String, UInt64)',
      'IPv4',
      "Object('json')",
    ]) {
      expect(parseType(other), other).toMatchObject({ kind: 'other', text: other });
    }
    // Malformed: passes to ClickHouse rather than failing here.
    expect(parseType('Array(UInt8')).toMatchObject({ kind: 'other' });
  });
});

const json = (type: string, text: string) => {
  const m = checkJson(parseType(type), parseJson(text));
  return m && describeMismatch(m) + m.path;
};

describe('checkJson', () => {
  it('checks integers by range, exactly, and takes booleans and quoted integers as ClickHouse does', () => {
    expect(json('UInt64', '18446744073709551615')).toBeNull();
    expect(json('UInt64', '18446744073709551616')).toBe(
      'expected UInt64 (0 to 18446744073709551615), got 18446744073709551616',
    );
    expect(json('Int8', '-128')).toBeNull();
    expect(json('Int8', '"-129"')).toBe('expected Int8 (-128 to 127), got "-129"');
    expect(json('UInt8', '-0')).toMatch(/expected UInt8/);
    expect(json('UInt16', 'true')).toBeNull();
    expect(json('Int32', '1.0')).toBe('expected Int32, got 1.0');
    expect(json('Int32', '1e2')).toBe('expected Int32, got 1e2');
    expect(json('Int32', '""')).toBe('expected Int32, got ""');
    expect(json('Int32', '[1]')).toBe('expected Int32, got [1]');
  });

  it('checks the other scalar types', () => {
    expect(json('Float32', '1e400')).toBeNull();
    expect(json('Float64', '"-inf"')).toBeNull();
    expect(json('Float64', '"1,5"')).toBe('expected Float64, got "1,5"');
    expect(json('Bool', '1')).toBeNull();
    expect(json('Bool', '"true"')).toBe('expected Bool (true or false), got "true"');
    expect(json('String', '{"a":[1]}')).toBeNull();
    expect(json('FixedString(2)', '"é"')).toBeNull();
    expect(json('FixedString(2)', '"éa"')).toBe('expected FixedString(2) (at most 2 bytes), got "éa"');
    expect(json('Date', '"2024-02-29"')).toBeNull();
    expect(json('Date', '"2024-13-01"')).toBe('expected Date (YYYY-MM-DD), got "2024-13-01"');
    expect(json('DateTime', '"2024-01-31T23:59:59.5+01:00"')).toBeNull();
    expect(json('DateTime', '1700000000')).toBeNull();
    expect(json('DateTime', '1700000000.5')).toBe(
      'expected DateTime (an integer, or a string), got 1700000000.5',
    );
    expect(json("DateTime64(3, 'UTC')", '"1700000000.123"')).toBeNull();
    expect(json('UUID', '"61F0C404-5CB3-11E7-907B-A6006AD3DBA0"')).toBeNull();
    expect(json("Enum8('a' = 1, 'b' = 2)", '2')).toBeNull();
    expect(json("Enum8('a' = 1, 'b' = 2)", '"c"')).toBe(
      'expected Enum8(\'a\' = 1, \'b\' = 2) (one of "a", "b"), got "c"',
    );
    expect(json('Decimal(5, 2)', '-999.999')).toBeNull();
    expect(json('Decimal(5, 2)', '0.0012e5')).toBeNull();
    expect(json('Decimal(5, 2)', '1000')).toBe(
      'expected Decimal(5, 2) (at most 3 digits before the point), got 1000',
    );
    expect(json('Decimal(5, 2)', '1e3')).toMatch(/at most 3 digits/);
  });

  it('checks inside Nullable, LowCardinality, arrays and maps, and says where', () => {
    expect(json('Nullable(UInt8)', 'null')).toBeNull();
    expect(json('Nullable(UInt8)', '256')).toBe('expected Nullable(UInt8) (0 to 255), got 256');
    expect(json('LowCardinality(String)', '5')).toBeNull();
    expect(json('Array(Array(UInt8))', '[[1],[2,256]]')).toBe(
      'expected UInt8 (0 to 255), got 256, element 2, element 2',
    );
    expect(json('Array(UInt8)', '[null]')).toBe('expected UInt8, got null, element 1');
    expect(json('Array(Nullable(UInt8))', '[null, 1]')).toBeNull();
    expect(json('Map(String, UInt8)', '{"a": 1, "b": "x"}')).toBe('expected UInt8, got "x", key "b"');
    expect(json('Map(UInt8, String)', '{"300": "x"}')).toBe(
      'expected UInt8 (the map\'s key type), got "300", key "300"',
    );
    expect(json('Map(String, UInt8)', '[]')).toBe('expected Map(String, UInt8) (a JSON object), got []');
    expect(json('Tuple(a String)', '"anything"')).toBeNull();
  });
});

describe('checkText', () => {
  it('checks CSV/TSV fields: scalars, NULL and empty fields', () => {
    const text = (type: string, field: string | null) => {
      const m = checkText(parseType(type), field);
      return m === null || m === 'empty' ? m : describeMismatch(m);
    };
    expect(text('UInt8', '255')).toBeNull();
    expect(text('UInt8', '256')).toBe('expected UInt8 (0 to 255), got "256"');
    expect(text('UInt8', 'true')).toBe('expected UInt8, got "true"');
    expect(text('UInt8', '')).toBe('empty');
    expect(text('UInt8', null)).toBe('empty');
    expect(text('Nullable(UInt8)', null)).toBeNull();
    expect(text('String', '')).toBeNull();
    expect(text('Bool', 'false')).toBeNull();
    expect(text('Date', '20240131')).toBeNull();
    expect(text('Array(UInt8)', 'not checked')).toBeNull();
  });

  it('splits CSV and TSV rows as ClickHouse reads them', () => {
    expect(splitRow('CSV', '1,"a,""b""",\\N,,x')).toEqual({ fields: ['1', 'a,"b"', null, '', 'x'] });
    expect(splitRow('CSV', '"multi\nline",2')).toEqual({ fields: ['multi\nline', '2'] });
    expect(splitRow('CSV', '"open,2')).toEqual({ error: 'CSV field 1 has no closing quote' });
    expect(splitRow('CSV', '"a"b,2')).toEqual({ error: 'CSV field 1 has text after its closing quote' });
    expect(splitRow('TabSeparated', 'a\\tb\t\\N\t\\\\N\t\\x41\\n')).toEqual({
      fields: ['a\tb', null, '\\N', 'A\n'],
    });
    expect(splitRow('TabSeparated', 'a\nb')).toMatchObject({ error: expect.stringContaining('one line') });
  });
});

describe('recordCheckFor', () => {
  const schema = (format: string, columns: [string, string, string?][]) =>
    describeTable(bindingOf({ 'kch.table': 'db.t', 'kch.format': format }, 'kafka')!, 'orders', {
      columns: columns.map(([n, t, k]) => tableColumn(n, t, k ?? '')),
      engine: 'MergeTree',
      createQuery: '',
    });
  const run = (check: ReturnType<typeof recordCheckFor>, value: string) =>
    check({ key: null, value: Buffer.from(value), headers: [] });

  it('requires columns without a DEFAULT that are not Nullable nor filled by kch', () => {
    const check = recordCheckFor(
      schema('JSONEachRow', [
        ['_partition', 'UInt32'],
        ['_offset', 'UInt64'],
        ['_key', 'String'],
        ['id', 'UInt32'],
        ['opt', 'LowCardinality(Nullable(String))'],
        ['any', 'Dynamic'],
        ['d', 'UInt8', 'DEFAULT'],
        ['m', 'UInt8', 'MATERIALIZED'],
        ['e', 'UInt8', 'EPHEMERAL'],
        ['tags', 'Array(String)'],
      ]),
    );
    expect(run(check, '{"id": 1, "tags": []}')).toBeNull();
    expect(run(check, '{"tags": []}')).toBe(
      'field "id": expected UInt32, got nothing (the column has no DEFAULT)',
    );
    expect(run(check, '{"id": 1}')).toMatch(/field "tags": expected Array\(String\), got nothing/);
    expect(run(check, '{"id": 1, "tags": [], "m": "ignored, computed", "e": 300}')).toBe(
      'field "e": expected UInt8 (0 to 255), got 300',
    );
    expect(run(check, '{"id": 1, "tags": [], "_key": "k"}')).toMatch(/field "_key": set by kch/);
    expect(run(check, '{"id": 1, "tags": [], "_timestamp": "x"}')).toBeNull(); // no such column: ignored
    expect(run(check, '{"id": 1, "tags": [], "d": null}')).toBeNull();
  });

  it('counts and checks CSV and TSV fields of the data columns in table order', () => {
    const columns: [string, string, string?][] = [
      ['_partition', 'UInt32'],
      ['_offset', 'UInt64'],
      ['id', 'UInt32'],
      ['name', 'String', 'DEFAULT'],
      ['at', 'DateTime'],
      ['m', 'UInt8', 'MATERIALIZED'],
    ];
    const csv = recordCheckFor(schema('CSV', columns));
    expect(run(csv, '1,,2024-01-31 10:00:00\n')).toBeNull();
    expect(run(csv, '1,a')).toMatch(/has 2 CSV fields, but table db.t takes 3 \(id, name, at\)/);
    expect(run(csv, '1,a,"not a date"')).toMatch(/^field 3 \(at\): expected DateTime \(e\.g\./);
    expect(run(csv, '1,a\0,x')).toMatch(/NUL byte/);
    const tsv = recordCheckFor(schema('TabSeparated', columns));
    expect(run(tsv, '1\ta\\tb\t1700000000')).toBeNull();
    expect(run(tsv, '\\N\ta\t1700000000')).toBe(
      'field 1 (id): expected UInt32, got nothing (the column has no DEFAULT)',
    );
  });
});

// ------------------------------------------------------------------------- against ClickHouse

const dir = mkdtempSync(join(tmpdir(), 'kch-value-check-'));
let ch: Session;
beforeAll(async () => {
  ch = new Session(dir);
  await ch.queryAsync('CREATE DATABASE IF NOT EXISTS xc', { format: 'TabSeparated' });
});
afterAll(() => {
  ch.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Columns of the cross-check table. */
const COLUMNS: [string, string][] = [
  ['u8', 'UInt8'],
  ['i8', 'Int8'],
  ['u32', 'UInt32'],
  ['i64', 'Int64'],
  ['u64', 'UInt64'],
  ['i128', 'Int128'],
  ['f32', 'Float32'],
  ['f64', 'Float64'],
  ['b', 'Bool'],
  ['s', 'String'],
  ['fs', 'FixedString(4)'],
  ['lcs', 'LowCardinality(String)'],
  ['d', 'Date'],
  ['d32', 'Date32'],
  ['dt', 'DateTime'],
  ['dtz', "DateTime('Asia/Tokyo')"],
  ['dt64', 'DateTime64(3)'],
  ['dt64u', "DateTime64(6, 'UTC')"],
  ['uuid', 'UUID'],
  ['e8', "Enum8('a' = 1, 'b' = 2)"],
  ['e16', "Enum16('x y' = 1000, 'it\\'s' = -5)"],
  ['dec', 'Decimal(5, 2)'],
  ['dec64', 'Decimal(18, 4)'],
  ['n', 'Nullable(Int32)'],
  ['lcn', 'LowCardinality(Nullable(String))'],
  ['arr', 'Array(UInt8)'],
  ['arrn', 'Array(Nullable(Int16))'],
  ['arrs', 'Array(String)'],
  ['arr2', 'Array(Array(Int8))'],
  ['m', 'Map(String, UInt16)'],
  ['mk', 'Map(UInt8, String)'],
  ['tup', 'Tuple(a Int32, b String)'],
];

const JSON_VALUES = [
  '0',
  '1',
  '-1',
  '127',
  '-128',
  '255',
  '256',
  '-129',
  '65535',
  '65536',
  '2147483648',
  '4294967295',
  '4294967296',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551615',
  '18446744073709551616',
  '-9223372036854775809',
  '1.5',
  '-0.25',
  '1e3',
  '1E-2',
  '999.99',
  '1000',
  '-999.999',
  '123456789012345678901234567890',
  '19000',
  '1700000000',
  '1700000000123',
  '1700000000.5',
  '"5"',
  '"-5"',
  '"1.5"',
  '""',
  '" 5"',
  '"abc"',
  '"nan"',
  '"inf"',
  '"12.345"',
  '"1000"',
  '"1e2"',
  'true',
  'false',
  '[]',
  '[1,2]',
  '[300]',
  '["a"]',
  '[null]',
  '[[1],[2]]',
  '[[300]]',
  '{}',
  '{"a":1}',
  '{"a":"x"}',
  '{"5":"x"}',
  '{"x":"x"}',
  '{"300":"x"}',
  '[["a",1]]',
  '"2024-01-31"',
  '"2024-01-31 10:00:00"',
  '"2024-01-31T10:00:00Z"',
  '"2024-01-31T10:00:00.123+02:00"',
  '"2024/01/31"',
  '"20240131"',
  '"1700000000"',
  '"1700000000.5"',
  '"Mon, 02 Jan 2006 15:04:05 GMT"',
  '"2024-13-01"',
  '"2024-01-32"',
  '"2024-01-31 25:00:00"',
  '"yesterday"',
  '"10:00"',
  '"2024"',
  '"2024-01-31 10:00:00.123456789"',
  '"61f0c404-5cb3-11e7-907b-a6006ad3dba0"',
  '"61f0c4045cb311e7907ba6006ad3dba0"',
  '"{61f0c404-5cb3-11e7-907b-a6006ad3dba0}"',
  '"a"',
  '"b"',
  '"c"',
  '"x y"',
  '"it\'s"',
  '2',
  '3',
  '-5',
  '"1"',
  '"ab"',
  '"abcd"',
  '"abcde"',
  '"éé"',
  '"ééé"',
];

/** Values ClickHouse refuses (it is strict about them): the checker must refuse them too. */
const STRICT_BAD: Record<string, string[]> = {
  u8: ['"abc"', '1.5', '-1', '[1,2]', '1e3', '{}'],
  i64: ['"abc"', '1.5', '[]'],
  f64: ['"abc"', '[]'],
  b: ['2', '"true"', '"abc"', '1.5'],
  fs: ['"abcde"', '"ééé"'],
  d: ['"abc"', '""', '"1700000000"'],
  dt: ['"abc"', '"yesterday"', '1700000000.5', 'true'],
  dt64: ['1700000000.5', '"abc"'],
  uuid: ['"abc"', '"{61f0c404-5cb3-11e7-907b-a6006ad3dba0}"'],
  e8: ['"c"', '3'],
  dec: ['"abc"', '1000', '123456789012345678901234567890'],
  n: ['"abc"'],
  arr: ['1', '"abc"'],
  m: ['[["a",1]]', '{"a":"x"}'],
  mk: ['{"x":"x"}'],
};

async function chAccepts(insert: string): Promise<boolean> {
  try {
    await ch.queryAsync(insert, { format: 'TabSeparated' });
    return true;
  } catch {
    return false;
  }
}

const settings = Object.entries(BOUND_INSERT_SETTINGS)
  .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v}'`}`)
  .join(', ');

describe('against ClickHouse', () => {
  it('JSONEachRow: every value the checker accepts inserts; strict refusals agree', async () => {
    // Fields left out take their type's default: one field at a time is inserted.
    await ch.queryAsync(
      `CREATE TABLE xc.j (${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')}) ENGINE = Memory`,
      { format: 'TabSeparated' },
    );
    const unsound: string[] = [];
    const disagree: string[] = [];
    let accepted = 0;
    let refused = 0;
    for (const [name, type] of COLUMNS) {
      const t = parseType(type);
      for (const value of JSON_VALUES) {
        const ours = checkJson(t, parseJson(value)) === null;
        const theirs = await chAccepts(
          `INSERT INTO xc.j SETTINGS ${settings} FORMAT JSONEachRow {"${name}": ${value}}\n`,
        );
        if (ours) accepted++;
        else refused++;
        // Types the checker leaves to ClickHouse (Tuple...) pass whatever they hold.
        if (ours && !theirs && t.kind !== 'other') unsound.push(`${name} ${type} = ${value}`);
        if (STRICT_BAD[name]?.includes(value) && (ours || theirs))
          disagree.push(`${name} ${type} = ${value}`);
      }
    }
    expect(unsound).toEqual([]);
    expect(disagree).toEqual([]);
    // Both outcomes were exercised plenty.
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(1000);
  });

  it('CSV and TabSeparated: every field the checker accepts inserts', async () => {
    const scalar = COLUMNS.filter(([, t]) => !/^(Array|Map|Tuple)/.test(t));
    await ch.queryAsync(
      `CREATE TABLE xc.c (${scalar.map(([n, t]) => `${n} ${t}`).join(', ')}) ENGINE = Memory`,
      { format: 'TabSeparated' },
    );
    const fields = [
      '0',
      '255',
      '256',
      '-1',
      '1.5',
      '1e3',
      'true',
      'false',
      'TRUE',
      'abc',
      '',
      '\\N',
      '"5"',
      '"a,b"',
      'a',
      'c',
      'x y',
      '2',
      '2024-01-31',
      '2024/01/31',
      '20240131',
      '2024-13-01',
      '2024-01-31 10:00:00',
      '2024-01-31T10:00:00Z',
      '1700000000',
      '1700000000.5',
      'yesterday',
      '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
      '999.99',
      '1000',
      'nan',
      'abcde',
      'ab',
      '18446744073709551615',
      '-129',
    ];
    const unsound: string[] = [];
    for (const format of ['CSV', 'TabSeparated'] as const) {
      for (const [name, type] of scalar) {
        const t = parseType(type);
        for (const field of fields) {
          if (format === 'TabSeparated' && field.includes('"')) continue;
          const split = splitRow(format, field);
          if ('error' in split) continue;
          const r = checkText(t, split.fields[0]!);
          // 'empty' is fine here: a field left empty or NULL takes the column's default.
          if (r !== null && r !== 'empty') continue;
          const ok = await chAccepts(
            `INSERT INTO xc.c (${name}) SETTINGS ${settings} FORMAT ${format}\n${field}\n`,
          );
          if (!ok) unsound.push(`${format} ${name} ${type} = ${field}`);
        }
      }
    }
    expect(unsound).toEqual([]);
  });
});
