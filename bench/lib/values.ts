/**
 * The record values every scenario sends: a pool of distinct printable values (base64url alphabet,
 * random) of one size, written to a file so that the Python client, kafkajs and the direct-insert
 * limit all send the very same bytes. Record i carries value i % poolSize and a null key. The pool
 * spans at least 4 MiB, so repeats are far apart (beyond LZ4's 64 KiB window: ClickHouse's column
 * compression sees data about as random as the alphabet allows).
 *
 * Printable values need no TSV escaping (text). The other payloads (`--payloads`, bench/lib/payloads.ts)
 * have pools of their own of the same form: binary values are random bytes, of which 5 in 256 need a
 * TSV escape (invalid UTF-8 passes as it is where the transport takes bytes); JSON values are
 * order-like objects of exactly the value size (their quotes need no escape in TSV).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeRecordBatchSync } from '@kch/protocol';
import { jsonPool, type Payload } from './payloads.js';

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

export function poolSize(valueBytes: number): number {
  return Math.max(256, Math.ceil((4 * 1024 * 1024) / valueBytes));
}

/** Writes the value pool for `valueBytes` to `file`: poolSize(valueBytes) values back to back. */
export function writePool(file: string, valueBytes: number, payload: Payload = 'printable'): void {
  const n = poolSize(valueBytes);
  const buf = payload === 'json' ? jsonPool(n, valueBytes) : randomBytes(n * valueBytes);
  if (payload === 'printable') for (let i = 0; i < buf.length; i++) buf[i] = ALPHABET[buf[i]! & 63]!;
  writeFileSync(file, buf);
}

export function readPool(file: string, valueBytes: number): Buffer[] {
  const buf = readFileSync(file);
  const out: Buffer[] = [];
  for (let at = 0; at + valueBytes <= buf.length; at += valueBytes)
    out.push(buf.subarray(at, at + valueBytes));
  return out;
}

/** Records per batch as librdkafka builds them with batch.size=1,000,000 (and at most 10,000). */
export function recordsPerBatch(valueBytes: number): number {
  return Math.max(1, Math.min(10_000, Math.floor(1_000_000 / (valueBytes + 10))));
}

export interface EncodedBatch {
  partition: number;
  baseOffset: number;
  count: number;
  bytes: Buffer;
}

/**
 * `count` records in RecordBatch v2 form, round-robin over `partitions`, offsets as a broker would
 * assign them: what the broker hands its storage.
 */
export function encodeBatches(
  pool: Buffer[],
  count: number,
  partitions: number,
  perBatch = recordsPerBatch(pool[0]!.length),
): EncodedBatch[] {
  const out: EncodedBatch[] = [];
  const next = new Array<number>(partitions).fill(0);
  const ts = BigInt(Date.now());
  let i = 0;
  for (let b = 0; i < count; b++) {
    const partition = b % partitions;
    const n = Math.min(perBatch, count - i);
    const records = new Array(n);
    for (let k = 0; k < n; k++, i++) records[k] = { key: null, value: pool[i % pool.length]!, timestamp: ts };
    const baseOffset = next[partition]!;
    out.push({
      partition,
      baseOffset,
      count: n,
      bytes: encodeRecordBatchSync({ baseOffset: BigInt(baseOffset), records }),
    });
    next[partition] = baseOffset + n;
  }
  return out;
}
