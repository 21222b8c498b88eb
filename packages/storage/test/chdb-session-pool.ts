/**
 * A few chdb sessions on one data directory, lent out one query at a time. One session runs its
 * queries one after another (measured: five 0.3 s sleeps on one session take 1.5 s, on five sessions
 * 0.6 s), so a server that several brokers share would make each wait behind the others' slow
 * statements; sessions on the same directory share the one engine and its data, and run side by side.
 */
import { Session } from 'chdb';

export class ChdbSessionPool {
  private readonly all: Session[] = [];
  private readonly idle: Session[] = [];
  /** Callers waiting for a session, first come first served. */
  private readonly waiting: { resolve: (s: Session) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  /**
   * Opens the first session at once, so that a directory or configuration chdb refuses fails here
   * rather than at the first request.
   */
  constructor(
    private readonly dataDir: string,
    private readonly connectionArgs: readonly string[],
    private readonly max: number,
  ) {
    this.idle.push(this.open());
  }

  /** Runs `f` on a session of its own; the session goes back to the pool when `f` settles. */
  async run<T>(f: (s: Session) => Promise<T>): Promise<T> {
    const s = await this.take();
    try {
      return await f(s);
    } finally {
      this.give(s);
    }
  }

  /** Closes every session; call it once nothing runs any more. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('the chdb session pool is closed'));
    for (const s of this.all) s.close();
  }

  private open(): Session {
    // Every session gets the same arguments: they configure the one engine the directory binds.
    const s = new Session(this.dataDir, { connectionArgs: [...this.connectionArgs] });
    this.all.push(s);
    return s;
  }

  private take(): Promise<Session> {
    if (this.closed) return Promise.reject(new Error('the chdb session pool is closed'));
    const s = this.idle.pop() ?? (this.all.length < this.max ? this.open() : undefined);
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private give(s: Session): void {
    const next = this.waiting.shift();
    if (next) next.resolve(s);
    else this.idle.push(s);
  }
}
