/**
 * The client library's validators compiled on first use (src/client/lazy-validators.ts): while the
 * wrapping is on, compile returns a validator that compiles when called and then answers as the
 * compiled one, errors included; the function it returns puts the real compile back.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lazyValidatorCompilation } from '../src/client/lazy-validators.js';

type Validate = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};
interface AjvLike {
  compile(schema: unknown): Validate;
  errorsText(errors: unknown): string;
}

/** The ajv class @platformatic/kafka compiles its option validators with. */
function libraryAjv(): { new (options: object): AjvLike; prototype: { compile: unknown } } {
  const library = createRequire(import.meta.url).resolve('@platformatic/kafka');
  return (createRequire(library)('ajv/dist/2020.js') as { Ajv2020: never }).Ajv2020;
}

const schema = { type: 'object', properties: { port: { type: 'integer', minimum: 1 } }, required: ['port'] };

describe('lazy compilation of the client library validators', () => {
  it('defers compiling a schema to the first call, which answers as the compiled validator', () => {
    const Ajv = libraryAjv();
    const original = Ajv.prototype.compile;
    const restore = lazyValidatorCompilation();
    let validate: Validate;
    try {
      expect(Ajv.prototype.compile).not.toBe(original);
      const ajv = new Ajv({ allErrors: true, strict: true });
      // A schema ajv refuses is only refused when its validator is first used.
      const broken = ajv.compile({ type: 'strin' });
      expect(() => broken({})).toThrow(/schema is invalid/);
      validate = ajv.compile(schema);
      expect(validate.errors).toBeUndefined();
    } finally {
      restore();
    }
    expect(Ajv.prototype.compile).toBe(original);
    expect(validate({ port: 9092 })).toBe(true);
    expect(validate.errors).toBeNull();
    expect(validate({ port: 0 })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/port', message: 'must be >= 1' });
    expect(validate({})).toBe(false);
    expect(validate.errors?.[0]?.message).toBe("must have required property 'port'");
  });

  it('leaves compile as it was when the wrapping is over', () => {
    const Ajv = libraryAjv();
    lazyValidatorCompilation()();
    const ajv = new Ajv({ strict: true });
    expect(() => ajv.compile({ type: 'strin' })).toThrow(/schema is invalid/);
  });
});
