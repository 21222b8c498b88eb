/**
 * A small Kafka client for the CLI: bootstraps from `host:port[,host:port...]`, negotiates each API's
 * version with ApiVersions (the highest both sides support), learns the cluster from Metadata and opens
 * one connection per broker it needs to talk to (partition leaders, the group coordinator).
 *
 * It is deliberately simple: no background metadata refresh, no connection pooling beyond one
 * connection per broker address, requests sent one after another by the caller.
 */
import {
  API_VERSIONS,
  ApiKeys,
  type ApiMessages,
  type ApiName,
  ErrorCode,
  type Init,
  ZERO_UUID,
} from '@kch/protocol';
import { cliVersion } from '../version.js';
import { Connection, DEFAULT_REQUEST_TIMEOUT_MS, decodeResponse, formatAddress } from './connection.js';
import { BrokerError, CliError, UnavailableError, UsageError } from './errors.js';

export const DEFAULT_BOOTSTRAP_SERVER = '127.0.0.1:9092';
export const DEFAULT_CLIENT_ID = 'kch-cli';
/** Sent in ApiVersions v3+ (KIP-511), so the broker can tell who is connected. */
const CLIENT_SOFTWARE_NAME = 'kch-cli';

/** The package version, in the characters KIP-511 allows ([a-zA-Z0-9.-], alphanumeric at both ends). */
function softwareVersion(): string {
  const v = cliVersion()
    .replace(/[^a-zA-Z0-9.-]/g, '-')
    .replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, '');
  return v === '' ? 'unknown' : v;
}

export interface BrokerAddress {
  host: string;
  port: number;
}

/** Parses `host:port[,host:port...]` (a bare host means port 9092; IPv6 as `[::1]:9092`). */
export function parseBootstrap(value: string): BrokerAddress[] {
  const out: BrokerAddress[] = [];
  for (const raw of value.split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
    if (v6) {
      host = v6[1]!;
      portText = v6[2];
    } else {
      const i = s.lastIndexOf(':');
      if (i >= 0 && s.indexOf(':') !== i) {
        throw new UsageError(`bootstrap server "${s}": write an IPv6 address in brackets, e.g. [::1]:9092`);
      }
      host = i >= 0 ? s.slice(0, i) : s;
      portText = i >= 0 ? s.slice(i + 1) : undefined;
    }
    const port = portText === undefined ? 9092 : Number(portText);
    if (
      host === '' ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535 ||
      !/^\d+$/.test(portText ?? '9092')
    ) {
      throw new UsageError(`bootstrap server "${s}" is not host:port (e.g. 127.0.0.1:9092)`);
    }
    out.push({ host, port });
  }
  if (out.length === 0)
    throw new UsageError('the bootstrap server list is empty: give host:port, e.g. 127.0.0.1:9092');
  return out;
}

export interface ClientOptions {
  /** `host:port[,host:port...]`. */
  bootstrap: string;
  clientId?: string;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Our side of every API: the codec's version ranges. */
const OURS = new Map(API_VERSIONS.map((a) => [a.apiKey, a]));

export interface RequestOptions {
  timeoutMs?: number;
  /** The highest version to use even if both sides support more (a request shape the caller can fill). */
  maxVersion?: number;
  /** The lowest version the caller can work with; a broker below it is refused with a clear error. */
  minVersion?: number;
}

/** A connection with the API versions negotiated on it. */
export class BrokerConnection {
  constructor(
    readonly connection: Connection,
    /** Negotiated version range by API key: the broker's range intersected with the codec's. */
    readonly versions: ReadonlyMap<number, { min: number; max: number }>,
    readonly nodeId: number | null,
  ) {}

  get address(): string {
    return this.connection.address;
  }

  /** The version a request would use, or undefined when the broker does not serve the API in our range. */
  version(api: ApiName, options: RequestOptions = {}): number | undefined {
    const range = this.versions.get(ApiKeys[api]);
    if (!range) return undefined;
    const max = Math.min(range.max, options.maxVersion ?? range.max);
    const min = Math.max(range.min, options.minVersion ?? range.min);
    return max >= min ? max : undefined;
  }

  /** The version a request will use; throws when the broker cannot serve it. */
  requireVersion(api: ApiName, options: RequestOptions = {}): number {
    const v = this.version(api, options);
    if (v === undefined) {
      const range = this.versions.get(ApiKeys[api]);
      const theirs = range ? `versions ${range.min}-${range.max}` : 'no version';
      throw new CliError(
        `the broker at ${this.address} serves ${theirs} of ${api}, but this command needs ` +
          `${options.minVersion ?? OURS.get(ApiKeys[api])?.minVersion ?? 0}-${options.maxVersion ?? OURS.get(ApiKeys[api])?.maxVersion}; ` +
          'use a newer broker',
      );
    }
    return v;
  }

  /** Sends at the negotiated version; `build` makes the body for that version. */
  async send<K extends ApiName>(
    api: K,
    build: (version: number) => Init<ApiMessages[K]['request']>,
    options: RequestOptions = {},
  ): Promise<{ version: number; response: ApiMessages[K]['response'] }> {
    const version = this.requireVersion(api, options);
    const response = await this.connection.send(api, version, build(version), options);
    return { version, response };
  }

  /** Sends without waiting for a response (Produce with acks=0). */
  sendOnly<K extends ApiName>(
    api: K,
    build: (version: number) => Init<ApiMessages[K]['request']>,
    options: RequestOptions = {},
  ): Promise<void> {
    const version = this.requireVersion(api, options);
    return this.connection.sendOnly(api, version, build(version));
  }

  close(): void {
    this.connection.close();
  }
}

export interface PartitionMetadata {
  partition: number;
  errorCode: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offline: number[];
}

export interface TopicMetadata {
  name: string;
  /** Kafka's base64 topic id; the zero id when the broker's Metadata version has none. */
  topicId: string;
  errorCode: number;
  isInternal: boolean;
  partitions: PartitionMetadata[];
}

export interface ClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: Map<number, BrokerAddress & { nodeId: number; rack: string | null }>;
  topics: TopicMetadata[];
}

/** Runs `fn` again while it fails with a retriable broker error, backing off up to `attempts` times. */
export async function withRetries<T>(fn: () => Promise<T>, attempts = 10, backoffMs = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof BrokerError) || !e.retriable || i >= attempts) throw e;
      await sleep(Math.min(backoffMs * 2 ** (i - 1), 1_000));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KafkaClient {
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  /** The connection to the bootstrap server that answered. */
  readonly bootstrap: BrokerConnection;
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private brokers = new Map<number, BrokerAddress & { nodeId: number; rack: string | null }>();
  private closed = false;

  private constructor(
    bootstrap: BrokerConnection,
    private readonly options: ClientOptions,
  ) {
    this.bootstrap = bootstrap;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connections.set(bootstrap.address, Promise.resolve(bootstrap));
  }

  /** Connects to the first bootstrap server that answers and negotiates API versions with it. */
  static async connect(options: ClientOptions): Promise<KafkaClient> {
    const addresses = parseBootstrap(options.bootstrap);
    const failures: UnavailableError[] = [];
    for (const a of addresses) {
      try {
        const conn = await KafkaClient.open(a, options, null);
        return new KafkaClient(conn, options);
      } catch (e) {
        if (!(e instanceof UnavailableError)) throw e;
        failures.push(e);
      }
    }
    if (failures.length === 1) throw failures[0]!;
    throw new UnavailableError(
      `cannot connect to any bootstrap server:\n${failures.map((f) => `  ${f.message}`).join('\n')}`,
    );
  }

  private static async open(
    address: BrokerAddress,
    options: ClientOptions,
    nodeId: number | null,
    connectHint?: string,
  ): Promise<BrokerConnection> {
    const connection = await Connection.connect({
      host: address.host,
      port: address.port,
      clientId: options.clientId ?? DEFAULT_CLIENT_ID,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      connectHint,
    });
    try {
      return new BrokerConnection(connection, await negotiate(connection), nodeId);
    } catch (e) {
      connection.close();
      throw e;
    }
  }

  /** The connection to a broker by node id (from the last metadata), opened on first use. */
  async node(nodeId: number): Promise<BrokerConnection> {
    let address = this.brokers.get(nodeId);
    if (!address) {
      await this.metadata([]);
      address = this.brokers.get(nodeId);
    }
    if (!address) {
      throw new CliError(
        `broker ${nodeId} is not in the cluster metadata from ${this.bootstrap.address}; try again`,
      );
    }
    return this.connectTo(address, nodeId);
  }

  /** The connection to a broker by address, opened on first use (a lost one is reopened). */
  async connectTo(address: BrokerAddress, nodeId: number | null = null): Promise<BrokerConnection> {
    if (this.closed) throw new CliError('the client is closed');
    const key = formatAddress(address.host, address.port);
    const existing = this.connections.get(key);
    if (existing) {
      const conn = await existing.catch(() => null);
      if (conn && !conn.connection.closed) return conn;
    }
    const opening = KafkaClient.open(
      address,
      this.options,
      nodeId,
      `broker ${nodeId ?? '?'} as advertised by ${this.bootstrap.address}; if that address is wrong, ` +
        "set the broker's advertised host (kch broker --advertised-host)",
    );
    this.connections.set(key, opening);
    return opening;
  }

  /**
   * Metadata for `topics` (null: every topic). With `allowAutoCreate` a missing topic is created when the
   * broker auto-creates topics, as a producer's metadata request does.
   */
  async metadata(topics: readonly string[] | null, allowAutoCreate = false): Promise<ClusterMetadata> {
    const conn = await this.any();
    const { version, response } = await conn.send('Metadata', (v) => ({
      // v0: an empty list means all topics; v1+: null means all.
      topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
      allowAutoTopicCreation: v >= 4 ? allowAutoCreate : undefined,
    }));
    const brokers = new Map<number, BrokerAddress & { nodeId: number; rack: string | null }>();
    for (const b of response.brokers) {
      brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null });
    }
    this.brokers = brokers;
    return {
      clusterId: version >= 2 ? response.clusterId : null,
      controllerId: version >= 1 ? response.controllerId : -1,
      brokers,
      topics: response.topics.map((t) => ({
        name: t.name ?? '',
        topicId: version >= 10 ? t.topicId : ZERO_UUID,
        errorCode: t.errorCode,
        isInternal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            errorCode: p.errorCode,
            leader: p.leaderId,
            leaderEpoch: version >= 7 ? p.leaderEpoch : -1,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offline: p.offlineReplicas ?? [],
          }))
          .sort((a, b) => a.partition - b.partition),
      })),
    };
  }

  /**
   * Metadata of one topic that must exist, waiting out a leader election (retriable errors) right after
   * creation. With `allowAutoCreate` the broker may create it.
   */
  async topic(name: string, allowAutoCreate = false): Promise<TopicMetadata> {
    return withRetries(async () => {
      const md = await this.metadata([name], allowAutoCreate);
      const t = md.topics.find((x) => x.name === name);
      if (!t || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        throw new CliError(
          `topic "${name}" does not exist; create it with \`kch topics create ${name}\`, or list topics with \`kch topics list\``,
        );
      }
      if (t.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION && allowAutoCreate) {
        // Metadata carries no message: the broker refused to create the topic, and CreateTopics says why.
        throw new BrokerError(
          t.errorCode,
          `looking up topic "${name}"`,
          'the broker cannot create this topic',
          `\`kch topics create ${name}\` shows why (the broker's log has it too).`,
        );
      }
      if (t.errorCode !== ErrorCode.NONE) throw new BrokerError(t.errorCode, `looking up topic "${name}"`);
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.REPLICA_NOT_AVAILABLE) {
          throw new BrokerError(p.errorCode, `looking up partition ${p.partition} of topic "${name}"`);
        }
      }
      if (t.partitions.length === 0) {
        throw new BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, `looking up topic "${name}"`);
      }
      return t;
    });
  }

  /** A connection to any broker: the bootstrap one while it is open, another known broker otherwise. */
  async any(): Promise<BrokerConnection> {
    if (!this.bootstrap.connection.closed) return this.bootstrap;
    const addresses = [...this.brokers.values(), ...parseBootstrap(this.options.bootstrap)];
    let last: unknown;
    for (const a of addresses) {
      try {
        return await this.connectTo(a);
      } catch (e) {
        last = e;
      }
    }
    throw last ?? new UnavailableError(`lost the connection to ${this.bootstrap.address}`);
  }

  /** The broker that leads a partition. */
  leaderOf(topic: TopicMetadata, partition: number): Promise<BrokerConnection> {
    const p = topic.partitions.find((x) => x.partition === partition);
    if (!p) {
      throw new CliError(
        `topic "${topic.name}" has no partition ${partition} (it has ${topic.partitions.length}: 0-${topic.partitions.length - 1})`,
      );
    }
    if (p.leader < 0)
      throw new BrokerError(
        ErrorCode.LEADER_NOT_AVAILABLE,
        `finding the leader of ${topic.name}-${partition}`,
      );
    return this.node(p.leader);
  }

  /** Every broker of the cluster (from fresh metadata). */
  async allBrokers(): Promise<BrokerConnection[]> {
    const md = await this.metadata([]);
    const out: BrokerConnection[] = [];
    for (const b of md.brokers.values()) out.push(await this.connectTo(b, b.nodeId));
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.connections.values())
      p.then(
        (c) => c.close(),
        () => {},
      );
    this.connections.clear();
  }
}

/**
 * ApiVersions: asks at our highest version. A broker that does not know that version answers
 * UNSUPPORTED_VERSION in a v0 body with its own range for ApiVersions (KIP-511); we then ask again at
 * the highest version both know.
 */
async function negotiate(connection: Connection): Promise<Map<number, { min: number; max: number }>> {
  const ours = OURS.get(ApiKeys.ApiVersions)!;
  let version = ours.maxVersion;
  for (let attempt = 0; ; attempt++) {
    const frame = await connection.sendForFrame(
      'ApiVersions',
      version,
      version >= 3
        ? { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: softwareVersion() }
        : {},
    );
    let response: ApiMessages['ApiVersions']['response'];
    try {
      response = decodeResponse('ApiVersions', version, frame);
    } catch {
      try {
        response = decodeResponse('ApiVersions', 0, frame);
      } catch (e) {
        connection.close();
        throw new CliError(
          `${connection.address} did not answer ApiVersions as a Kafka broker does (${(e as Error).message}); ` +
            'check that the address is a Kafka listener',
        );
      }
    }
    if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION && attempt === 0) {
      const theirs = response.apiKeys.find((k) => k.apiKey === ApiKeys.ApiVersions);
      version = Math.min(ours.maxVersion, theirs?.maxVersion ?? 0);
      continue;
    }
    if (response.errorCode !== ErrorCode.NONE) {
      throw new BrokerError(response.errorCode, `negotiating API versions with ${connection.address}`);
    }
    const out = new Map<number, { min: number; max: number }>();
    for (const k of response.apiKeys) {
      const mine = OURS.get(k.apiKey);
      if (!mine) continue;
      const min = Math.max(mine.minVersion, k.minVersion);
      const max = Math.min(mine.maxVersion, k.maxVersion);
      if (max >= min) out.set(k.apiKey, { min, max });
    }
    return out;
  }
}
