/**
 * The ClickHouse of the `engine-peer` group (bench/engine-peer.ts): embedded ClickHouse (chdb) in a
 * process of its own, as a ClickHouse server beside a Kafka broker would be, whose Kafka engine tables
 * consume from the broker child. Started with an IPC channel:
 *
 *   node --import tsx --conditions=source bench/engine-peer-child.ts '{"dir":"<data directory>"}'
 *
 * It sends `{ type: 'ready', pid }` once its session is open, then answers `sql` (a statement, the
 * reply's `text` in TabSeparated) and `close`, with the replies of bench/broker-child.ts
 * (`<type>-reply`, the request's `id`), so the harness's BrokerProcess-style requests work on both.
 * The Kafka engine's consumers are ClickHouse threads: they go on while a query waits.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ChdbSession {
  queryAsync(sql: string, opts?: { format?: string }): Promise<{ bytes(): Uint8Array }>;
  close(): void;
}

const { dir } = JSON.parse(process.argv[2] ?? '{}') as { dir: string };
// chdb is a dependency of the storage package, not of the repository root.
const require = createRequire(join(process.cwd(), 'packages/storage/package.json'));
const { Session } = (await import(pathToFileURL(require.resolve('chdb')).href)) as {
  Session: new (path: string) => ChdbSession;
};
const session = new Session(dir);

process.on('message', (raw) => {
  const m = raw as { type: string; id?: number; sql?: string };
  const reply = (body: Record<string, unknown>) =>
    process.send?.({ ...body, type: `${m.type}-reply`, id: m.id });
  void (async () => {
    try {
      if (m.type === 'sql') {
        const r = await session.queryAsync(String(m.sql), { format: 'TabSeparated' });
        reply({ text: Buffer.from(r.bytes()).toString('utf8') });
      } else if (m.type === 'close') {
        session.close();
        reply({ closed: true });
        setTimeout(() => process.exit(0), 50);
      } else reply({ error: `unknown message ${m.type}` });
    } catch (e) {
      reply({ error: (e as Error).stack ?? String(e) });
    }
  })();
});

// The harness went away (Ctrl-C, crash): do not linger as an orphan.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', pid: process.pid });
