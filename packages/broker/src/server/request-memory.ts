/**
 * The broker's bound on the bytes of requests read and not yet answered, across all connections
 * (Kafka's queued.max.request.bytes). A Produce request with acks=all holds its bytes until its
 * records are stored, so when storage falls behind, requests pile up in memory; past the bound every
 * connection stops reading (its bytes wait in the kernel's socket buffers, and TCP slows the clients
 * down) until answered requests give memory back. A request is never refused for its size: one that
 * was already read always counts, as in Kafka, so the bound may be passed by what the connections
 * had read when it was reached.
 */
/**
 * Default of the bound (queuedMaxRequestBytes): room for two full group-commit inserts of the
 * ClickHouse storage (16 MiB each) and the requests gathering for the next ones.
 */
export const DEFAULT_QUEUED_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export class RequestMemory {
  private used = 0;

  constructor(
    /** Bytes of requests in flight at which reading stops. */
    readonly limit: number,
    /** Called when `exhausted` changes: every connection then stops or starts reading. */
    private readonly onChange: () => void,
  ) {}

  /** Bytes of requests read and not yet answered, across all connections. */
  get bytes(): number {
    return this.used;
  }

  /** Reading must wait: the requests in flight hold the limit or more. */
  get exhausted(): boolean {
    return this.used >= this.limit;
  }

  take(bytes: number): void {
    const was = this.exhausted;
    this.used += bytes;
    if (!was && this.exhausted) this.onChange();
  }

  release(bytes: number): void {
    const was = this.exhausted;
    this.used -= bytes;
    if (was && !this.exhausted) this.onChange();
  }
}
