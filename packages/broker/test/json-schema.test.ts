/** kch.schema documents: enforced as they read, or refused with where and why. */
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

  it('refuses keywords without the type they constrain, naming the subschema', () => {
    expect(jsonSchemaProblem('{"properties": {"id": {"type": "integer"}}}')).toBe(
      'not a JSON Schema kch can enforce: the subschema at # uses "properties" without "type": "object"; add it (kch enforces object keywords where the type is declared)',
    );
    expect(
      jsonSchemaProblem(
        JSON.stringify({ type: 'object', properties: { 'a/b': { type: 'array', items: { minLength: 1 } } } }),
      ),
    ).toMatch(/the subschema at #\/properties\/a~1b\/items uses "minLength" without "type": "string"/);
    expect(jsonSchemaProblem('{"anyOf": [{"type": "integer", "minimum": 1}, {"maximum": 3}]}')).toMatch(
      /#\/anyOf\/1 uses "maximum" without "type": "number"/,
    );
    expect(jsonSchemaProblem('{"type": "integer", "minimum": 1}')).toBeNull();
  });

  it('refuses what the converter cannot express, and what is not a schema', () => {
    expect(jsonSchemaProblem('{"type": "object", "dependentRequired": {"a": ["b"]}}')).toMatch(
      /dependentSchemas and dependentRequired are not supported/,
    );
    expect(jsonSchemaProblem('{"$ref": "https://example.com/s.json"}')).toMatch(/External \$ref/);
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
});
