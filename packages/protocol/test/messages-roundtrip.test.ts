/**
 * Every generated message at every version: a generated value encodes, decodes to the same value and
 * re-encodes to the same bytes. Values come from the schema the generator wrote beside the code
 * (src/generated/schema.json), so every field, null, tagged field and unknown tagged field is exercised.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as generated from '../src/generated/index.js';
import schemaJson from '../src/generated/schema.json' with { type: 'json' };
import { KafkaCodecError, type MessageCodec, Reader, Writer } from '../src/index.js';

type Range = [number, number] | null;
interface FieldSchema {
  prop: string;
  type: string;
  versions: Range;
  nullableVersions: Range;
  nullableType: boolean;
  tag: number | null;
  ignorable: boolean;
  flexibleVersions?: Range;
  default: string | null;
}
interface MessageSchema {
  name: string;
  validVersions: Range;
  flexibleVersions: Range;
  structs: Record<string, FieldSchema[]>;
}
const schema = schemaJson as unknown as { messages: MessageSchema[] };

const inRange = (r: Range | undefined, v: number) => r != null && v >= r[0] && v <= r[1];

/** The value a decoder gives a field that its version does not carry. */
function defaultValue(f: FieldSchema, msg: MessageSchema): unknown {
  if (f.default === 'null') return null;
  const t = f.type;
  if (t.startsWith('[]')) return [];
  if (t.startsWith('struct:')) {
    const fields = msg.structs[t.slice(7)]!;
    return Object.fromEntries(fields.map((g) => [g.prop, defaultValue(g, msg)]));
  }
  switch (t) {
    case 'bool':
      return f.default === 'true';
    case 'int64':
      return BigInt(f.default ?? '0');
    case 'string':
      return f.default ?? '';
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return f.nullableType ? null : Buffer.alloc(0);
    default:
      return Number(f.default ?? '0');
  }
}

const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 4 }));
const bytes = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b));

function primitive(t: string): fc.Arbitrary<unknown> {
  switch (t) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double();
    case 'string':
      return text;
    case 'uuid':
      return uuid;
    case 'bytes':
    case 'records':
      return bytes;
    default:
      throw new Error(`no arbitrary for ${t}`);
  }
}

function fieldArbitrary(
  f: FieldSchema,
  msg: MessageSchema,
  version: number,
  depth: number,
): fc.Arbitrary<unknown> {
  const t = f.type;
  let base: fc.Arbitrary<unknown>;
  if (t.startsWith('[]')) {
    const el = t.slice(2);
    const element = el.startsWith('struct:')
      ? structArbitrary(el.slice(7), msg, version, depth + 1)
      : primitive(el);
    base = fc.array(element, { maxLength: depth > 2 ? 1 : 3 });
  } else if (t.startsWith('struct:')) {
    base = structArbitrary(t.slice(7), msg, version, depth + 1);
  } else {
    base = primitive(t);
  }
  return inRange(f.nullableVersions, version) ? fc.option(base, { nil: null }) : base;
}

function unknownTagged(fields: FieldSchema[]): fc.Arbitrary<{ tag: number; data: Buffer }[] | undefined> {
  const known = new Set(fields.filter((f) => f.tag !== null).map((f) => f.tag));
  const free = fc.integer({ min: 0, max: 40 }).filter((t) => !known.has(t));
  return fc.option(
    fc
      .uniqueArray(free, { minLength: 1, maxLength: 3 })
      .chain((tags) =>
        fc.tuple(...tags.sort((a, b) => a - b).map((tag) => bytes.map((data) => ({ tag, data })))),
      ),
    { nil: undefined },
  );
}

function structArbitrary(
  name: string,
  msg: MessageSchema,
  version: number,
  depth: number,
): fc.Arbitrary<unknown> {
  const fields = msg.structs[name]!;
  const flexible = inRange(msg.flexibleVersions, version);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) {
    shape[f.prop] = inRange(f.versions, version)
      ? fieldArbitrary(f, msg, version, depth)
      : fc.constant(defaultValue(f, msg));
  }
  const record = fc.record(shape);
  if (!flexible) return record;
  return fc
    .tuple(record, unknownTagged(fields))
    .map(([value, unknown]) =>
      unknown === undefined ? value : { ...(value as object), unknownTaggedFields: unknown },
    );
}

const codecs = new Map<string, MessageCodec<unknown>>();
for (const value of Object.values(generated)) {
  if (value && typeof value === 'object' && 'encode' in value && 'decode' in value && 'name' in value) {
    codecs.set((value as MessageCodec<unknown>).name, value as MessageCodec<unknown>);
  }
}

function versionsOf(msg: MessageSchema): number[] {
  const [min, max] = msg.validVersions!;
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

function encode(codec: MessageCodec<unknown>, value: unknown, version: number): Buffer {
  const w = new Writer(16);
  codec.encode(w, value as never, version);
  return w.toBuffer();
}

describe('every message at every version round-trips', () => {
  it('covers every emitted message with a codec', () => {
    expect(schema.messages.length).toBeGreaterThan(120);
    for (const m of schema.messages) expect(codecs.has(m.name), m.name).toBe(true);
  });

  for (const msg of schema.messages) {
    it(`${msg.name} v${msg.validVersions![0]}-${msg.validVersions![1]}`, () => {
      const codec = codecs.get(msg.name)!;
      for (const version of versionsOf(msg)) {
        fc.assert(
          fc.property(structArbitrary(msg.name, msg, version, 0), (value) => {
            const bytes = encode(codec, value, version);
            const r = new Reader(bytes);
            const decoded = codec.decode(r, version);
            expect(r.offset).toBe(bytes.length);
            expect(decoded).toEqual(value);
            expect(encode(codec, decoded, version).equals(bytes)).toBe(true);
          }),
          { numRuns: 15, seed: version * 7919 + msg.name.length },
        );
      }
    });
  }
});

describe('malformed input', () => {
  it('every strict prefix of an encoding fails with a typed error, never an out-of-bounds read', () => {
    for (const msg of schema.messages) {
      const codec = codecs.get(msg.name)!;
      for (const version of versionsOf(msg)) {
        const [value] = fc.sample(structArbitrary(msg.name, msg, version, 0), { numRuns: 1, seed: version });
        const bytes = encode(codec, value, version);
        for (let cut = 0; cut < bytes.length; cut++) {
          expect(
            () => codec.decode(new Reader(bytes.subarray(0, cut)), version),
            `${msg.name} v${version} cut ${cut}`,
          ).toThrow(KafkaCodecError);
        }
      }
    }
  });

  it('random bytes either decode or raise KafkaCodecError', () => {
    const names = schema.messages.map((m) => m.name);
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(),
        (name, data, pick) => {
          const msg = schema.messages.find((m) => m.name === name)!;
          const versions = versionsOf(msg);
          const version = versions[pick % versions.length]!;
          try {
            codecs.get(name)!.decode(new Reader(data), version);
          } catch (e) {
            expect(e).toBeInstanceOf(KafkaCodecError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('an array count larger than the input is rejected before allocating', () => {
    // MetadataRequest v1: topics array of 0x7fffffff elements in a 4-byte body
    const r = new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    expect(() => generated.MetadataRequest.decode(r, 1)).toThrow(/announces 2147483647 elements/);
  });
});

describe('fields a version cannot carry', () => {
  it('a non-default value in a non-ignorable field absent from the version throws UNSUPPORTED_FIELD', () => {
    let checked = 0;
    for (const msg of schema.messages) {
      const codec = codecs.get(msg.name)!;
      for (const version of versionsOf(msg)) {
        for (const f of msg.structs[msg.name]!) {
          if (inRange(f.versions, version) || f.type.startsWith('struct:')) continue;
          const [sample] = fc
            .sample(fieldArbitrary(f, msg, f.versions?.[0] ?? version, 0), { numRuns: 20, seed: 1 })
            .filter(
              (v) =>
                JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) !==
                JSON.stringify(defaultValue(f, msg), (_, x) => (typeof x === 'bigint' ? x.toString() : x)),
            );
          if (sample === undefined) continue;
          const run = () => encode(codec, { [f.prop]: sample }, version);
          if (f.ignorable) expect(run, `${msg.name}.${f.prop} v${version}`).not.toThrow();
          else {
            expect(run, `${msg.name}.${f.prop} v${version}`).toThrow(/cannot be sent at version/);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('null in a field that the version does not allow to be null throws NULL_NOT_ALLOWED', () => {
    // ProduceRequest.transactionalId is nullable from v3; CreateTopicsRequest topic names never are.
    expect(() => encode(generated.CreateTopicsRequest, { topics: [{ name: null as never }] }, 5)).toThrow(
      KafkaCodecError,
    );
    expect(() =>
      encode(generated.FetchResponse, { responses: [{ partitions: [{ records: null }] }] }, 4),
    ).not.toThrow();
    // MetadataRequest.topics is nullable from v1 only
    expect(() => encode(generated.MetadataRequest, { topics: null }, 0)).toThrow(/does not allow null/);
    expect(() => encode(generated.MetadataRequest, { topics: null }, 1)).not.toThrow();
  });

  it('leaves out unstable versions and lists at least 55 client-facing APIs', () => {
    expect(generated.API_VERSIONS.length).toBeGreaterThanOrEqual(55);
    const endTxn = generated.API_VERSIONS.find((a) => a.name === 'EndTxn')!;
    expect(endTxn.maxVersion).toBe(4); // v5 is latestVersionUnstable in these definitions
    expect(generated.API_VERSIONS.find((a) => (a.name as string) === 'ShareFetch')).toBeUndefined();
    expect(generated.API_VERSIONS.find((a) => (a.name as string) === 'LeaderAndIsr')).toBeUndefined(); // not a broker listener API
    const keys = generated.API_VERSIONS.map((a) => a.apiKey);
    expect([...keys].sort((a, b) => a - b)).toEqual(keys);
  });
});
