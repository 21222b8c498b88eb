/** The CLI's Kafka client: bootstrap parsing, ApiVersions negotiation, timeouts and lost connections. */
import { createServer, type Server, type Socket } from 'node:net';
import {
  API_VERSIONS,
  ApiKeys,
  ApiVersionsResponse,
  encodeResponseFrame,
  FrameSplitter,
  parseRequestHeader,
} from '@kch/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaClient, parseBootstrap } from '../src/client/client.js';
import { CliError, UnavailableError, UsageError } from '../src/client/errors.js';
import { startTestBroker, type TestBroker } from './client-helpers.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

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

describe('ApiVersions negotiation', () => {
  it('uses the highest version both the codec and this broker serve', async () => {
    const client = await KafkaClient.connect({ bootstrap: broker.bootstrap });
    try {
      const ours = (name: string) => API_VERSIONS.find((a) => a.name === name)!;
      expect(client.bootstrap.version('Metadata')).toBe(ours('Metadata').maxVersion);
      // The broker serves Fetch from v4 only: the range is the intersection.
      expect(client.bootstrap.versions.get(ApiKeys.Fetch)).toEqual({ min: 4, max: ours('Fetch').maxVersion });
      expect(client.bootstrap.version('Fetch', { maxVersion: 12 })).toBe(12);
      expect(client.bootstrap.version('Fetch', { maxVersion: 3 })).toBeUndefined();
    } finally {
      client.close();
    }
  });

  describe('against an older broker', () => {
    let server: Server;
    const sockets: Socket[] = [];
    afterEach(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    /** A fake broker: answers ApiVersions as Kafka 2.3 does (ApiVersions up to v2), or not at all. */
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
            const v = header.requestApiVersion;
            const id = header.correlationId;
            // KIP-511: a version the broker does not know gets UNSUPPORTED_VERSION in a v0 body.
            const reply =
              v > 2
                ? encodeResponseFrame(ApiVersionsResponse, 18, 0, id, {
                    errorCode: 35,
                    apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }],
                  })
                : encodeResponseFrame(ApiVersionsResponse, 18, v, id, {
                    errorCode: 0,
                    apiKeys: [
                      { apiKey: 18, minVersion: 0, maxVersion: 2 },
                      { apiKey: 3, minVersion: 0, maxVersion: 5 },
                      { apiKey: 0, minVersion: 3, maxVersion: 7 },
                    ],
                  });
            for (const c of reply) socket.write(c);
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `127.0.0.1:${(server.address() as { port: number }).port}`;
    }

    it('asks again at the version the broker names (KIP-511) and keeps to its ranges', async () => {
      const client = await KafkaClient.connect({ bootstrap: await fakeBroker('old') });
      try {
        expect(client.bootstrap.version('ApiVersions')).toBe(2);
        expect(client.bootstrap.version('Metadata')).toBe(5);
        expect(client.bootstrap.version('Produce')).toBe(7);
        expect(client.bootstrap.version('Fetch')).toBeUndefined();
        expect(() => client.bootstrap.requireVersion('Fetch')).toThrow(
          /serves no version of Fetch, but this command needs/,
        );
        expect(() => client.bootstrap.requireVersion('Fetch')).toThrow(CliError);
      } finally {
        client.close();
      }
    });

    it('gives up on a broker that does not answer, after the request timeout', async () => {
      const bootstrap = await fakeBroker('silent');
      const failure = KafkaClient.connect({ bootstrap, requestTimeoutMs: 200 });
      await expect(failure).rejects.toThrow(UnavailableError);
      await expect(failure).rejects.toThrow(
        `the broker at ${bootstrap} did not answer ApiVersions within 200 ms`,
      );
    });

    it('reports a connection the broker closes', async () => {
      const bootstrap = await fakeBroker('hangup');
      await expect(KafkaClient.connect({ bootstrap })).rejects.toThrow(
        new RegExp(`lost the connection to ${bootstrap}|cannot connect to ${bootstrap}`),
      );
    });
  });
});
