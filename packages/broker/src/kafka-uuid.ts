import { randomBytes } from 'node:crypto';

/**
 * Kafka's Uuid.randomUuid().toString(), for topic ids, client instance ids and consumer group member
 * ids: 22 characters of base64url, never the zero uuid, never one whose printed form starts with '-'
 * (it would read as an option on a command line).
 */
export function randomUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA') return id;
  }
}
