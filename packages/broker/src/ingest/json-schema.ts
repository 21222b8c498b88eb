/**
 * JSON Schema documents as zod 4's `z.fromJSONSchema` enforces them. Its conversion keys off `type`:
 * measured on zod 4.6, `{"properties": {"id": {"type": "integer"}}}` without `"type": "object"` accepts
 * `{"id": "x"}`, and a `required` name missing from `properties` is not required. A schema a user set
 * must never be enforced more loosely than it reads, so before the conversion:
 * - a `required` name missing from `properties` is added to it, with the subschema that governs it
 *   unlisted (`additionalProperties`, else `{}`: no constraint), so the meaning is unchanged, and
 * - a subschema with keywords of a type it does not declare (`properties` without `"type": "object"`,
 *   `minLength` without `"type": "string"`, ...) is refused, with where it is and what to add.
 */

/** Keywords that constrain one JSON type only, by that type. */
const TYPE_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  object: [
    'properties',
    'required',
    'additionalProperties',
    'patternProperties',
    'minProperties',
    'maxProperties',
    'propertyNames',
  ],
  array: [
    'items',
    'prefixItems',
    'minItems',
    'maxItems',
    'uniqueItems',
    'contains',
    'minContains',
    'maxContains',
  ],
  string: ['minLength', 'maxLength', 'pattern', 'format'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
};

/** Keywords whose value is a subschema. */
const SCHEMA_KEYWORDS = ['additionalProperties', 'contains', 'propertyNames', 'not', 'items'] as const;
/** Keywords whose value is a list of subschemas. */
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'] as const;
/** Keywords whose value maps names to subschemas. */
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions'] as const;

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A copy of the schema document `doc` ready for `z.fromJSONSchema`; throws an Error naming the
 * subschema (as a JSON pointer) that kch could not enforce as written.
 */
export function enforceableJsonSchema(doc: Node): Node {
  const copy = structuredClone(doc);
  visit(copy, '#');
  return copy;
}

function visit(node: Node, at: string): void {
  const declared = declaredTypes(node.type);
  for (const [type, keywords] of Object.entries(TYPE_KEYWORDS)) {
    const used = keywords.filter((k) => node[k] !== undefined);
    const covered = declared.has(type) || (type === 'number' && declared.has('integer'));
    if (used.length > 0 && !covered) {
      throw new Error(
        `the subschema at ${at} uses ${used.map((k) => `"${k}"`).join(', ')} without "type": "${type}"; add it (kch enforces ${type} keywords where the type is declared)`,
      );
    }
  }
  if (Array.isArray(node.required)) {
    const properties = isNode(node.properties) ? node.properties : {};
    for (const name of node.required) {
      if (typeof name === 'string' && !Object.hasOwn(properties, name))
        properties[name] = undeclared(node, name);
    }
    node.properties = properties;
  }
  for (const k of SCHEMA_KEYWORDS) if (isNode(node[k])) visit(node[k], `${at}/${k}`);
  for (const k of SCHEMA_LIST_KEYWORDS) {
    const list = node[k];
    if (!Array.isArray(list)) continue;
    for (const [i, s] of list.entries()) if (isNode(s)) visit(s, `${at}/${k}/${i}`);
  }
  for (const k of SCHEMA_MAP_KEYWORDS) {
    const map = node[k];
    if (!isNode(map)) continue;
    for (const [name, s] of Object.entries(map)) if (isNode(s)) visit(s, `${at}/${k}/${pointerToken(name)}`);
  }
}

/**
 * The subschema that governs property `name` of an object schema that does not list it: one matching
 * a patternProperties pattern is governed by it (which still applies once the name is listed), any
 * other by additionalProperties (which would no longer apply), else by nothing.
 */
function undeclared(node: Node, name: string): unknown {
  const patterns = isNode(node.patternProperties) ? Object.keys(node.patternProperties) : [];
  if (patterns.some((p) => matches(p, name))) return {};
  return node.additionalProperties ?? {};
}

function matches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(name);
  } catch {
    return false;
  }
}

function declaredTypes(type: unknown): Set<string> {
  if (typeof type === 'string') return new Set([type]);
  if (Array.isArray(type)) return new Set(type.filter((t): t is string => typeof t === 'string'));
  return new Set();
}

/** RFC 6901 escaping of one JSON pointer token. */
function pointerToken(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
