/**
 * Makes @platformatic/kafka's option validators compile when first used instead of when the library
 * is imported. The library compiles about 40 JSON Schema validators (ajv) at import, for every client
 * kind, while a `kch` command uses two or three: that was a third of the CPU of every `kch topics` or
 * `kch produce` start (`node --cpu-prof packages/cli/bin/kch.js topics list`: ~340 ms in ajv under the
 * library's options modules).
 *
 * `lazyValidatorCompilation()` wraps `compile` of the ajv class the library uses (found from the
 * library's own location, so it is the same module instance) and returns the function that puts it
 * back: call it before the library is imported and that function once it is (../run.ts does, around
 * loading a client command). A wrapped validator compiles on its first call and behaves as the
 * compiled one (its result, and `errors` after it); if the library ever compiles lazily itself, this
 * changes nothing.
 */
import { createRequire } from 'node:module';

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
type Compile = (this: unknown, schema: unknown, meta?: boolean) => Validate;

function lazyCompile(compile: Compile): Compile {
  return function lazy(this: unknown, schema, meta) {
    let compiled: Validate | undefined;
    const validate = ((data: unknown) => {
      compiled ??= compile.call(this, schema, meta);
      return compiled(data);
    }) as Validate;
    Object.defineProperty(validate, 'errors', { get: () => compiled?.errors, configurable: true });
    return validate;
  };
}

export function lazyValidatorCompilation(): () => void {
  const library = createRequire(import.meta.url).resolve('@platformatic/kafka');
  const { Ajv2020 } = createRequire(library)('ajv/dist/2020.js') as {
    Ajv2020: { prototype: { compile: Compile } };
  };
  const proto = Ajv2020.prototype;
  const own = Object.hasOwn(proto, 'compile');
  const original = proto.compile;
  proto.compile = lazyCompile(original);
  return () => {
    if (own) proto.compile = original;
    else delete (proto as { compile?: Compile }).compile;
  };
}
