/**
 * A broker on embedded ClickHouse in a process of its own, for tests that kill it: prints
 * `LISTENING <port>` once it accepts connections. Usage: chdb-broker.ts <data-dir> <database>
 *
 * With KCH_TEST_HOLD_MARKERS=1, inserts that carry a transaction marker never finish: the broker is
 * then like one killed after a commit was acknowledged and before its markers were written.
 */
import { createBroker, silentLogger } from '@kch/broker';
import { type ClickHouseTransport, clickhouseStorage } from '@kch/storage';

const [dir, database] = process.argv.slice(2);
if (!dir || !database) {
  process.stderr.write('usage: chdb-broker.ts <data-dir> <database>\n');
  process.exit(2);
}

/** A transport whose inserts of marker rows (kind `marker` in `_kch_txn_batches`) hang. */
function holdingMarkers(inner: ClickHouseTransport): ClickHouseTransport {
  const marker = Buffer.from('\tmarker\t');
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'insertBytes') {
        return (table: string, columns: readonly string[], chunks: readonly Buffer[], options?: unknown) =>
          table.includes('_kch_txn_batches') && chunks.some((c) => c.includes(marker))
            ? new Promise<void>(() => {})
            : target.insertBytes(table, columns, chunks, options as never);
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const broker = await createBroker({
  storage: clickhouseStorage({
    chdb: dir,
    database,
    ...(process.env.KCH_TEST_HOLD_MARKERS === '1' ? { wrapTransport: holdingMarkers } : {}),
  }),
  logger: silentLogger,
});
const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`LISTENING ${port}\n`);
