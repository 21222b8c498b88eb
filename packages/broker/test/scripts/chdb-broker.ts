/**
 * A broker on embedded ClickHouse in a process of its own, for tests that kill it: prints
 * `LISTENING <port>` once it accepts connections. Usage: chdb-broker.ts <data-dir> <database>
 */
import { createBroker, silentLogger } from '@kch/broker';
import { clickhouseStorage } from '@kch/storage';

const [dir, database] = process.argv.slice(2);
if (!dir || !database) {
  process.stderr.write('usage: chdb-broker.ts <data-dir> <database>\n');
  process.exit(2);
}
const broker = await createBroker({
  storage: clickhouseStorage({ chdb: dir, database }),
  logger: silentLogger,
});
const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`LISTENING ${port}\n`);
