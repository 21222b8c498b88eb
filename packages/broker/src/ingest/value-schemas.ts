/**
 * Schemas that a topic's record values must satisfy: a JSON Schema document (the `kch.schema` topic
 * config, stored with the topic) or a schema object given in code (the `topics` broker option: zod, or
 * any other library implementing Standard Schema, kept in the broker's memory).
 *
 * Both become one record check: the value is read as UTF-8 JSON and validated. JSON Schema is
 * enforced as written by ajv (json-schema.ts); what it cannot enforce (a `$ref` outside the document,
 * an unknown keyword or format, a document its meta-schema refuses) is refused when the config is set.
 */
import type { RecordCheck } from '@kch/storage';
import { compileJsonSchemaDocument } from './json-schema.js';

/**
 * The Standard Schema v1 interface (standardschema.dev): zod 3.24+ and 4, valibot, arktype and others
 * implement it, so the broker needs none of them to run a schema given in code.
 */
export interface StandardSchemaV1 {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult | Promise<StandardResult>;
  };
}

type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
      readonly issues: readonly {
        readonly message: string;
        readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
      }[];
    };

export function isStandardSchema(v: unknown): v is StandardSchemaV1 {
  if (typeof v !== 'object' || v === null) return false;
  const std = (v as Partial<StandardSchemaV1>)['~standard'];
  return typeof std === 'object' && std !== null && typeof std.validate === 'function';
}

/** The problem with a `kch.schema` value, in words for the admin who set it, or null when it is usable. */
export function jsonSchemaProblem(text: string): string | null {
  try {
    compileJsonSchema(text);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Compiled schemas by their text: every Produce of a topic looks its schema up here. */
const compiled = new Map<string, StandardSchemaV1>();
/** Distinct schema texts kept compiled; more than this many topics with different schemas recompile. */
const COMPILED_KEPT = 256;

/** The schema of a `kch.schema` value; throws an Error saying why when it is not a usable JSON Schema. */
export function compileJsonSchema(text: string): StandardSchemaV1 {
  const hit = compiled.get(text);
  if (hit) return hit;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error('a JSON Schema must be a JSON object, e.g. {"type":"object","required":["id"]}');
  }
  let schema: StandardSchemaV1;
  try {
    const validate = compileJsonSchemaDocument(doc as Record<string, unknown>);
    const validateStandard = (value: unknown): StandardResult => {
      const issues = validate(value);
      return issues ? { issues } : { value };
    };
    schema = { '~standard': { version: 1, vendor: 'ajv', validate: validateStandard } };
  } catch (e) {
    throw new Error(`not a JSON Schema kch can enforce: ${(e as Error).message}`);
  }
  if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
  compiled.set(text, schema);
  return schema;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Issues shown per record: enough to fix it, short enough for a Produce response. */
const ISSUES_SHOWN = 3;

/**
 * A record check that parses the value as JSON and validates it against `schema`. A record without a
 * value (a tombstone) is checked as JSON `null`, so a schema admitting null admits tombstones.
 * `what` names the schema in messages ("kch.schema", "the schema of the topics option").
 */
export function valueSchemaCheck(schema: StandardSchemaV1, what: string): RecordCheck {
  return (record) => {
    let value: unknown = null;
    if (record.value !== null) {
      let text: string;
      try {
        text = utf8.decode(record.value);
      } catch {
        return `the value is not UTF-8 text, so it cannot be JSON (${what})`;
      }
      try {
        value = JSON.parse(text);
      } catch (e) {
        return `the value is not valid JSON: ${(e as Error).message} (${what})`;
      }
    }
    let result: StandardResult | Promise<StandardResult>;
    try {
      result = schema['~standard'].validate(value);
    } catch (e) {
      return `the schema failed on the value: ${(e as Error).message} (${what})`;
    }
    if (result instanceof Promise) {
      // Checks run before offsets are assigned and must be synchronous; say so instead of waiting.
      result.catch(() => undefined);
      return `the schema is asynchronous (async refinements or transforms); kch needs a synchronous schema (${what})`;
    }
    if (!result.issues) return null;
    const shown = result.issues.slice(0, ISSUES_SHOWN).map((i) => `${pathText(i.path)}: ${i.message}`);
    const more = result.issues.length - shown.length;
    return `the value does not match ${what}: ${shown.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
  };
}

function pathText(path: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined): string {
  if (!path || path.length === 0) return '(root)';
  return path.map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
}
