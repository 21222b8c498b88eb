/**
 * Whether a value fits a ClickHouse column type, for topics bound to a table: the broker asks before it
 * assigns offsets (Storage.recordCheck), so that a record ClickHouse would refuse is answered with a
 * useful error (or routed to a dead-letter topic) instead of failing the whole produce later.
 *
 * The rule is one-sided: what this accepts, ClickHouse parses (`JSONEachRow`, `CSV`, `TabSeparated`
 * with `date_time_input_format = 'best_effort'`, as ./bound-rows.ts inserts); what it refuses,
 * ClickHouse refuses too where ClickHouse is strict. Where ClickHouse is lenient it is stricter and
 * catches obvious garbage that ClickHouse would turn into zeros silently: integers out of range (which
 * ClickHouse wraps), `""` for a number, dates that are not dates. Types it does not know (Tuple,
 * JSON, Variant, Dynamic, Nested, IPv4, AggregateFunction...) pass: ClickHouse judges them at insert.
 * test/value-check.test.ts cross-checks both directions against ClickHouse itself.
 */
import { JsonNumber, JsonObject, type JsonValue, showJson } from './json-value.js';

/** A ClickHouse type as far as checks need it. `text` is the type as ClickHouse writes it. */
export type ChType = { text: string } & ChTypeBody;

type ChTypeBody =
  | { kind: 'int'; unsigned: boolean; min: bigint; max: bigint }
  | { kind: 'float' }
  | { kind: 'bool' }
  | { kind: 'string' }
  | { kind: 'fixed'; length: number }
  /** Date32 (`extended`) goes back to 1900; Date starts in 1970, so it takes no negative day number. */
  | { kind: 'date'; extended: boolean }
  | { kind: 'datetime'; fractional: boolean }
  | { kind: 'uuid' }
  | { kind: 'enum'; names: ReadonlySet<string>; values: ReadonlySet<number> }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'nullable'; inner: ChType }
  | { kind: 'lowcardinality'; inner: ChType }
  | { kind: 'array'; inner: ChType }
  | { kind: 'map'; key: ChType; value: ChType }
  /** Checked by ClickHouse only. `nullable`: the type holds NULL by itself (Dynamic, Variant...). */
  | { kind: 'other'; nullable: boolean };

/** Why a value does not fit: `expected <type>[ (<hint>)], got <value>`, at `path` inside the field. */
export interface Mismatch {
  /** Where inside the field (`, element 2`, `, key "a"`), empty for the field itself. */
  path: string;
  expected: string;
  hint?: string;
  got: string;
}

// ------------------------------------------------------------------------------- type parsing

const DECIMAL_PRECISION: Record<string, number> = {
  Decimal32: 9,
  Decimal64: 18,
  Decimal128: 38,
  Decimal256: 76,
};

/** Parses a type as system.columns writes it. Never throws: what it cannot read is `other`. */
export function parseType(text: string): ChType {
  try {
    const p = new TypeParser(text);
    const t = p.type();
    if (p.pos !== text.length) return { text, kind: 'other', nullable: false };
    return t;
  } catch {
    return { text, kind: 'other', nullable: false };
  }
}

class TypeParser {
  pos = 0;
  constructor(readonly s: string) {}

  private space(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }

  private expect(c: string): void {
    this.space();
    if (this.s[this.pos] !== c) throw new Error(`expected ${c}`);
    this.pos++;
  }

  private peek(): string | undefined {
    this.space();
    return this.s[this.pos];
  }

  private word(): string {
    this.space();
    const m = /[A-Za-z_][A-Za-z0-9_]*/y;
    m.lastIndex = this.pos;
    const r = m.exec(this.s);
    if (!r) throw new Error('expected a name');
    this.pos += r[0].length;
    return r[0];
  }

  private integer(): number {
    this.space();
    const m = /-?\d+/y;
    m.lastIndex = this.pos;
    const r = m.exec(this.s);
    if (!r) throw new Error('expected a number');
    this.pos += r[0].length;
    return Number(r[0]);
  }

  private quoted(): string {
    this.expect("'");
    let out = '';
    for (;;) {
      const c = this.s[this.pos++];
      if (c === undefined) throw new Error('unterminated string');
      if (c === "'") return out;
      if (c === '\\') {
        const e = this.s[this.pos++];
        if (e === undefined) throw new Error('unterminated string');
        out += e;
      } else out += c;
    }
  }

  /** Skips balanced parentheses (quotes respected): the arguments of a type this does not check. */
  private skipArgs(): void {
    if (this.peek() !== '(') return;
    let depth = 0;
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined) throw new Error('unbalanced');
      if (c === "'") {
        this.quoted();
        continue;
      }
      this.pos++;
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return;
    }
  }

  type(): ChType {
    this.space();
    const start = this.pos;
    const name = this.word();
    const t = this.body(name);
    return { ...t, text: this.s.slice(start, this.pos).trim() };
  }

  private body(name: string): ChTypeBody {
    const int = /^(U?)Int(8|16|32|64|128|256)$/.exec(name);
    if (int) {
      const bits = BigInt(int[2]!);
      const unsigned = int[1] === 'U';
      return unsigned
        ? { kind: 'int', unsigned, min: 0n, max: 2n ** bits - 1n }
        : { kind: 'int', unsigned, min: -(2n ** (bits - 1n)), max: 2n ** (bits - 1n) - 1n };
    }
    switch (name) {
      case 'Float32':
      case 'Float64':
      case 'BFloat16':
        return { kind: 'float' };
      case 'Bool':
        return { kind: 'bool' };
      case 'String':
        return { kind: 'string' };
      case 'FixedString': {
        this.expect('(');
        const length = this.integer();
        this.expect(')');
        return { kind: 'fixed', length };
      }
      case 'Date':
      case 'Date32':
        return { kind: 'date', extended: name === 'Date32' };
      case 'DateTime':
        this.skipArgs();
        return { kind: 'datetime', fractional: false };
      case 'DateTime64':
        this.skipArgs();
        return { kind: 'datetime', fractional: true };
      case 'UUID':
        return { kind: 'uuid' };
      case 'Enum8':
      case 'Enum16':
      case 'Enum':
        return this.enumBody();
      case 'Decimal':
      case 'Decimal32':
      case 'Decimal64':
      case 'Decimal128':
      case 'Decimal256':
        return this.decimalBody(name);
      case 'Nullable':
      case 'LowCardinality':
      case 'Array': {
        this.expect('(');
        const inner = this.type();
        this.expect(')');
        const kind = name === 'Nullable' ? 'nullable' : name === 'Array' ? 'array' : 'lowcardinality';
        return { kind, inner };
      }
      case 'Map': {
        this.expect('(');
        const key = this.type();
        this.expect(',');
        const value = this.type();
        this.expect(')');
        return { kind: 'map', key, value };
      }
      default:
        this.skipArgs();
        return { kind: 'other', nullable: name === 'Dynamic' || name === 'Variant' || name === 'Nothing' };
    }
  }

  private enumBody(): ChTypeBody {
    const names = new Set<string>();
    const values = new Set<number>();
    this.expect('(');
    for (;;) {
      const n = this.quoted();
      this.expect('=');
      names.add(n);
      values.add(this.integer());
      if (this.peek() === ')') break;
      this.expect(',');
    }
    this.expect(')');
    return { kind: 'enum', names, values };
  }

  private decimalBody(name: string): ChTypeBody {
    this.expect('(');
    let precision = DECIMAL_PRECISION[name];
    let scale: number;
    if (precision === undefined) {
      precision = this.integer();
      scale = 0;
      if (this.peek() === ',') {
        this.expect(',');
        scale = this.integer();
      }
    } else scale = this.integer();
    this.expect(')');
    return { kind: 'decimal', precision, scale };
  }
}

/** The type inside Nullable and LowCardinality wrappers. */
export function unwrapType(t: ChType): ChType {
  return t.kind === 'nullable' || t.kind === 'lowcardinality' ? unwrapType(t.inner) : t;
}

/** Whether the column takes NULL as a value (Nullable, LowCardinality(Nullable), Dynamic...). */
export function acceptsNull(t: ChType): boolean {
  if (t.kind === 'nullable') return true;
  if (t.kind === 'lowcardinality') return acceptsNull(t.inner);
  return t.kind === 'other' && t.nullable;
}

/** Whether a text field of this type may be empty without meaning "the column's DEFAULT". */
function emptyIsValue(t: ChType): boolean {
  if (t.kind === 'string' || t.kind === 'fixed') return true;
  if (t.kind === 'lowcardinality' || t.kind === 'nullable') return emptyIsValue(t.inner);
  return t.kind === 'other';
}

// ----------------------------------------------------------------------------- scalar rules

const INTEGER = /^-?\d+$/;
const FLOAT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const FLOAT_WORDS = /^[-+]?(?:nan|inf|infinity)$/i;
const DECIMAL = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;
const UUID =
  /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$/;
const DATE = /^(\d{4})([-/])(\d{2})\2(\d{2})$|^(\d{4})(\d{2})(\d{2})$/;
// What ClickHouse's best_effort parser reads, a conservative part of it: ISO 8601 / SQL forms with
// - or / in the date, T or a space before the time, an optional fraction and zone; unix seconds;
// RFC 1123 (HTTP dates).
const DATE_TIME =
  /^(\d{4})([-/])(\d{2})\2(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?: ?(?:Z|UTC|[+-]\d{2}(?::?\d{2})?))?$/;
const UNIX_SECONDS = /^\d{9,10}$/;
const UNIX_FRACTIONAL = /^\d{9,10}\.\d{1,9}$/;
const RFC_1123 =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|[+-]\d{4})$/;

const inRange = (v: string | undefined, lo: number, hi: number): boolean =>
  v === undefined || (Number(v) >= lo && Number(v) <= hi);

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  return inRange(m[3] ?? m[6], 1, 12) && inRange(m[4] ?? m[7], 1, 31);
}

function isDateTime(s: string, fractional: boolean): boolean {
  if (UNIX_SECONDS.test(s) || (fractional && UNIX_FRACTIONAL.test(s))) return true;
  if (/^\d{8}$/.test(s)) return isDate(s); // YYYYMMDD
  const m = DATE_TIME.exec(s);
  if (m) {
    return (
      inRange(m[3], 1, 12) &&
      inRange(m[4], 1, 31) &&
      inRange(m[5], 0, 23) &&
      inRange(m[6], 0, 59) &&
      inRange(m[7], 0, 59)
    );
  }
  const r = RFC_1123.exec(s);
  return (
    r !== null && inRange(r[1], 1, 31) && inRange(r[2], 0, 23) && inRange(r[3], 0, 59) && inRange(r[4], 0, 59)
  );
}

/** Digits before the decimal point of a decimal literal, leading zeros left out; -1 when malformed. */
function integerDigits(s: string): number {
  const m = DECIMAL.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return -1;
  const digits = m[2]! + (m[3] ?? '');
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  if (Math.abs(exponent) > 1000) return exponent > 0 ? Number.POSITIVE_INFINITY : 0;
  const point = m[2]!.length + exponent;
  const whole =
    point <= 0
      ? ''
      : point >= digits.length
        ? digits + '0'.repeat(point - digits.length)
        : digits.slice(0, point);
  return whole.replace(/^0+/, '').length;
}

/**
 * Checks a scalar given as text (a CSV/TSV field, a JSON string, a Map key) against `t`. Returns a
 * hint (possibly empty) when it does not fit, null when it does.
 */
function textFits(t: ChType, s: string): string | null {
  switch (t.kind) {
    case 'int': {
      if (!INTEGER.test(s)) return '';
      if (t.unsigned && s.startsWith('-')) return rangeHint(t);
      const v = BigInt(s);
      return v < t.min || v > t.max ? rangeHint(t) : null;
    }
    case 'float':
      return FLOAT.test(s) || FLOAT_WORDS.test(s) ? null : '';
    case 'bool':
      // In text ClickHouse knows a few more words (yes, on...), which this leaves out.
      return s === 'true' || s === 'false' || s === '1' || s === '0' ? null : 'true, false, 1 or 0';
    case 'string':
      return null;
    case 'fixed':
      return Buffer.byteLength(s) <= t.length ? null : `at most ${t.length} bytes`;
    case 'date':
      return isDate(s) ? null : 'YYYY-MM-DD';
    case 'datetime':
      return isDateTime(s, t.fractional)
        ? null
        : 'e.g. 2024-01-31 23:59:59, 2024-01-31T23:59:59Z or "1706745599" (unix seconds)';
    case 'uuid':
      return UUID.test(s) ? null : '';
    case 'enum':
      if (t.names.has(s)) return null;
      if (INTEGER.test(s) && t.values.has(Number(s))) return null;
      return enumHint(t);
    case 'decimal': {
      const digits = integerDigits(s);
      if (digits < 0) return '';
      return digits <= t.precision - t.scale ? null : decimalHint(t);
    }
    case 'nullable':
    case 'lowcardinality':
      return textFits(t.inner, s);
    default:
      // Arrays and maps written as text, and types checked by ClickHouse only.
      return null;
  }
}

function rangeHint(t: ChType & { kind: 'int' }): string {
  return `${t.min} to ${t.max}`;
}

function enumHint(t: ChType & { kind: 'enum' }): string {
  const names = [...t.names].map((n) => JSON.stringify(n));
  return `one of ${names.length > 8 ? `${names.slice(0, 8).join(', ')}...` : names.join(', ')}`;
}

function decimalHint(t: ChType & { kind: 'decimal' }): string {
  return `at most ${t.precision - t.scale} digits before the point`;
}

// ------------------------------------------------------------------------------ JSON values

/**
 * Checks a JSON value (not null: the caller decides what null means for the column) against `t`.
 * Null when it fits.
 */
export function checkJson(t: ChType, v: JsonValue, path = ''): Mismatch | null {
  const fail = (hint = ''): Mismatch => ({
    path,
    expected: t.text,
    got: showJson(v),
    ...(hint ? { hint } : {}),
  });
  if (v === null) return acceptsNull(t) ? null : fail();
  switch (t.kind) {
    case 'nullable':
    case 'lowcardinality': {
      const m = checkJson(t.inner, v, path);
      return m && m.path === path ? { ...m, expected: t.text } : m;
    }
    case 'string':
      // ClickHouse reads numbers, booleans, objects and arrays into a String column as their JSON text.
      return null;
    case 'other':
      return null;
    case 'int':
      if (typeof v === 'boolean') return null;
      if (v instanceof JsonNumber || typeof v === 'string') {
        const hint = textFits(t, v instanceof JsonNumber ? v.text : v);
        return hint === null ? null : fail(hint);
      }
      return fail();
    case 'float':
      if (typeof v === 'boolean' || v instanceof JsonNumber) return null;
      if (typeof v === 'string') return textFits(t, v) === null ? null : fail();
      return fail();
    case 'bool':
      if (typeof v === 'boolean') return null;
      if (v instanceof JsonNumber && (v.text === '0' || v.text === '1')) return null;
      return fail('true or false');
    case 'fixed':
      if (typeof v !== 'string') return fail();
      return textFits(t, v) === null ? null : fail(`at most ${t.length} bytes`);
    case 'date':
    case 'datetime':
      // A number is a day number (Date), unix seconds (DateTime), or a count of the column's ticks
      // (DateTime64(3): milliseconds; (6): microseconds), as ClickHouse reads a JSON number, while a
      // quoted number is unix seconds in every case. ClickHouse refuses fractions in a JSON number
      // here, though it reads them in a string.
      if (v instanceof JsonNumber) {
        if (!INTEGER.test(v.text)) return fail('an integer, or a string');
        return t.kind === 'date' && !t.extended && v.text.startsWith('-')
          ? fail('a day number from 0')
          : null;
      }
      if (typeof v === 'string') {
        const hint = textFits(t, v);
        return hint === null ? null : fail(hint);
      }
      return fail();
    case 'uuid':
      return typeof v === 'string' && UUID.test(v) ? null : fail();
    case 'enum':
      if (typeof v === 'string' || (v instanceof JsonNumber && INTEGER.test(v.text))) {
        return textFits(t, v instanceof JsonNumber ? v.text : v) === null ? null : fail(enumHint(t));
      }
      return fail(enumHint(t));
    case 'decimal':
      if (v instanceof JsonNumber || typeof v === 'string') {
        const hint = textFits(t, v instanceof JsonNumber ? v.text : v);
        return hint === null ? null : fail(hint);
      }
      return fail();
    case 'array': {
      if (!Array.isArray(v)) return fail('a JSON array');
      for (let i = 0; i < v.length; i++) {
        const m = checkJson(t.inner, v[i]!, `${path}, element ${i + 1}`);
        if (m) return m;
      }
      return null;
    }
    case 'map': {
      if (!(v instanceof JsonObject)) return fail('a JSON object');
      for (const [k, item] of v.members) {
        const keyPath = `${path}, key ${JSON.stringify(k)}`;
        const hint = textFits(t.key, k);
        if (hint !== null) {
          return { path: keyPath, expected: `${t.key.text} (the map's key type)`, got: JSON.stringify(k) };
        }
        const m = checkJson(t.value, item, keyPath);
        if (m) return m;
      }
      return null;
    }
  }
}

// ------------------------------------------------------------------------------ text fields

/**
 * Checks a CSV/TSV field (unquoted and unescaped; `null` for `\N`) against `t`: the scalar rules of
 * {@link checkJson}; arrays, maps and other compound values are left to ClickHouse. An empty field
 * of a non-string type takes the column's DEFAULT (the insert reads empty fields as defaults), so
 * it is checked as a missing value by the caller: `empty` tells it.
 */
export function checkText(t: ChType, field: string | null): Mismatch | 'empty' | null {
  if (field === null) return acceptsNull(t) ? null : 'empty';
  if (field === '' && !emptyIsValue(t)) return 'empty';
  const hint = textFits(t, field);
  if (hint === null) return null;
  return {
    path: '',
    expected: t.text,
    got: JSON.stringify(field.length > 60 ? `${field.slice(0, 60)}...` : field),
    ...(hint ? { hint } : {}),
  };
}

/** `expected UInt32 (0 to 4294967295), got "abc"` */
export function describeMismatch(m: Mismatch): string {
  return `expected ${m.expected}${m.hint ? ` (${m.hint})` : ''}, got ${m.got}`;
}
