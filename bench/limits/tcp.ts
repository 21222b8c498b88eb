/**
 * The network limit: the same record batches a producer sends (RecordBatch v2 bytes of the same
 * records) pushed over a loopback TCP connection from one process to another, with nothing done to
 * them: what a broker on this machine could receive at best. Two processes:
 *
 *   node --import tsx --conditions=source bench/limits/tcp.ts '{"mode":"sink"}'
 *   node --import tsx --conditions=source bench/limits/tcp.ts '{"mode":"source","port":..,"pool":..,"size":..,"count":..}'
 *
 * The sink prints `{"port":...}` when listening, reads the 8-byte length the source sends first and then
 * that many bytes, answers one byte and prints its CPU time. The source prints records, bytes and seconds (first write to the answer).
 */
import { connect, createServer } from 'node:net';
import { encodeBatches, readPool } from '../lib/values.js';

interface Options {
  mode: 'sink' | 'source';
  port?: number;
  pool?: string;
  size?: number;
  count?: number;
  partitions?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const cpu = () => {
  const r = process.resourceUsage();
  return (r.userCPUTime + r.systemCPUTime) / 1e6;
};

if (o.mode === 'sink') {
  const server = createServer((s) => {
    let got = -8;
    let expect = Number.POSITIVE_INFINITY;
    let head = Buffer.alloc(0);
    const c0 = cpu();
    s.on('data', (chunk: Buffer) => {
      if (head.length < 8) {
        head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
        if (head.length === 8) expect = Number(head.readBigUInt64BE(0));
      }
      got += chunk.length;
      if (got >= expect) {
        s.end(Buffer.from([1]));
        process.stdout.write(`${JSON.stringify({ bytes: got, cpu_seconds: cpu() - c0 })}\n`);
        server.close();
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
  });
} else {
  const pool = readPool(o.pool!, o.size!);
  const batches = encodeBatches(pool, o.count!, o.partitions ?? 1).map((b) => b.bytes);
  const bytes = batches.reduce((n, b) => n + b.length, 0);
  const s = connect(o.port!, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.setNoDelay(true);
  const done = new Promise<void>((r) => s.once('data', () => r()));
  const c0 = cpu();
  const t0 = performance.now();
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(bytes));
  s.write(head);
  for (const b of batches) {
    if (!s.write(b)) await new Promise<void>((r) => s.once('drain', () => r()));
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  s.destroy();
  process.stdout.write(`${JSON.stringify({ records: o.count, bytes, seconds, cpu_seconds: cpu() - c0 })}\n`);
}
