/**
 * The document's broker, for the doc runner (./doc-runner.ts): the ports a document names and the
 * free ports the runner puts in their place, and the `kch broker` the document runs against, which a
 * `<!-- doc-test: broker <args> -->` directive restarts with other arguments.
 */
import { createServer } from 'node:net';
import { type RunningKch, startKch } from '../kch-process.js';

/** The Kafka port documents name for the broker the runner starts first. */
export const DOC_KAFKA_PORT = 9092;
/** The admin server's port documents name. */
export const DOC_ADMIN_PORT = 9644;
/** More Kafka ports a document may give its listeners (a SASL_SSL listener on 9093, an SSL one...). */
export const DOC_EXTRA_PORTS = [9093, 9094, 9095] as const;

/** The hosts an address of a documented port is recognized with (`//` is a listener's empty host). */
const HOSTS = String.raw`(127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]|//)`;

const alternatives = (ports: Iterable<number>) => [...ports].join('|');

/**
 * Documented ports and the real ports standing for them: `host:port` with a host of {@link HOSTS}
 * (`127.0.0.1:9092`, `localhost:9093`, `https://localhost:9644`, `SASL_SSL://:9093`) is rewritten in
 * what runs, and back in what is printed.
 */
export class PortMap {
  private readonly toReal: RegExp;
  private readonly toDoc: RegExp;
  private readonly back: Map<number, number>;

  constructor(readonly ports: ReadonlyMap<number, number>) {
    this.back = new Map([...ports].map(([doc, real]) => [real, doc]));
    this.toReal = new RegExp(`${HOSTS}:(${alternatives(ports.keys())})(?!\\d)`, 'g');
    this.toDoc = new RegExp(`${HOSTS}:(${alternatives(this.back.keys())})(?!\\d)`, 'g');
  }

  /** The real port of a documented one (the port itself when the document does not map it). */
  real(port: number): number {
    return this.ports.get(port) ?? port;
  }

  /** Documented addresses to the real ones, in commands, scripts, files and broker arguments. */
  toRun(text: string): string {
    return text.replace(this.toReal, (_, host: string, port: string) => `${host}:${this.real(Number(port))}`);
  }

  /** Real addresses back to the documented ones, in what commands and the broker print. */
  fromRun(text: string): string {
    return text.replace(
      this.toDoc,
      (_, host: string, port: string) => `${host}:${this.back.get(Number(port))}`,
    );
  }
}

/** A port nobody listens on now (the system's pick, released at once for the broker to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Splits a directive's arguments as the shell splits words: '...' and "..." quotes, \ escapes. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && /["\\$`]/.test(text[i + 1] ?? '')) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + (c === '\\' ? (text[++i] ?? '') : c);
    }
  }
  if (quote) throw new Error(`unclosed ${quote} in ${JSON.stringify(text)}`);
  if (word !== null) words.push(word);
  return words;
}

/** Whether `args` name the broker's Kafka listeners themselves (then the runner adds no `--port`). */
function namesListeners(args: readonly string[]): boolean {
  return args.some(
    (a, i) =>
      a === '--port' ||
      a.startsWith('--port=') ||
      a === '--server-properties' ||
      a.startsWith('--server-properties=') ||
      (args[i - 1] === '--override' && a.startsWith('listeners=')),
  );
}

/**
 * The arguments the runner starts `kch broker <args>` with: the document's, with documented ports
 * rewritten (in addresses, and as the value of `--port` and `--admin-port`), plus the document's
 * storage when they give none, the admin port standing for 9644 when they give none, and the port
 * standing for 9092 when they name no listeners.
 */
export function brokerStartArgs(args: readonly string[], ports: PortMap, storage: string): string[] {
  const out = args.map((a, i) =>
    /^(--port|--admin-port)$/.test(args[i - 1] ?? '') && /^\d+$/.test(a)
      ? String(ports.real(Number(a)))
      : ports.toRun(a),
  );
  const has = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  if (!has('--storage')) out.push('--storage', storage);
  if (!has('--admin-port')) out.push('--admin-port', String(ports.real(DOC_ADMIN_PORT)));
  if (!namesListeners(args)) out.push('--port', String(ports.real(DOC_KAFKA_PORT)));
  return ['broker', ...out];
}

/** The broker a document runs against: the first one, then each one a `broker` directive starts. */
export class DocBroker {
  private running: RunningKch | undefined;

  private constructor(
    readonly ports: PortMap,
    private readonly storage: string,
    private readonly cwd: string,
    first: RunningKch,
  ) {
    this.running = first;
  }

  /**
   * Starts `kch broker --storage <storage> --port 0 --admin-port 0` in `cwd` and maps 9092 and 9644
   * to the ports it took, and each of {@link DOC_EXTRA_PORTS} to a free port.
   */
  static async start(storage: string, cwd: string): Promise<DocBroker> {
    const first = await startKch(['broker', '--port', '0', '--admin-port', '0', '--storage', storage], {
      cwd,
    });
    const admin = Number(/:(\d+)$/.exec(first.adminUrl ?? '')?.[1]);
    const map = new Map<number, number>([
      [DOC_KAFKA_PORT, first.kafka.port],
      [DOC_ADMIN_PORT, admin],
    ]);
    for (const p of DOC_EXTRA_PORTS) map.set(p, await freePort());
    return new DocBroker(new PortMap(map), storage, cwd, first);
  }

  /** The running broker's admin URL (`http://` or `https://`), as the runner gives it to commands. */
  get adminUrl(): string | null {
    return this.running?.adminUrl ?? null;
  }

  /** What the running broker printed on stdout (its banner). */
  stdout(): string {
    return this.running?.stdout() ?? '';
  }

  /**
   * Stops the running broker (it must exit 0) and starts `kch broker <args>` (documented ports, see
   * {@link brokerStartArgs}); resolves once its banner shows where it listens.
   */
  async restart(args: readonly string[]): Promise<void> {
    await this.stop();
    this.running = await startKch(brokerStartArgs(args, this.ports, this.storage), { cwd: this.cwd });
  }

  /** Stops the running broker gracefully; throws when it does not exit 0. */
  async stop(): Promise<void> {
    const broker = this.running;
    if (!broker) return;
    this.running = undefined;
    const stopped = await broker.stop();
    if (stopped.code !== 0) {
      throw new Error(
        `the broker exited with ${stopped.code ?? stopped.signal}\nstderr:\n${broker.stderr()}`,
      );
    }
  }

  /** Kills the running broker, if any (after a failure). */
  async kill(): Promise<void> {
    await this.running?.stop('SIGKILL');
    this.running = undefined;
  }
}
