/**
 * Warnings that a misconfigured client would repeat on every reconnection (TLS to a plaintext listener,
 * plaintext to a TLS listener, HTTP to the Kafka port): logged once per client address and kind.
 */
import type { Logger } from '../logger.js';

/** Beyond this many remembered clients the memory starts over: a flood of addresses cannot grow it. */
const MAX_REMEMBERED = 10_000;

export class WarnOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly logger: Logger) {}

  warn(address: string, kind: string, message: string, fields: Record<string, unknown>): void {
    const key = `${kind}\n${address}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(key);
    this.logger.warn(message, { ...fields, note: 'logged once per client address' });
  }
}
