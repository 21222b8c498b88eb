/**
 * What a bench run measures, as results.json holds it: written by run.ts, read by report.ts (its own
 * module, so that the report does not import the runner).
 */
import type { selfTimes } from '../profile-top.js';
import type { EnginePeerResults } from './engine-peer-results.js';
import type { Payload } from './payloads.js';
import type { CpuUsage } from './proc.js';
import type { Percentiles } from './stats.js';

export interface BrokerCost {
  wallSeconds: number;
  cpu: CpuUsage | null;
  /** CPU seconds per wall second: 1.0 is one core busy. */
  cores: number | null;
  mainThreadCores: number | null;
  cpuMicrosPerRecord: number | null;
  peakRssMiB: number | null;
  rssEndMiB: number | null;
  anonEndMiB: number | null;
  fileEndMiB: number | null;
  /** Produce request time inside the broker (decode to encoded response), ms. */
  produceRequestMs: Percentiles | null;
  inserts: {
    count: number;
    rows: number;
    avgRows: number;
    avgMiB: number;
    avgMs: number;
    maxMs: number;
    avgAppends: number;
    ms: Percentiles | null;
    /** How long each insert's oldest rows waited before it started. */
    queuedMs?: Percentiles | null;
  } | null;
  tailCacheMiB: number | null;
  /** Peaks sampled inside the broker at 10 Hz: JS heap used, Buffer (ArrayBuffer) memory. */
  peakHeapMiB: number | null;
  peakBuffersMiB: number | null;
  /** Peak of ClickHouse's MemoryTracking (chdb), and of its merges' share. */
  peakClickhouseMiB: number | null;
  peakMergesMiB: number | null;
  /** The broker's main-thread event loop delay during the phase (10 ms resolution included). */
  eventLoopDelayMs: { p99: number; max: number };
  loadavg1: number;
  rssTimeline?: { t: number; rssMiB: number }[];
}

export interface ClientCost {
  cpuSeconds: number | null;
  cores: number | null;
  maxRssMiB: number | null;
}

export interface ProduceResult {
  client: 'rdkafka' | 'kafkajs';
  storage: 'memory' | 'chdb';
  size: number;
  /** The kind of values (--payloads); absent for printable ones (and in runs before payloads). */
  payload?: Payload;
  mode: 'max' | 'half';
  targetRate: number | null;
  records: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  storedRecords: number | null;
  errors: number;
  ackMs: Percentiles | null;
  /** chdb: records/s ÷ the median of the run's direct-insert limit samples of these values (limitSpread). */
  ratioToDirectInsert: number | null;
  ratioToTcp: number | null;
  /**
   * chdb, full speed: the broker's CPU per record ÷ the direct insert's (medians of limitSpread): what
   * the throughput ratio would be if CPU were all that counted; other load hardly moves it.
   */
  cpuPerRecordVsDirect?: number | null;
  broker: BrokerCost;
  clientCost: ClientCost;
}

/** One measurement of the direct-insert limit (bench/limits/direct-insert.ts, one insert size). */
export interface LimitSample {
  /** The limits group's insert-size sweep (its best size), or right before / after a produce phase. */
  when: 'sweep' | 'before' | 'after';
  /** The produce phase it brackets (null for the sweep). */
  phase: string | null;
  at: string;
  insertTargetBytes: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  /** The limit process's CPU (all threads: Node and ClickHouse's in chdb) during its insert loop. */
  cpuSeconds: number;
  cpuMicrosPerRecord: number;
  /** CPU seconds per wall second of everything else on the machine during the loop (/proc/stat). */
  otherCores: number | null;
  loadavg1: number;
}

/** min / median / max of a figure over the samples, and max ÷ min. */
export interface Spread {
  n: number;
  min: number;
  median: number;
  max: number;
  maxOverMin: number;
}

/** A produce phase's bracket: the limit right before and after it, and the machine during it. */
export interface LimitBracket {
  client: 'rdkafka' | 'kafkajs';
  phase: string;
  before: number | null;
  after: number | null;
  /** Busy CPU seconds per wall second of the whole machine during the phase (/proc/stat). */
  machineCores: number | null;
}

/** The direct-insert limit of one value size and payload, measured several times in a run. */
export interface LimitSpread {
  samples: LimitSample[];
  brackets: LimitBracket[];
  recordsPerSec: Spread | null;
  cpuMicrosPerRecord: Spread | null;
}

export interface ConsumeResult {
  kind: 'tail' | 'cold';
  client: 'fetch' | 'rdkafka';
  storage: 'memory' | 'chdb';
  size: number;
  /** As ProduceResult's. */
  payload?: Payload;
  records: number;
  expected: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  /** Tail: vs the TCP loopback limit; cold: vs the storage read path without a broker. */
  ratioToLimit: number | null;
  broker: BrokerCost;
  clientCost: ClientCost;
}

/** A listener's security protocol, as the `security` group measures it (bench/security.ts). */
export type BenchSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_SSL';

/** One produce or consume of the `security` group, over one listener. */
export interface SecurityRun {
  protocol: BenchSecurityProtocol;
  kind: 'produce' | 'consume';
  size: number;
  /** Which round, and where in it (the order alternates from round to round). */
  round: number;
  position: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  /** Broker CPU (all threads) per million records: seconds, i.e. µs per record. */
  brokerCpuSecondsPerMillion: number | null;
  /** The librdkafka process's CPU while the clock ran, per million records. */
  clientCpuSecondsPerMillion: number | null;
  /**
   * Broker CPU seconds per second of the client's clock: cores while records flowed (`broker.cores`
   * divides by the whole phase, the client's start-up included).
   */
  brokerCores: number | null;
  broker: BrokerCost;
  clientCost: ClientCost;
}

/** Medians over the rounds of one protocol, size and kind, and their ratio to PLAINTEXT's. */
export interface SecuritySummary {
  protocol: BenchSecurityProtocol;
  kind: 'produce' | 'consume';
  size: number;
  runs: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  brokerCpuSecondsPerMillion: number | null;
  /** Records per second of broker CPU: what one core of the broker carries. */
  recordsPerBrokerCoreSecond: number | null;
  brokerCores: number | null;
  clientCpuSecondsPerMillion: number | null;
  /** This protocol's figure ÷ PLAINTEXT's (null for PLAINTEXT itself). */
  vsPlaintext: {
    recordsPerSec: number;
    brokerCpuPerRecord: number | null;
    recordsPerBrokerCore: number | null;
    clientCpuPerRecord: number | null;
  } | null;
}

/** What every client run of a group in rounds (cluster, mock) measured on the client's clock. */
export interface RoundRun {
  size: number;
  round: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
}

/** One client run of the `cluster` group (bench/cluster.ts) against 1 or 3 brokers. */
export interface ClusterRun extends RoundRun {
  brokers: number;
  kind: 'produce' | 'consume';
  errors: number;
  ackMs: Percentiles | null;
  /** CPU seconds per wall second of the run (client start-up included, as every phase's). */
  cores: { brokers: number; clickhouse: number; client: number; machine: number };
  /** CPU µs per record: all brokers together, and the ClickHouse server. */
  brokerCpuMicrosPerRecord: number | null;
  clickhouseCpuMicrosPerRecord: number | null;
  /** Each broker's share of the records it took (produce: inserts' rows), by node id. */
  rowsByBroker: Record<string, number>;
  loadavg1: number;
}

/** Medians of the rounds of one size and kind, 1 broker against 3. */
export interface ClusterSummary {
  kind: 'produce' | 'consume';
  size: number;
  brokers: number;
  runs: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  brokerCpuMicrosPerRecord: number | null;
  clickhouseCpuMicrosPerRecord: number | null;
  cores: ClusterRun['cores'];
  /** This row's records/s ÷ the 1-broker row's (null for 1 broker). */
  vsOneBroker: number | null;
}

/** One broker of three stopped under a steady produce load, and how long the partitions took to recover. */
export interface FailoverRun {
  signal: 'SIGTERM' | 'SIGKILL';
  round: number;
  /** From the signal until every partition acknowledged a produce sent after its last failed one. */
  recoveredMs: number;
  /** The longest time any partition went without an acknowledgement, from the signal on. */
  longestStallMs: number;
  partitionsInterrupted: number;
  partitionsMoved: number;
  /** What the failed probes saw (error code or connection failure), with counts. */
  failures: Record<string, number>;
  /** The steady librdkafka load beside the probes: records, and those that failed. */
  load: { rate: number; records: number; errors: number };
}

/** Which server a run of the `mock` group (bench/mock.ts) was against. */
export type MockTarget = 'kch' | 'mock';

/** One librdkafka client run of the `mock` group against kch or librdkafka's mock cluster. */
export interface MockRun extends RoundRun {
  target: MockTarget;
  /** max: full speed; steady: a fixed rate both servers meet (for ack latency); consume: read back. */
  kind: 'max' | 'steady' | 'consume';
  /** Produce only: msg.latency() of sampled delivery reports (produce() call to acknowledgement). */
  ackMs: Percentiles | null;
  targetRate: number | null;
  /** The server process's CPU (all threads) from /proc. */
  serverCpuMicrosPerRecord: number | null;
  serverCores: number | null;
  loadavg1: number;
}

/** Medians over the rounds of one size and kind: kch's, the mock's, and kch ÷ mock. */
export interface MockSummary {
  kind: MockRun['kind'];
  size: number;
  runs: number;
  kch: MockFigures;
  mock: MockFigures;
  /** kch ÷ mock: above 1 kch is faster (rates) or slower (latency, CPU). */
  ratio: {
    recordsPerSec: number | null;
    ackP50: number | null;
    ackP99: number | null;
    serverCpu: number | null;
  };
}

export interface MockFigures {
  recordsPerSec: number;
  valueMiBPerSec: number;
  ackP50: number | null;
  ackP99: number | null;
  serverCpuMicrosPerRecord: number | null;
}

/** One run of the `transactions` group (bench/transactions.ts). */
export interface TransactionRun {
  storage: 'memory' | 'chdb';
  size: number;
  mode: 'idempotent' | 'transactional';
  records: number;
  seconds: number;
  recordsPerSec: number;
  valueMiBPerSec: number;
  transactions: number;
  /** Sum of the partitions' ends: the records, and a marker per transaction and partition. */
  logEnd: number;
  /** chdb: rows of the topic's table after the run (committed records only). */
  tableRows: number | null;
  ackMs: Percentiles | null;
  commitMs: Percentiles | null;
  broker: BrokerCost;
}

export interface Results {
  meta: Record<string, unknown>;
  limits: { tcp: Record<string, any>; direct: Record<string, any> };
  /** The direct-insert limit's samples and spread by payloadKey (absent in runs before it). */
  limitSpread?: Record<string, LimitSpread>;
  produce: ProduceResult[];
  consume: ConsumeResult[];
  e2e: {
    storage: string;
    size: number;
    rate: number;
    records: number;
    expected: number;
    latencyMs: Percentiles | null;
    broker: BrokerCost;
  }[];
  sqlVisible: {
    storage: string;
    probes: number;
    ackMs: Percentiles | null;
    visibleMs: Percentiles | null;
    visibleAfterAckMs: Percentiles | null;
    pollsPerProbe: number;
  } | null;
  sustained: {
    seconds: number;
    size: number;
    tailCacheBudgetMiB: number;
    rssLimitMiB: number;
    runs: { label: string; rate: number | null; idleRssMiB: number | null; result: ProduceResult }[];
  } | null;
  /** The `sustained-http` group: the sustained runs with ClickHouse in another process (bench/sustained-http.ts). */
  sustainedHttp?: { seconds: number; rssLimitMiB: number; runs: SustainedHttpRun[] };
  /** The `security` group (absent in results.json of runs before it existed). */
  security?: {
    mechanism: string;
    rounds: number;
    count: Record<string, number>;
    runs: SecurityRun[];
    summary: SecuritySummary[];
  } | null;
  /** The `transactions` group: idempotent against transactional produce. */
  transactions?: { perTransaction: number; runs: TransactionRun[] } | null;
  /** The `cluster` group: 1 broker against 3 over one shared ClickHouse, and failover gaps. */
  cluster?: {
    partitions: number;
    seconds: number;
    rounds: number;
    runs: ClusterRun[];
    summary: ClusterSummary[];
    failover: FailoverRun[];
  } | null;
  /** The `latency` group's ack latency at fixed rates against a bare insert (bench/latency-floor.ts). */
  latencyFloor?: LatencyFloorRun[] | null;
  /** The `mock` group: kch (memory storage) against librdkafka's in-memory mock cluster. */
  mock?: { rounds: number; runs: MockRun[]; summary: MockSummary[] } | null;
  /** The `engine-peer` group: kch against Kafka + the ClickHouse Kafka engine, produce to visible in SQL. */
  enginePeer?: EnginePeerResults | null;
  profiles: {
    phase: string;
    file: string;
    busyMs: number;
    top: ReturnType<typeof selfTimes>['rows'];
    areas: ReturnType<typeof selfTimes>['rows'];
  }[];
  skipped: string[];
  errors: string[];
}

/** One run of the `sustained-http` group. */
export interface SustainedHttpRun {
  label: string;
  rate: number | null;
  records: number;
  storedRecords: number;
  recordsPerSec: number;
  errors: number;
  ackMs: Percentiles | null;
  idleRssMiB: number | null;
  /** Broker RSS sampled every second over the run: max and median; peak: VmHWM. */
  rssMaxMiB: number | null;
  rssP50MiB: number | null;
  peakRssMiB: number | null;
  clickhousePeakRssMiB: number | null;
  withinTarget: boolean | null;
}

/** What bench/limits/floor-insert.ts prints: the same rows at the same rate, no broker. */
export interface FloorInsert {
  records: number;
  seconds: number;
  /** Linger intervals whose rows were handed over (one latency sample each). */
  ticks: number;
  inserts: number;
  rowsPerInsert: number;
  pacing: { lingerMs: number; insertsInFlight: number };
  /** From a linger interval's rows handed to the group commit to the end of their insert. */
  latencyMs: Percentiles | null;
  insertMs: Percentiles | null;
  /** How long each insert's oldest rows waited before it started. */
  queuedMs: Percentiles | null;
  /** How late the 5 ms ticks ran (this process's own event loop). */
  timerLateMs: Percentiles | null;
  /** The process's CPU seconds (all threads: Node and the embedded ClickHouse) over the timed run. */
  cpuSeconds?: number;
}

/** One rate of one size and payload: through the broker, and the bare insert beside it. */
export interface LatencyFloorRun {
  size: number;
  /** Absent for printable values, as in ProduceResult. */
  payload?: Payload;
  rate: number;
  seconds: number;
  /** The producer's linger.ms: how long a record may wait in the client before its request leaves. */
  clientLingerMs: number;
  records: number;
  errors: number;
  /** librdkafka msg.latency() of sampled delivery reports: produce() call to acknowledgement. */
  ackMs: Percentiles | null;
  broker: BrokerCost;
  bare: FloorInsert | null;
  /** ackMs.p99 ÷ bare.latencyMs.p99. */
  ratioP99: number | null;
}
