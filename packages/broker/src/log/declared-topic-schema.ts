/**
 * What a topic declared in the broker's options (`topics: { orders: { table: 'shop.orders' } }`) may
 * say, and the topic configs each declaration stands for: the schema `createBroker` validates with, kept
 * apart from applying declarations (./declared-topics.ts) so that the options need nothing of the
 * broker's running parts.
 */
import { z } from 'zod';
import { isStandardSchema, type StandardSchemaV1 } from '../ingest/value-schemas.js';
import { brokerTopicDefaults, normalizeTopicConfigs, TABLE_FORMATS } from '../topic-configs.js';
import { topicNameError } from './topic-names.js';

const positiveInt = z.number().int().positive();

/** A JSON Schema document: an object (JSON text is given through `configs['kch.schema']`). */
type JsonSchemaObject = Record<string, unknown>;

function isPlainObject(v: unknown): v is JsonSchemaObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A topic declared in the broker's options: created at start when missing, and its configs brought in
 * line with the declaration when it exists. Each field is a shorthand for a topic config.
 */
export const declaredTopicSchema = z.strictObject({
  /** Partitions when the topic is created (default `defaultPartitions`); raised, never lowered, at start. */
  partitions: positiveInt.optional(),
  /** `kch.table`: the ClickHouse table the topic is bound to (`db.table`, or `table`). */
  table: z.string().min(1).optional(),
  /** `kch.format`: the format of record values for the table. */
  format: z.enum(TABLE_FORMATS).optional(),
  /** `kch.invalid.records`: what happens to records that fail the topic's checks. */
  onInvalid: z.enum(['reject', 'dead-letter']).optional(),
  /** `kch.dead.letter.topic`: where dead-lettered records go (default `<topic>.dlq`). */
  deadLetterTopic: z.string().min(1).optional(),
  /**
   * What each record value (JSON) must satisfy: a JSON Schema object, stored as `kch.schema`; or a
   * zod schema (any Standard Schema, synchronous), which cannot be stored: it applies while this
   * broker runs, as given in code.
   */
  schema: z
    .custom<StandardSchemaV1 | JsonSchemaObject>((v) => isStandardSchema(v) || isPlainObject(v), {
      error: 'must be a zod schema (or another Standard Schema) or a JSON Schema object',
    })
    .optional(),
  /** Any other topic configs, e.g. `{ "retention.ms": "86400000" }`. */
  configs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
});

export type DeclaredTopic = z.output<typeof declaredTopicSchema>;

/** The topic config each shorthand field of a declaration stands for. */
const FIELD_CONFIGS = {
  table: 'kch.table',
  format: 'kch.format',
  onInvalid: 'kch.invalid.records',
  deadLetterTopic: 'kch.dead.letter.topic',
  schema: 'kch.schema',
} as const;

/** The configs a declaration owns: a field left out resets its config at the next start. */
export const MANAGED_CONFIGS: readonly string[] = Object.values(FIELD_CONFIGS);

/**
 * The topic configs a declaration stands for (not yet normalized). A schema given as a JSON Schema
 * object becomes `kch.schema` text; a zod schema stays out (see {@link codeSchemaChecks}).
 */
export function declaredConfigs(spec: DeclaredTopic): Record<string, string> {
  const out: Record<string, string> = { ...spec.configs };
  for (const [field, key] of Object.entries(FIELD_CONFIGS) as [keyof typeof FIELD_CONFIGS, string][]) {
    const value = spec[field];
    if (value === undefined || isStandardSchema(value)) continue;
    if (out[key] !== undefined) {
      throw new Error(`${field} and configs["${key}"] say the same thing; set only one of them`);
    }
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** What is wrong with the `topics` option (a bad name, a bad config value), or null. */
export function declaredTopicsProblem(config: {
  topics: Readonly<Record<string, DeclaredTopic>>;
  topicDefaults: Readonly<Record<string, string>>;
  messageMaxBytes: number;
}): string | null {
  const defaults = brokerTopicDefaults(config);
  for (const [name, spec] of Object.entries(config.topics)) {
    const nameError = topicNameError(name);
    if (nameError) return `topics: ${nameError}`;
    try {
      normalizeTopicConfigs(declaredConfigs(spec), defaults, name);
    } catch (e) {
      return `topics.${name}: ${(e as Error).message}`;
    }
  }
  return null;
}
