/**
 * Hostile or broken input over real TCP: the broker answers or closes that connection, and keeps
 * serving everyone else.
 */
import { connect, type Socket } from 'node:net';
import {
  ApiKeys,
  ApiVersionsRequest,
  ApiVersionsResponse,
  decodeResponseFrame,
  encodeRequestFrame,
  FrameSplitter,
} from '@kch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';

let b: RunningBroker;
beforeAll(async () => {
  b = await startBroker({ maxRequestSize: 1024 * 1024 });
});
afterAll(async () => {
  await b?.close();
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(b.port, b.host, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the frames received until the socket closes or `ms` passes, and whether it closed. */
function collect(s: Socket, ms: number): Promise<{ frames: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const splitter = new FrameSplitter({ maxFrameSize: 1 << 26 });
    const frames: Buffer[] = [];
    let closed = false;
    s.on('data', (c: Buffer) => frames.push(...splitter.push(c)));
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', () => undefined);
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      resolve({ frames, closed });
    }
  });
}

/** A well-behaved ApiVersions round trip on a new connection: the broker still serves. */
async function stillServes(): Promise<void> {
  const s = await open();
  const got = collect(s, 5000);
  for (const c of encodeRequestFrame(ApiVersionsRequest, ApiKeys.ApiVersions, 3, 99, 'probe', {
    clientSoftwareName: 'probe',
    clientSoftwareVersion: '1',
  })) {
    s.write(c);
  }
  await new Promise((r) => setTimeout(r, 200));
  s.end();
  const { frames } = await got;
  expect(frames.length).toBe(1);
  const { correlationId, body } = decodeResponseFrame(
    ApiVersionsResponse,
    ApiKeys.ApiVersions,
    3,
    frames[0]!,
  );
  expect(correlationId).toBe(99);
  expect(body.errorCode).toBe(0);
  expect(body.apiKeys.length).toBeGreaterThan(5);
}

describe('bad input', () => {
  it('closes a connection that sends garbage, and keeps serving others', async () => {
    const s = await open();
    const got = collect(s, 5000);
    s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect((await got).closed).toBe(true);
    await stillServes();
  });

  it('closes on a length prefix over the maximum request size before reading it', async () => {
    const s = await open();
    const got = collect(s, 5000);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(0x7ffffff0);
    s.write(prefix);
    expect((await got).closed).toBe(true);
    await stillServes();
  });

  it('survives a truncated frame and a half-open client', async () => {
    const s = await open();
    const frame = Buffer.concat(encodeRequestFrame(ApiVersionsRequest, ApiKeys.ApiVersions, 3, 1, 'x', {}));
    s.write(frame.subarray(0, frame.length - 3));
    s.end();
    await new Promise((r) => setTimeout(r, 100));
    await stillServes();
  });

  it('closes on a frame too short for a header, or a body that does not parse', async () => {
    const s = await open();
    const got = collect(s, 5000);
    s.write(Buffer.from([0, 0, 0, 3, 0, 18, 0]));
    expect((await got).closed).toBe(true);
    const t = await open();
    const got2 = collect(t, 5000);
    // Metadata v1 whose topic array claims 1000 entries in 4 bytes
    const body = Buffer.from([0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 0, 0, 3, 0xe8]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    t.write(Buffer.concat([size, body]));
    expect((await got2).closed).toBe(true);
    await stillServes();
  });

  it('closes on an unknown API key', async () => {
    const s = await open();
    const got = collect(s, 5000);
    const body = Buffer.from([0x03, 0xe7, 0, 0, 0, 0, 0, 5, 0xff, 0xff]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    s.write(Buffer.concat([size, body]));
    const r = await got;
    expect(r.closed).toBe(true);
    expect(r.frames).toEqual([]);
    await stillServes();
  });

  it('answers ApiVersions from the future with a v0 response listing the supported versions (KIP-511)', async () => {
    const s = await open();
    const got = collect(s, 2000);
    // ApiVersions v42, flexible header v2: key, version, correlation id, client id, empty tagged fields
    const body = Buffer.from([0, 18, 0, 42, 0, 0, 0, 7, 0, 1, 0x61, 0, 0xde, 0xad]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    s.write(Buffer.concat([size, body]));
    const { frames } = await got;
    s.destroy();
    expect(frames).toHaveLength(1);
    const { correlationId, body: response } = decodeResponseFrame(
      ApiVersionsResponse,
      ApiKeys.ApiVersions,
      0,
      frames[0]!,
    );
    expect(correlationId).toBe(7);
    expect(response.errorCode).toBe(35);
    const apiVersions = response.apiKeys.find((k) => k.apiKey === 18)!;
    expect(apiVersions).toEqual({ apiKey: 18, minVersion: 0, maxVersion: 4 });
  });

  it('answers pipelined requests in order', async () => {
    const s = await open();
    const got = collect(s, 2000);
    const chunks = [];
    for (let i = 0; i < 50; i++)
      chunks.push(...encodeRequestFrame(ApiVersionsRequest, ApiKeys.ApiVersions, i % 4, 1000 + i, 'p', {}));
    s.write(Buffer.concat(chunks));
    const { frames } = await got;
    s.destroy();
    expect(frames.map((f) => f.readInt32BE(0))).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
  });
});
