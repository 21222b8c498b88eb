/**
 * The `security` group: what TLS and SASL cost per record and per core.
 *
 * One broker child with three listeners, PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-512, a user stored as
 * AlterUserScramCredentials would), on memory storage, so that no storage cost hides the transport's.
 * On each listener librdkafka produces the same number of records at full speed (acks=all, the
 * settings of the produce phases) into a topic of its own, then consumes them back from offset 0.
 * Rounds run the listeners in alternating order (forward, then reversed), so that none is always first
 * (a broker still warming up) or last; the summary is the median of the rounds, and each protocol's
 * figures divided by PLAINTEXT's. The clients connect and authenticate before their clock starts, so
 * the figures are the cost of moving records over an established session (the broker's CPU of a phase
 * still holds its side of the client's few handshakes, within the noise of SSL against SASL_SSL).
 *
 * The listener's certificate is made with openssl by the generator the broker's TLS tests use.
 */
import { rmSync } from 'node:fs';
import { makeServerCertificates, type ServerCertificates } from '../packages/broker/test/helpers/certs.js';
import { type BrokerProcess, type ClientOut, clientCost } from './lib/children.js';
import type { Bench } from './lib/context.js';
import { createTopic, deleteTopic, endOffsets, RawClient } from './lib/raw-client.js';
import type { BenchSecurityProtocol, BrokerCost, SecurityRun, SecuritySummary } from './lib/results.js';
import { MiB, median, si } from './lib/stats.js';

const PROTOCOLS: readonly BenchSecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_SSL'];
const MECHANISM = 'SCRAM-SHA-512';
const USER = { user: 'bench', password: 'bench-secret', mechanism: MECHANISM } as const;

/** Even, so that each order (forward, reversed) runs as often. */
const rounds = (quick: boolean) => (quick ? 2 : 4);

/**
 * Records per run: --quick's counts (runs of a fraction of a second: the group takes ~13 s, and its
 * figures only show that it works); a full run a quarter of the produce phases' (500,000 of 100 B,
 * 100,000 of 1 KiB: 1-3 s a client run, 48 of them in about a minute), more rounds rather than longer
 * runs, since medians of several short runs resist other load on the machine better than one long run.
 */
const runCount = (bench: Bench, size: number) =>
  bench.args.quick ? bench.plan.count(size) : Math.round(bench.plan.count(size) / 4);

export async function securityGroup(bench: Bench): Promise<void> {
  const { args, results, log } = bench;
  log(`security: librdkafka over PLAINTEXT, SSL and SASL_SSL (${MECHANISM}), memory storage`);
  let certs: ServerCertificates;
  try {
    certs = makeServerCertificates();
  } catch (e) {
    const why = `openssl could not make a certificate (${(e as Error).message.split('\n')[0]})`;
    if (process.env.CI) throw new Error(`${why}; CI must have openssl`);
    results.skipped.push(`security group: ${why}`);
    return;
  }
  const security = {
    mechanism: MECHANISM,
    rounds: rounds(args.quick),
    count: {} as Record<string, number>,
    runs: [] as SecurityRun[],
    summary: [] as SecuritySummary[],
  };
  results.security = security;
  const tls = { cert: certs.serverCert, key: certs.serverKey };
  let b: BrokerProcess | undefined;
  let admin: RawClient | undefined;
  try {
    ({ b } = await bench.startBroker('memory', 'broker-security', undefined, {
      broker: {
        listeners: PROTOCOLS.map((p) => ({
          name: p,
          host: '127.0.0.1',
          port: 0,
          securityProtocol: p,
          ...(p === 'PLAINTEXT' ? {} : { tls }),
        })),
        sasl: { enabledMechanisms: [MECHANISM] },
      },
      scramUsers: [USER],
    }));
    admin = await RawClient.connect('127.0.0.1', b.listeners.PLAINTEXT!);
    for (const size of args.sizes) {
      const count = runCount(bench, size);
      security.count[String(size)] = count;
      for (let round = 0; round < security.rounds; round++) {
        const order = round % 2 === 0 ? PROTOCOLS : [...PROTOCOLS].reverse();
        for (const [position, protocol] of order.entries()) {
          const run = { protocol, size, round, position, count, caCert: certs.caCert };
          security.runs.push(...(await produceThenConsume(bench, b, admin, run)));
        }
      }
    }
  } catch (e) {
    results.errors.push(`security: ${(e as Error).stack ?? e}\n${b?.lastStderr ?? ''}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin?.close();
    await b?.close();
    rmSync(certs.dir, { recursive: true, force: true });
  }
  security.summary = summarize(security.runs);
  for (const s of security.summary) {
    const vs = s.vsPlaintext;
    log(
      `    ${s.kind} ${s.size} B ${s.protocol}: ${si(s.recordsPerSec)} rec/s, broker ${s.brokerCpuSecondsPerMillion} s per M records, client ${s.clientCpuSecondsPerMillion} s per M` +
        (vs ? `; ×${vs.brokerCpuPerRecord} the broker CPU per record of PLAINTEXT` : ''),
    );
  }
}

interface RunSpec {
  protocol: BenchSecurityProtocol;
  size: number;
  round: number;
  position: number;
  count: number;
  caCert: string;
}

/** librdkafka properties for a listener: TLS trusting the run's CA, SASL as the run's SCRAM user. */
function clientConfig(protocol: BenchSecurityProtocol, caCert: string): Record<string, string> {
  if (protocol === 'PLAINTEXT') return {};
  const tls = { 'security.protocol': protocol, 'ssl.ca.location': caCert };
  if (protocol === 'SSL') return tls;
  return { ...tls, 'sasl.mechanism': MECHANISM, 'sasl.username': USER.user, 'sasl.password': USER.password };
}

async function produceThenConsume(
  bench: Bench,
  b: BrokerProcess,
  admin: RawClient,
  r: RunSpec,
): Promise<SecurityRun[]> {
  const P = bench.args.partitions;
  const topic = `security-${r.protocol.toLowerCase()}-${r.size}-${r.round}`;
  const tag = `${r.protocol}-${r.size}B-${r.round}`;
  await createTopic(admin, topic, P);
  const client = {
    bootstrap: `127.0.0.1:${b.listeners[r.protocol]}`,
    topic,
    size: r.size,
    pool: bench.pool(r.size),
    config: clientConfig(r.protocol, r.caCert),
  };
  const produced = await bench.phase(b, `security-produce-${tag}`, () =>
    bench.rdkafka({ ...client, mode: 'produce', count: r.count, sample_every: 64 }),
  );
  const stored = (await endOffsets(admin, topic, P)).reduce((a, x) => a + x, 0);
  const consumed = await bench.phase(b, `security-consume-${tag}`, () =>
    bench.rdkafka({ ...client, mode: 'consume', offsets: new Array(P).fill(0), count: stored }),
  );
  // Memory storage would hold every run's records to the end of the group otherwise.
  await deleteTopic(admin, topic);
  const failed = (produced.value.errors ?? 0) + (produced.value.unflushed ?? 0);
  if (failed || stored !== r.count || consumed.value.records < stored)
    bench.results.errors.push(
      `security ${tag}: ${r.count} produced (${failed} failed: ${produced.value.error ?? ''}), ${stored} stored, ${consumed.value.records} consumed`,
    );
  const runs = [
    securityRun('produce', r, produced.value, produced.broker),
    securityRun('consume', r, consumed.value, consumed.broker),
  ];
  bench.log(
    `    ${r.protocol} ${r.size} B round ${r.round}: ` +
      runs
        .map((x) => `${x.kind} ${si(x.recordsPerSec)} rec/s, broker ${x.brokerCpuSecondsPerMillion} s/M rec`)
        .join('; '),
  );
  return runs;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const rounded = (x: number | null) => (x === null ? null : round2(x));

function securityRun(kind: SecurityRun['kind'], r: RunSpec, o: ClientOut, broker: BrokerCost): SecurityRun {
  const perMillion = (cpuSeconds: number | null | undefined) =>
    cpuSeconds === null || cpuSeconds === undefined || o.records === 0
      ? null
      : round2((cpuSeconds / o.records) * 1e6);
  return {
    protocol: r.protocol,
    kind,
    size: r.size,
    round: r.round,
    position: r.position,
    records: o.records,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(o.records / o.seconds),
    valueMiBPerSec: Math.round(((o.records * r.size) / MiB / o.seconds) * 10) / 10,
    brokerCpuSecondsPerMillion: perMillion(broker.cpu?.cpuSeconds),
    // Without Python's start-up and the connection, which a short --quick run would be dominated by.
    clientCpuSecondsPerMillion: perMillion(o.timed_cpu_seconds ?? o.cpu_seconds),
    brokerCores: broker.cpu && o.seconds > 0 ? round2(broker.cpu.cpuSeconds / o.seconds) : null,
    broker,
    clientCost: clientCost(o),
  };
}

/** Medians over the rounds of each size, kind and protocol, and each protocol's figures ÷ PLAINTEXT's. */
function summarize(runs: readonly SecurityRun[]): SecuritySummary[] {
  const out: SecuritySummary[] = [];
  const sizes = [...new Set(runs.map((r) => r.size))];
  for (const size of sizes) {
    for (const kind of ['produce', 'consume'] as const) {
      let plain: SecuritySummary | undefined;
      for (const protocol of PROTOCOLS) {
        const rs = runs.filter((r) => r.size === size && r.kind === kind && r.protocol === protocol);
        if (rs.length === 0) continue;
        const m = (f: (r: SecurityRun) => number | null) =>
          median(rs.map(f).filter((x): x is number => x !== null));
        const brokerCpu = m((r) => r.brokerCpuSecondsPerMillion);
        const s: SecuritySummary = {
          protocol,
          kind,
          size,
          runs: rs.length,
          recordsPerSec: Math.round(m((r) => r.recordsPerSec)!),
          valueMiBPerSec: round2(m((r) => r.valueMiBPerSec)!),
          brokerCpuSecondsPerMillion: rounded(brokerCpu),
          recordsPerBrokerCoreSecond: brokerCpu ? Math.round(1e6 / brokerCpu) : null,
          brokerCores: rounded(m((r) => r.brokerCores)),
          clientCpuSecondsPerMillion: rounded(m((r) => r.clientCpuSecondsPerMillion)),
          vsPlaintext: null,
        };
        if (protocol === 'PLAINTEXT') plain = s;
        else if (plain) s.vsPlaintext = ratios(s, plain);
        out.push(s);
      }
    }
  }
  return out;
}

function ratios(s: SecuritySummary, plain: SecuritySummary): SecuritySummary['vsPlaintext'] {
  const over = (a: number | null, b: number | null) => (a === null || !b ? null : round2(a / b));
  return {
    recordsPerSec: over(s.recordsPerSec, plain.recordsPerSec)!,
    brokerCpuPerRecord: over(s.brokerCpuSecondsPerMillion, plain.brokerCpuSecondsPerMillion),
    recordsPerBrokerCore: over(s.recordsPerBrokerCoreSecond, plain.recordsPerBrokerCoreSecond),
    clientCpuPerRecord: over(s.clientCpuSecondsPerMillion, plain.clientCpuSecondsPerMillion),
  };
}
