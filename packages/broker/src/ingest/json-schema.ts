/**
 * JSON Schema documents (`kch.schema`) enforced as written, by ajv: every keyword of drafts 2020-12
 * (the default), 2019-09 and 07 (chosen by `$schema`), `$ref` into the document (`$defs`,
 * `definitions`, `$id`, anchors), `if`/`then`/`else`, `not`, `dependentRequired`, `unevaluated*`,
 * and the formats of the specification (ajv-formats).
 *
 * Refused when set, so that a schema is never enforced more loosely than it reads:
 * - a document that is not valid against its draft's meta-schema (`{"type": "strin"}`);
 * - an unknown keyword (`"require"` for `"required"` would otherwise be ignored, as the specification
 *   allows), except `x-` extensions, which are annotations by convention;
 * - an unknown format, and a `$ref` outside the document: kch never fetches schemas.
 * Keywords without the type they constrain apply to values of that type, as the specification says
 * (`{"properties": {...}}` alone also accepts `5`).
 */
import { Ajv as AjvDraft07, type ErrorObject, type Options } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * ajv-formats' plugin. It is a CommonJS module whose `module.exports` is the plugin and whose
 * `.default` is the plugin again: Node's ESM import, tsup's CJS output and TypeScript (which types the
 * default import as the module under NodeNext) all agree on `.default`.
 */
const addSpecificationFormats = addFormats.default;

type AjvClass = typeof Ajv2020 | typeof Ajv2019 | typeof AjvDraft07;
type AjvInstance = InstanceType<AjvClass>;

/** One reason a value fails its schema: where (property names and array indexes) and why. */
export interface JsonSchemaIssue {
  readonly path: readonly string[];
  readonly message: string;
}

/** Null when the value satisfies the schema. */
export type JsonSchemaValidator = (value: unknown) => JsonSchemaIssue[] | null;

const DRAFTS: Readonly<Record<string, AjvClass>> = {
  'json-schema.org/draft/2020-12/schema': Ajv2020,
  'json-schema.org/draft/2019-09/schema': Ajv2019,
  'json-schema.org/draft-07/schema': AjvDraft07,
};

const ENFORCING: Options = {
  // Every problem of a record, not the first only: the message shows three and counts the rest.
  allErrors: true,
  // Unknown keywords and formats are refused (see above) ...
  strict: true,
  // ... but keywords without their type, `required` names that `properties` does not list and
  // `prefixItems` without `items` are plain JSON Schema, enforced as the specification says.
  strictTypes: false,
  strictRequired: false,
  strictTuples: false,
  // Validated against the meta-schema by metaValidator() instead, once compiled for all schemas.
  validateSchema: false,
  addUsedSchema: false,
  logger: false,
};

const metaValidators = new Map<AjvClass, AjvInstance>();

/** An instance that only validates documents against its draft's meta-schema, shared by all. */
function metaValidator(draft: AjvClass): AjvInstance {
  let ajv = metaValidators.get(draft);
  if (!ajv) {
    ajv = new draft({ logger: false });
    addSpecificationFormats(ajv);
    metaValidators.set(draft, ajv);
  }
  return ajv;
}

function draftOf(doc: Record<string, unknown>): AjvClass {
  const uri = doc.$schema;
  if (uri === undefined) return Ajv2020;
  const draft =
    typeof uri === 'string' ? DRAFTS[uri.replace(/^https?:\/\//, '').replace(/#$/, '')] : undefined;
  if (!draft)
    throw new Error(
      `$schema ${JSON.stringify(uri)} is not a draft kch enforces: https://json-schema.org/draft/2020-12/schema (the default), https://json-schema.org/draft/2019-09/schema or http://json-schema.org/draft-07/schema#`,
    );
  return draft;
}

/**
 * Compiles a JSON Schema document; throws an Error saying what in it kch cannot enforce. Each
 * document gets an ajv instance of its own: documents do not share `$id`s (two versions of one schema
 * with the same `$id` on two topics are fine), and dropping the validator frees everything.
 */
export function compileJsonSchemaDocument(doc: Record<string, unknown>): JsonSchemaValidator {
  const draft = draftOf(doc);
  const meta = metaValidator(draft);
  if (!meta.validateSchema(doc)) throw new Error(schemaProblem(meta.errors ?? [], doc));
  const ajv = new draft(ENFORCING);
  addSpecificationFormats(ajv);
  for (const keyword of extensionKeywords(doc)) ajv.addKeyword(keyword);
  let validate: ReturnType<AjvInstance['compile']>;
  try {
    validate = ajv.compile(doc);
  } catch (e) {
    throw new Error(compileProblem(e as Error & { missingRef?: string }));
  }
  return (value) => (validate(value) ? null : (validate.errors ?? []).map((e) => issueOf(e, value)));
}

/** `x-` names used as keys anywhere in the document: declared to ajv as annotations. */
function extensionKeywords(doc: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(doc)) for (const item of doc) extensionKeywords(item, found);
  else if (typeof doc === 'object' && doc !== null)
    for (const [key, value] of Object.entries(doc)) {
      // Only names ajv takes as keywords; a property named so (in `properties`) is unaffected.
      if (/^x-[a-z0-9_$:-]*$/i.test(key)) found.add(key);
      extensionKeywords(value, found);
    }
  return found;
}

/**
 * The first problem only: the meta-validator stops at the first keyword that fails, and the errors
 * after it are the alternatives of that keyword (the `anyOf` of `type`), not other problems.
 */
function schemaProblem(errors: ErrorObject[], doc: unknown): string {
  const first = errors[0];
  if (!first) return 'not valid against its meta-schema';
  const issue = issueOf(first, doc);
  return `${pointerText(issue.path)}: ${issue.message}`;
}

function compileProblem(e: Error & { missingRef?: string }): string {
  if (e.missingRef)
    return `$ref ${JSON.stringify(e.missingRef)} is not in the schema; kch does not fetch schemas, put it under $defs`;
  const keyword = /^strict mode: unknown keyword: (".*")$/.exec(e.message);
  if (keyword)
    return `unknown keyword ${keyword[1]} (it would be ignored, and a misspelt keyword loosens the schema; extensions are named x-...)`;
  const format = /^unknown format (".*") ignored in schema at path "(.*)"$/.exec(e.message);
  if (format)
    return `unknown format ${format[1]} at ${format[2]} (kch knows the formats of the JSON Schema specification)`;
  return e.message;
}

/** The issue of one ajv error, in the words of kch's other record checks ("expected ..., got ..."). */
function issueOf(e: ErrorObject, root: unknown): JsonSchemaIssue {
  const path = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map(unescapePointerToken);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return {
        path,
        message: `expected ${String(params.type).replaceAll(',', ' or ')}, got ${got(root, path)}`,
      };
    case 'enum':
      return {
        path,
        message: `expected one of ${alternatives(params.allowedValues)}, got ${got(root, path)}`,
      };
    case 'const':
      return { path, message: `expected ${JSON.stringify(params.allowedValue)}, got ${got(root, path)}` };
    case 'required':
      path.push(String(params.missingProperty));
      return { path, message: 'required but missing' };
    case 'dependentRequired':
    case 'dependencies':
      path.push(String(params.missingProperty));
      return { path, message: `required when ${JSON.stringify(params.property)} is present, but missing` };
    case 'additionalProperties':
    case 'unevaluatedProperties':
      path.push(String(params.additionalProperty ?? params.unevaluatedProperty));
      return { path, message: 'not a property the schema allows' };
    default:
      return { path, message: e.message ?? `fails "${e.keyword}"` };
  }
}

/** Allowed values, as many as fit a message. */
function alternatives(values: unknown): string {
  const list = Array.isArray(values) ? values : [];
  const shown = list.slice(0, 10).map((v) => JSON.stringify(v));
  return `${shown.join('|')}${list.length > shown.length ? `|... (${list.length} values)` : ''}`;
}

/** The value at `path`: a scalar as JSON (long strings cut), an object or array by its kind. */
function got(root: unknown, path: readonly string[]): string {
  let v = root;
  for (const key of path)
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function unescapePointerToken(token: string): string {
  return token.includes('~') ? token.replaceAll('~1', '/').replaceAll('~0', '~') : token;
}

/** A path in the schema document as a JSON pointer, as JSON Schema tools show it. */
function pointerText(path: readonly string[]): string {
  return `#${path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}`;
}
