/**
 * The committed codec is exactly what the generator writes from Kafka's message definitions.
 * The definitions live outside the repository (../shared/kafka-messages, or $KAFKA_MESSAGES_DIR);
 * without them the check is skipped locally and fails in CI.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_DIR, defaultDefinitionsDir, diffGenerated, generate } from '../scripts/generate.js';

const definitions = defaultDefinitionsDir();
const available = existsSync(definitions);
if (!available && process.env.CI) {
  throw new Error(
    `Kafka message definitions not found at ${definitions}; CI must regenerate the codec from them`,
  );
}

describe('generated codec', () => {
  // ctx.skip's reason is printed by vitest's default reporter; describe.skipIf's is not.
  it('matches a fresh generation byte for byte', (ctx) => {
    ctx.skip(
      !available,
      `Kafka message definitions not found at ${definitions} (set KAFKA_MESSAGES_DIR to their directory)`,
    );
    expect(diffGenerated(generate(definitions), DEFAULT_OUTPUT_DIR)).toEqual([]);
  });
});
