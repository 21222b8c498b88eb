/**
 * Support for the generated message codecs in ./generated: the helpers every generated encoder and
 * decoder calls, kept here so the generated files stay small and the logic exists once.
 */
import { KafkaCodecError } from './errors.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/** A tagged field this codec does not know: kept on decode and written back unchanged on encode. */
export interface UnknownTaggedField {
  tag: number;
  data: Buffer;
}

/**
 * What an encoder accepts: the message with every field optional, at any depth. A missing field is
 * written as its default, as in Kafka's generated Java classes. A byte field may be given as a list of
 * chunks, written as one field without concatenating them (record batches in a Fetch response).
 */
export type Init<T> = T extends Buffer
  ? Buffer | readonly Buffer[]
  : T extends bigint | string | number | boolean | null | undefined | readonly Buffer[]
    ? T
    : T extends readonly (infer E)[]
      ? Init<E>[]
      : { [K in keyof T]?: K extends 'unknownTaggedFields' ? T[K] : Init<T[K]> };

/** Encoder and decoder of one message type, over all of its versions. */
export interface MessageCodec<T> {
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first flexible version (compact encodings and tagged fields), or -1 if none is. */
  readonly flexibleMinVersion: number;
  encode(w: Writer, message: Init<T>, version: number): void;
  decode(r: Reader, version: number): T;
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
/** Kafka's Uuid.ZERO_UUID in its printed form. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

let lenientDepth = 0;

/**
 * Runs `encode` so that fields the chosen version cannot carry are left out instead of failing.
 * A broker fills its responses once for every version and lets each version keep what it can carry,
 * as Kafka's own broker does when it builds version-specific responses.
 */
export function encodeLeniently<T>(encode: () => T): T {
  lenientDepth++;
  try {
    return encode();
  } finally {
    lenientDepth--;
  }
}

export function unsupportedField(struct: string, field: string, version: number): void {
  if (lenientDepth > 0) return;
  throw new KafkaCodecError(
    'UNSUPPORTED_FIELD',
    `${struct}.${field} cannot be sent at version ${version}: that version has no such field; leave it at its default or use a version that has it`,
  );
}

export function nullNotAllowed(struct: string, field: string, version: number): never {
  throw new KafkaCodecError(
    'NULL_NOT_ALLOWED',
    `${struct}.${field} is null, but version ${version} does not allow null for it`,
  );
}

export function nonNull<T>(value: T | null, struct: string, field: string, version: number): T {
  if (value === null) nullNotAllowed(struct, field, version);
  return value;
}

export type ElementDecoder<T> = (r: Reader, version: number) => T;
export type ElementEncoder<T> = (w: Writer, value: Init<T>, version: number) => void;

export function readStructArray<T>(
  r: Reader,
  compact: boolean,
  version: number,
  decode: ElementDecoder<T>,
): T[] | null {
  const n = r.arrayLength(compact);
  if (n < 0) return null;
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = decode(r, version);
  return out;
}

export function writeStructArray<T>(
  w: Writer,
  values: readonly Init<T>[] | null,
  compact: boolean,
  version: number,
  encode: ElementEncoder<T>,
): void {
  if (values === null) {
    w.arrayLength(null, compact);
    return;
  }
  w.arrayLength(values.length, compact);
  for (let i = 0; i < values.length; i++) encode(w, values[i]!, version);
}

export type PrimitiveArrayKind = 'int8' | 'int16' | 'int32' | 'int64' | 'string' | 'uuid';
type PrimitiveOf<K extends PrimitiveArrayKind> = K extends 'int64'
  ? bigint
  : K extends 'string' | 'uuid'
    ? string
    : number;

export function readPrimitiveArray<K extends PrimitiveArrayKind>(
  r: Reader,
  compact: boolean,
  kind: K,
): PrimitiveOf<K>[] | null {
  const n = r.arrayLength(compact);
  if (n < 0) return null;
  const out = new Array<PrimitiveOf<K>>(n);
  for (let i = 0; i < n; i++) out[i] = readPrimitive(r, compact, kind) as PrimitiveOf<K>;
  return out;
}

function readPrimitive(r: Reader, compact: boolean, kind: PrimitiveArrayKind): number | bigint | string {
  switch (kind) {
    case 'int8':
      return r.int8();
    case 'int16':
      return r.int16();
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'string':
      return r.string(compact);
    case 'uuid':
      return r.uuid();
  }
}

export function writePrimitiveArray(
  w: Writer,
  values: readonly (number | bigint | string)[] | null,
  compact: boolean,
  kind: PrimitiveArrayKind,
): void {
  if (values === null) {
    w.arrayLength(null, compact);
    return;
  }
  w.arrayLength(values.length, compact);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    switch (kind) {
      case 'int8':
        w.int8(v as number);
        break;
      case 'int16':
        w.int16(v as number);
        break;
      case 'int32':
        w.int32(v as number);
        break;
      case 'int64':
        w.int64(v as bigint);
        break;
      case 'string':
        w.string(v as string, compact);
        break;
      case 'uuid':
        w.uuid(v as string);
        break;
    }
  }
}

/** Reads a tagged field's header; returns the offset its value must end at. */
export function readTagHeader(r: Reader): { tag: number; end: number } {
  const tag = r.uvarint();
  const size = r.uvarint();
  if (size > r.remaining) {
    throw new KafkaCodecError(
      'TRUNCATED',
      `tagged field ${tag} announces ${size} bytes but ${r.remaining} remain`,
    );
  }
  return { tag, end: r.offset + size };
}

export function checkTagEnd(r: Reader, tag: number, end: number): void {
  if (r.offset !== end) {
    throw new KafkaCodecError(
      'INVALID_LENGTH',
      `tagged field ${tag} was declared to end at offset ${end} but its value ended at ${r.offset}`,
    );
  }
}

/**
 * Writes the unknown tagged fields whose tag is below `beforeTag`, starting at index `from`, so that
 * known and unknown fields together go out in ascending tag order. Returns the next index.
 */
export function writeUnknownTagged(
  w: Writer,
  unknown: readonly UnknownTaggedField[] | undefined,
  from: number,
  beforeTag: number,
): number {
  if (unknown === undefined) return from;
  let i = from;
  for (; i < unknown.length && unknown[i]!.tag < beforeTag; i++) {
    const field = unknown[i]!;
    w.uvarint(field.tag);
    w.uvarint(field.data.length);
    w.raw(field.data);
  }
  return i;
}
