import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version of @kch/cli (from its package.json, one directory above src/ and dist/). */
export function cliVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      cached = pkg.version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
