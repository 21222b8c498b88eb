/**
 * The CLI's side of its Kafka client (@platformatic/kafka): the bootstrap list as kch reads it, and what
 * kch says when a broker is too old, silent, or hangs up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ApiVersionsResponse, encodeResponseFrame, FrameSplitter, parseRequestHeader } from '@kch/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError, UsageError } from '../src/client/errors.js';
import { Kafka } from '../src/client/kafka.js';
import { parseBootstrap } from '../src/client/kafka-config.js';
import { ExitCode } from '../src/command.js';
import topics from '../src/commands/topics.js';
import { run } from './client-helpers.js';

describe('parseBootstrap', () => {
  it('reads host:port lists, bare hosts and bracketed IPv6', () => {
    expect(parseBootstrap('a:1, b:2')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(parseBootstrap('kafka')).toEqual([{ host: 'kafka', port: 9092 }]);
    expect(parseBootstrap('[::1]:9093')).toEqual([{ host: '::1', port: 9093 }]);
  });

  it.each(['', ':9092', 'h:0', 'h:70000', 'h:x', '::1:9092'])('refuses %j', (s) => {
    expect(() => parseBootstrap(s)).toThrow(UsageError);
  });
});

describe('brokers that do not answer as Kafka 3.5+ does', () => {
  let server: Server;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A fake broker: answers ApiVersions as Kafka 2.3 does (ApiVersions up to v2), not at all, or hangs up. */
  async function fakeBroker(mode: 'old' | 'silent' | 'hangup'): Promise<string> {
    server = createServer((socket) => {
      sockets.push(socket);
      if (mode === 'hangup') {
        socket.destroy();
        return;
      }
      const splitter = new FrameSplitter({ maxFrameSize: 1 << 20 });
      socket.on('data', (chunk: Buffer) => {
        for (const frame of splitter.push(chunk)) {
          if (mode === 'silent') continue;
          const { header } = parseRequestHeader(frame);
          // KIP-511: a version the broker does not know gets UNSUPPORTED_VERSION in a v0 body.
          const reply = encodeResponseFrame(ApiVersionsResponse, 18, 0, header.correlationId, {
            errorCode: 35,
            apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }],
          });
          for (const c of reply) socket.write(c);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('says which brokers the client needs when one is too old', async () => {
    const r = await run(topics, ['list', '-b', await fakeBroker('old')]);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('kch topics: listing topics failed: UNSUPPORTED_VERSION');
    expect(r.stderr).toContain('Kafka 3.5 and later');
  });

  it('gives up on a broker that does not answer, after the request timeout', async () => {
    const kafka = new Kafka(await fakeBroker('silent'), 200);
    try {
      const failure = kafka.topics(null);
      await expect(failure).rejects.toThrow(UnavailableError);
      await expect(failure).rejects.toThrow(
        'the broker did not answer within 200 ms while listing topics; check that it is healthy',
      );
    } finally {
      await kafka.close();
    }
  });

  it('reports a connection the broker closes, and exits 69', async () => {
    const bootstrap = await fakeBroker('hangup');
    const r = await run(topics, ['list', '-b', bootstrap]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toMatch(new RegExp(`lost the connection to the broker|cannot connect to ${bootstrap}`));
  });
});
