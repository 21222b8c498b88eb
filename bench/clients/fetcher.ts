/**
 * A consumer that costs next to nothing: Fetch requests (v12, sessionless, one in flight, as a Kafka
 * consumer sends them) over the codec, counting records from the batch headers without decoding them.
 * So its figure is what the broker can serve, not what a client can parse. In a process of its own:
 *
 *   node --import tsx --conditions=source bench/clients/fetcher.ts '<json options>'
 *
 * Prints one JSON line: records, bytes, seconds (first request to last record), this process's CPU.
 */
import { countRecords, RawClient } from '../lib/raw-client.js';

interface Options {
  host: string;
  port: number;
  topic: string;
  offsets: number[];
  count: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const client = await RawClient.connect(o.host, o.port);
const offsets = [...o.offsets];
let records = 0;
let bytes = 0;
let fetches = 0;
const t0 = performance.now();
let idleSince = performance.now();
while (records < o.count) {
  const r = await client.send('Fetch', 12, {
    replicaId: -1,
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: o.maxBytes ?? 52_428_800,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: o.topic,
        partitions: offsets.map((fetchOffset, partition) => ({
          partition,
          currentLeaderEpoch: -1,
          fetchOffset: BigInt(fetchOffset),
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: o.partitionMaxBytes ?? 10_485_760,
        })),
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  fetches++;
  let got = 0;
  for (const t of r.responses) {
    for (const p of t.partitions) {
      if (p.errorCode !== 0) throw new Error(`fetch ${o.topic}-${p.partitionIndex}: error ${p.errorCode}`);
      const records = p.records as Buffer | null;
      const c = countRecords(records, offsets[p.partitionIndex]!);
      got += c.records;
      bytes += records?.length ?? 0;
      offsets[p.partitionIndex] = c.next;
    }
  }
  if (got > 0) {
    records += got;
    idleSince = performance.now();
  } else if (performance.now() - idleSince > 15_000) break;
}
const end = performance.now();
client.close();
const ru = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    records,
    bytes,
    fetches,
    seconds: (end - t0) / 1000,
    cpu_seconds: (ru.userCPUTime + ru.systemCPUTime) / 1e6,
    max_rss_mib: Math.round(ru.maxRSS / 102.4) / 10,
  })}\n`,
);
