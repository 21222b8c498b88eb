import { createRequire } from 'node:module';
import { KafkaCodecError } from '../errors.js';

// Native codecs are loaded synchronously on first use, so a broker that never sees snappy never loads
// the snappy binary, and a missing optional binary fails only the requests that need it. The require
// function is made from this module's location: `__filename` in the CommonJS build, `import.meta.url`
// in the ESM build and under vitest (a bare `require` would be the bundler's throwing shim in ESM).
const load: NodeRequire = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);

const cache = new Map<string, unknown>();

/** Loads an npm package the first time a codec needs it, with an error that says what to install. */
export function loadNative<T>(pkg: string, codec: string): T {
  const hit = cache.get(pkg);
  if (hit !== undefined) return hit as T;
  let mod: T;
  try {
    mod = load(pkg) as T;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new KafkaCodecError(
      'COMPRESSION',
      `${codec} compression needs the npm package "${pkg}", which could not be loaded (install it with \`npm install ${pkg}\`, and check that its native binary matches this platform): ${why}`,
    );
  }
  cache.set(pkg, mod);
  return mod;
}
