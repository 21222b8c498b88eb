/** kch.schema documents: enforced as they read (by ajv), or refused with where and why. */
import { describe, expect, it } from 'vitest';
import { compileJsonSchema, jsonSchemaProblem, valueSchemaCheck } from '../src/ingest/value-schemas.js';

/** Which of `values` the schema accepts. */
function accepts(schema: unknown, values: unknown[]): boolean[] {
  const check = valueSchemaCheck(compileJsonSchema(JSON.stringify(schema)), 'kch.schema');
  return values.map((v) => check({ key: null, value: Buffer.from(JSON.stringify(v)), headers: [] }) === null);
}

describe('kch.schema', () => {
  it('requires names that properties does not list, as JSON Schema does', () => {
    expect(accepts({ type: 'object', required: ['id'] }, [{}, { id: 1 }])).toEqual([false, true]);
    expect(accepts({ type: ['object', 'null'], required: ['id'] }, [{}, null, { id: 'x' }])).toEqual([
      false,
      true,
      true,
    ]);
    // An unlisted name is governed by additionalProperties, and by patternProperties that match it.
    const map = { type: 'object', required: ['id'], additionalProperties: { type: 'string' } };
    expect(accepts(map, [{ id: 1 }, { id: 'a' }, { id: 'a', x: 2 }])).toEqual([false, true, false]);
    const forbidden = { type: 'object', required: ['id'], additionalProperties: false };
    expect(accepts(forbidden, [{}, { id: 1 }])).toEqual([false, false]);
    const patterned = {
      type: 'object',
      required: ['n_id'],
      patternProperties: { '^n_': { type: 'integer' } },
      additionalProperties: false,
    };
    expect(accepts(patterned, [{}, { n_id: 'x' }, { n_id: 1 }])).toEqual([false, false, true]);
    const nested = {
      type: 'object',
      properties: { items: { type: 'array', items: { type: 'object', required: ['sku'] } } },
    };
    expect(accepts(nested, [{ items: [{}] }, { items: [{ sku: 'a' }] }])).toEqual([false, true]);
  });

  it('applies keywords without a declared type to values of their type, as JSON Schema says', () => {
    // Refused before ajv, when zod's converter would have enforced them loosely; ajv enforces them as
    // the specification reads: `properties` constrains objects, and lets other values through.
    const idIsAnInteger = { properties: { id: { type: 'integer' } } };
    expect(jsonSchemaProblem(JSON.stringify(idIsAnInteger))).toBeNull();
    expect(accepts(idIsAnInteger, [{ id: 1 }, { id: 'x' }, {}, 5, 'x'])).toEqual([
      true,
      false,
      true,
      true,
      true,
    ]);
    const nested = { type: 'object', properties: { 'a/b': { type: 'array', items: { minLength: 1 } } } };
    expect(accepts(nested, [{ 'a/b': ['x', 1] }, { 'a/b': [''] }])).toEqual([true, false]);
    const either = { anyOf: [{ type: 'integer', minimum: 1 }, { maximum: 3 }] };
    expect(accepts(either, [5, 0, 2.5, 4.5, 'x'])).toEqual([true, true, true, false, true]);
  });

  it('enforces what zod could not: $ref into the document, if/then/else, not, dependentRequired', () => {
    const refs = {
      $defs: { positive: { type: 'integer', minimum: 1 } },
      type: 'object',
      properties: { qty: { $ref: '#/$defs/positive' } },
    };
    expect(accepts(refs, [{ qty: 1 }, { qty: 0 }])).toEqual([true, false]);
    const conditional = {
      type: 'object',
      if: { properties: { kind: { const: 'refund' } }, required: ['kind'] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's keyword, never awaited here
      then: { required: ['order_id'] },
      else: { not: { required: ['order_id'] } },
    };
    expect(
      accepts(conditional, [
        { kind: 'refund', order_id: 1 },
        { kind: 'refund' },
        { kind: 'sale' },
        { order_id: 1 },
      ]),
    ).toEqual([true, false, true, false]);
    const dependent = { type: 'object', dependentRequired: { a: ['b'] } };
    expect(accepts(dependent, [{ a: 1, b: 2 }, { b: 1 }, { a: 1 }])).toEqual([true, true, false]);
    // Draft-07 documents, by their $schema: `definitions` and tuples as `items` arrays.
    const draft07 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      definitions: { name: { type: 'string' } },
      type: 'array',
      items: [{ type: 'integer' }, { $ref: '#/definitions/name' }],
    };
    expect(
      accepts(draft07, [
        [1, 'a'],
        ['a', 1],
      ]),
    ).toEqual([true, false]);
    // Two documents with one $id (two versions of a schema) compile apart.
    expect(accepts({ $id: 'https://example.com/order.json', type: 'integer' }, [1, 'a'])).toEqual([
      true,
      false,
    ]);
    expect(accepts({ $id: 'https://example.com/order.json', type: 'string' }, [1, 'a'])).toEqual([
      false,
      true,
    ]);
  });

  it('refuses what it cannot enforce as written, saying what', () => {
    expect(jsonSchemaProblem('{"$ref": "https://example.com/s.json"}')).toBe(
      'not a JSON Schema kch can enforce: $ref "https://example.com/s.json" is not in the schema; kch does not fetch schemas, put it under $defs',
    );
    // A misspelt keyword would be ignored, as the specification allows: refused instead.
    expect(jsonSchemaProblem('{"type": "object", "require": ["id"]}')).toMatch(
      /^not a JSON Schema kch can enforce: unknown keyword "require" \(it would be ignored/,
    );
    expect(jsonSchemaProblem('{"type": "object", "x-owner": "billing"}')).toBeNull();
    expect(jsonSchemaProblem('{"type": "string", "format": "date-tim"}')).toMatch(
      /unknown format "date-tim" at #/,
    );
    expect(jsonSchemaProblem('{"type": "strin"}')).toBe(
      'not a JSON Schema kch can enforce: #/type: expected one of "array"|"boolean"|"integer"|"null"|"number"|"object"|"string", got "strin"',
    );
    expect(jsonSchemaProblem('{"type": "object", "properties": {"n": {"minLength": -1}}}')).toMatch(
      /#\/properties\/n\/minLength: must be >= 0/,
    );
    expect(jsonSchemaProblem('{"$schema": "http://json-schema.org/draft-04/schema#"}')).toMatch(
      /\$schema "http:\/\/json-schema.org\/draft-04\/schema#" is not a draft kch enforces/,
    );
    expect(jsonSchemaProblem('true')).toMatch(/must be a JSON object/);
    expect(jsonSchemaProblem('{')).toMatch(/^not valid JSON: /);
  });

  it('enforces the rest as written: types, enums, formats, combinators, additionalProperties', () => {
    expect(accepts({ type: 'integer' }, [1, 1.5, '1'])).toEqual([true, false, false]);
    expect(accepts({ enum: ['a', 'b'] }, ['a', 'c'])).toEqual([true, false]);
    expect(accepts({ type: 'string', format: 'date-time' }, ['2024-01-01T00:00:00Z', 'soon'])).toEqual([
      true,
      false,
    ]);
    expect(accepts({ anyOf: [{ type: 'string' }, { type: 'integer' }] }, ['a', 1, 1.5])).toEqual([
      true,
      true,
      false,
    ]);
    const closed = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
    expect(accepts(closed, [{ a: 'x' }, { a: 'x', b: 1 }])).toEqual([true, false]);
  });
  it('says which field failed and why, three problems at the most', () => {
    const reason = (schema: unknown, value: unknown) =>
      valueSchemaCheck(
        compileJsonSchema(JSON.stringify(schema)),
        'kch.schema',
      )({
        key: null,
        value: Buffer.from(JSON.stringify(value)),
        headers: [],
      });
    const order = {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        customer: { type: 'string' },
        reason: { enum: ['damaged', 'late'] },
        lines: {
          type: 'array',
          items: { type: 'object', properties: { sku: { type: 'string', minLength: 1 } } },
        },
      },
      required: ['id', 'customer'],
      additionalProperties: false,
    };
    expect(reason(order, { id: 'one', reason: 'changed-mind', customer: 'c', lines: [{ sku: '' }] })).toBe(
      'the value does not match kch.schema: id: expected integer, got "one"; reason: expected one of "damaged"|"late", got "changed-mind"; lines.0.sku: must NOT have fewer than 1 characters',
    );
    expect(reason(order, { id: 1, lines: 'x', extra: { a: 1 } })).toBe(
      'the value does not match kch.schema: customer: required but missing; extra: not a property the schema allows; lines: expected array, got "x"',
    );
    expect(reason(order, { id: [1], reason: 1, lines: [1, 2], customer: 'c', more: 1 })).toBe(
      'the value does not match kch.schema: more: not a property the schema allows; id: expected integer, got an array; reason: expected one of "damaged"|"late", got 1 (and 2 more)',
    );
    expect(reason({ type: ['object', 'null'] }, 5)).toBe(
      'the value does not match kch.schema: (root): expected object or null, got 5',
    );
  });

  it('compiles a schema once, by its text', () => {
    const text = '{"type": "object", "required": ["id"]}';
    expect(compileJsonSchema(text)).toBe(compileJsonSchema(text));
  });
});
