/**
 * A strict JSON parser for record values of topics bound to a table (./bound-table.ts), written for
 * checking rather than for use: numbers keep their source text (a UInt64 or a Decimal(38, 10) must be
 * range-checked exactly, which `JSON.parse` cannot do once it made them doubles), object members keep
 * their order and duplicates (ClickHouse refuses a duplicated column), and every error says where.
 *
 * It follows RFC 8259 exactly, plus what ClickHouse refuses on top of it: lone UTF-16 surrogates in
 * escapes (ClickHouse cannot turn them into UTF-8) and nesting deeper than its
 * `input_format_json_max_depth` (1000).
 */

/** A JSON number, as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** A JSON object: its members in order, duplicates kept. */
export class JsonObject {
  constructor(readonly members: readonly (readonly [string, JsonValue])[]) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
}

const MAX_DEPTH = 1000;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The UTF-8 text of `bytes`, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Parses one JSON value filling all of `text` (whitespace around it allowed). */
export function parseJson(text: string): JsonValue {
  const p = new Parser(text);
  p.space();
  const v = p.value(0);
  p.space();
  if (p.pos < text.length) throw p.error('unexpected text after the value');
  return v;
}

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  error(what: string): JsonSyntaxError {
    const at = this.pos < this.s.length ? JSON.stringify(this.s.slice(this.pos, this.pos + 12)) : 'the end';
    return new JsonSyntaxError(`${what} at character ${this.pos} (${at})`);
  }

  space(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    if (depth >= MAX_DEPTH) throw this.error(`nesting deeper than ${MAX_DEPTH}`);
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (this.s.startsWith('true', this.pos)) {
      this.pos += 4;
      return true;
    }
    if (this.s.startsWith('false', this.pos)) {
      this.pos += 5;
      return false;
    }
    if (this.s.startsWith('null', this.pos)) {
      this.pos += 4;
      return null;
    }
    throw this.error(c === undefined ? 'unexpected end' : 'unexpected character');
  }

  private object(depth: number): JsonObject {
    this.pos++;
    const members: [string, JsonValue][] = [];
    this.space();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return new JsonObject(members);
    }
    for (;;) {
      this.space();
      if (this.s[this.pos] !== '"') throw this.error('expected a member name');
      const name = this.string();
      this.space();
      if (this.s[this.pos] !== ':') throw this.error("expected ':'");
      this.pos++;
      this.space();
      members.push([name, this.value(depth + 1)]);
      this.space();
      const c = this.s[this.pos++];
      if (c === '}') return new JsonObject(members);
      if (c !== ',') {
        this.pos--;
        throw this.error("expected ',' or '}'");
      }
    }
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const items: JsonValue[] = [];
    this.space();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.space();
      items.push(this.value(depth + 1));
      this.space();
      const c = this.s[this.pos++];
      if (c === ']') return items;
      if (c !== ',') {
        this.pos--;
        throw this.error("expected ',' or ']'");
      }
    }
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (!m) throw this.error('malformed number');
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }

  private string(): string {
    const s = this.s;
    let out = '';
    let from = ++this.pos;
    for (;;) {
      if (this.pos >= s.length) throw this.error('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(from, this.pos++);
        return out;
      }
      if (c < 0x20) throw this.error('control character in a string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(from, this.pos);
      const e = s[this.pos + 1];
      if (e === 'u') {
        this.pos += 2;
        const unit = this.hex4();
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (s[this.pos] !== '\\' || s[this.pos + 1] !== 'u') throw this.error('lone surrogate escape');
          this.pos += 2;
          const low = this.hex4();
          if (low < 0xdc00 || low > 0xdfff) throw this.error('lone surrogate escape');
          out += String.fromCharCode(unit, low);
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          throw this.error('lone surrogate escape');
        } else out += String.fromCharCode(unit);
      } else {
        const r = e === undefined ? undefined : ESCAPES[e];
        if (r === undefined) throw this.error('invalid escape');
        out += r;
        this.pos += 2;
      }
      from = this.pos;
    }
  }

  private hex4(): number {
    const h = this.s.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) throw this.error('invalid \\u escape');
    this.pos += 4;
    return Number.parseInt(h, 16);
  }
}

/** A short JSON rendering of a value for error messages (at most about `max` characters). */
export function showJson(v: JsonValue, max = 60): string {
  const text = render(v, max);
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function render(v: JsonValue, budget: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > budget ? v.slice(0, budget) : v);
  if (v instanceof JsonNumber) return v.text;
  let out = '';
  if (Array.isArray(v)) {
    for (const item of v) {
      out += (out ? ',' : '') + render(item, budget - out.length);
      if (out.length > budget) break;
    }
    return `[${out}]`;
  }
  for (const [k, item] of v.members) {
    out += `${out ? ',' : ''}${JSON.stringify(k)}:${render(item, budget - out.length)}`;
    if (out.length > budget) break;
  }
  return `{${out}}`;
}
