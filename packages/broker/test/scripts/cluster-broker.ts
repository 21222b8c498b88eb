/**
 * One of several brokers over one ClickHouse database, in a process of its own, for tests that kill
 * or pause it (cluster-processes.test.ts): prints `{"port":PORT}` on stdout once it serves; logs JSON
 * lines on stderr. Ends once the broker closed (its registration was lost), or on SIGTERM.
 *
 *   node --import tsx --conditions=source cluster-broker.ts <clickhouse-url> <database> <node-id>
 */
import { createBroker, jsonLogger } from '@kch/broker';
import { clickhouseStorage } from '@kch/storage';

const [url, database, node] = process.argv.slice(2);
const nodeId = Number(node);
if (!url || !database || !Number.isInteger(nodeId)) {
  process.stderr.write('usage: cluster-broker.ts <clickhouse-url> <database> <node-id>\n');
  process.exit(2);
}
const logger = jsonLogger('info');
const broker = await createBroker({
  storage: clickhouseStorage({ url, database }),
  nodeId,
  logger,
});
const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port })}\n`);

// The broker closes itself when its registration is lost; the test then sees the process end.
let closing = false;
async function stop(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  await broker.close().catch(() => undefined);
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
const timer = setInterval(() => {
  if (broker.listeningOn === undefined) void stop(3);
}, 200);
timer.unref();
