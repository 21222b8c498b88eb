/**
 * The CLI's handle on a Kafka cluster, over @platformatic/kafka: the bootstrap servers, an admin
 * client opened on first use, the producers and consumers a command makes (all closed with it), and
 * topic metadata with kch's messages ("topic "x" does not exist; create it with ...").
 */
import { ErrorCode, errorInfo } from '@kch/protocol';
import { Admin, type Base } from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import { type BrokerAddress, clientOptions, parseBootstrap, REQUEST_TIMEOUT_MS } from './kafka-config.js';
import { type FailureContext, kafkaFailure, protocolErrorOf } from './kafka-errors.js';
import { type ClientSecurity, PLAINTEXT } from './security-options.js';
import { installZstdCodec } from './zstd.js';

export interface PartitionInfo {
  partition: number;
  /** -1 while the partition has no leader. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicInfo {
  name: string;
  /** Kafka's topic id as its tools print it (base64url, 22 characters). */
  topicId: string;
  /** The library's form of the id (a UUID), which Fetch requests carry. */
  uuid: string;
  partitions: PartitionInfo[];
}

/** Kafka prints a topic id as the base64url of its 16 bytes; the library keeps it as a UUID string. */
export function topicIdOf(uuid: string): string {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** The library's answer for a topic the broker does not know (it turns the error code into this). */
const UNKNOWN_TOPIC = /^Unknown topic (.*)\.$/;

/** Where a command connects, and how (see ./security.ts). */
export interface KafkaTarget {
  bootstrap: string;
  security?: ClientSecurity;
}

export class Kafka {
  readonly bootstrap: BrokerAddress[];
  readonly requestTimeoutMs: number;
  readonly security: ClientSecurity;
  private adminClient: Admin | undefined;
  private readonly clients = new Set<Base>();

  constructor(
    bootstrap: string,
    requestTimeoutMs = REQUEST_TIMEOUT_MS,
    security: ClientSecurity = PLAINTEXT,
  ) {
    this.bootstrap = parseBootstrap(bootstrap);
    this.requestTimeoutMs = requestTimeoutMs;
    this.security = security;
    installZstdCodec();
  }

  /** The options every client of this cluster gets (see clientOptions). */
  get options(): ReturnType<typeof clientOptions> {
    return clientOptions(this.bootstrap, this.requestTimeoutMs, this.security);
  }

  get admin(): Admin {
    this.adminClient ??= this.track(new Admin(this.options));
    return this.adminClient;
  }

  /** Registers a client so that {@link close} closes it. */
  track<C extends Base>(client: C): C {
    this.clients.add(client);
    return client;
  }

  get failureContext(): FailureContext {
    return { bootstrap: this.bootstrap, requestTimeoutMs: this.requestTimeoutMs, security: this.security };
  }

  /** `e` as a CliError for `action` (see kafkaFailure). */
  failure(e: unknown, action: string, hint?: (code: number, message: string | null) => string | undefined) {
    return kafkaFailure(e, action, this.failureContext, hint);
  }

  /** Runs a library call; what it throws becomes a CliError for `action`. */
  async call<T>(
    action: string,
    fn: () => Promise<T>,
    hint?: (code: number, message: string | null) => string | undefined,
  ): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.failure(e, action, hint);
    }
  }

  /**
   * Metadata of one topic that must exist, waiting out a leader election (retriable errors) right after
   * creation. With `allowAutoCreate` the broker may create it, as a producer's metadata request does.
   */
  topic(name: string, allowAutoCreate = false, client: Base = this.admin): Promise<TopicInfo> {
    return withRetries(async () => {
      try {
        const md = await client.metadata({
          topics: [name],
          autocreateTopics: allowAutoCreate,
          forceUpdate: true,
        });
        const t = md.topics.get(name);
        if (!t || t.partitionsCount === 0) {
          throw new BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, `looking up topic "${name}"`);
        }
        return toTopicInfo(name, t);
      } catch (e) {
        if (e instanceof CliError) throw e;
        if (e instanceof Error && UNKNOWN_TOPIC.test(e.message)) throw missingTopic(name);
        const protocol = protocolErrorOf(e);
        if (protocol?.code === ErrorCode.INVALID_TOPIC_EXCEPTION && allowAutoCreate) {
          // Metadata carries no message: the broker refused to create the topic, and CreateTopics says why.
          throw new BrokerError(
            protocol.code,
            `looking up topic "${name}"`,
            'the broker cannot create this topic',
            `\`kch topics create ${name}\` shows why (the broker's log has it too).`,
          );
        }
        throw this.failure(e, `looking up topic "${name}"`);
      }
    });
  }

  /**
   * Metadata of topics by name (null: every topic but the internal ones), sorted by name. Unknown
   * names fail with `missing(name)`.
   */
  async topics(names: readonly string[] | null, missing = missingTopic): Promise<TopicInfo[]> {
    const wanted = names ?? (await this.call('listing topics', () => this.admin.listTopics()));
    if (wanted.length === 0) return [];
    try {
      const md = await this.admin.metadata({ topics: [...wanted], forceUpdate: true });
      return [...md.topics]
        .filter(([, t]) => t !== undefined)
        .map(([name, t]) => toTopicInfo(name, t))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (e) {
      const unknown = e instanceof Error ? UNKNOWN_TOPIC.exec(e.message) : null;
      if (unknown) throw missing(unknown[1]!);
      throw this.failure(e, 'describing topics');
    }
  }

  /**
   * Drops every connection at once, without a request more (no LeaveGroup, no commit): for a second
   * Ctrl-C. {@link close} then has nothing left to do.
   */
  abandon(): void {
    const clients = [...this.clients];
    this.clients.clear();
    for (const c of clients) c.connections.close().catch(() => {});
  }

  /** Closes every client this handle made (connections dropped, a group member's heartbeats stopped). */
  async close(): Promise<void> {
    const clients = [...this.clients];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
}

function missingTopic(name: string): CliError {
  return new CliError(
    `topic "${name}" does not exist; create it with \`kch topics create ${name}\`, or list topics with \`kch topics list\``,
  );
}

function toTopicInfo(
  name: string,
  t: {
    id: string;
    partitions: { leader: number; leaderEpoch: number; replicas: number[]; isr: number[] }[];
  },
): TopicInfo {
  return {
    name,
    topicId: topicIdOf(t.id),
    uuid: t.id,
    partitions: t.partitions.map((p, partition) => ({
      partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
    })),
  };
}

/** Whether a Kafka error code is one to retry (Kafka's RetriableException). */
export function isRetriable(code: number): boolean {
  return errorInfo(code)?.retriable ?? false;
}

/** Runs `fn` with a handle on the cluster at `target`, and always closes its clients. */
export async function withKafka<T>(
  target: KafkaTarget | string,
  fn: (kafka: Kafka) => Promise<T>,
): Promise<T> {
  const { bootstrap, security } = typeof target === 'string' ? { bootstrap: target } : target;
  const kafka = new Kafka(bootstrap, REQUEST_TIMEOUT_MS, security);
  try {
    return await fn(kafka);
  } finally {
    await kafka.close();
  }
}
