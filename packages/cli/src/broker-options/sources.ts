/**
 * Where option values come from (a flag, a KCH_* variable, the config file, a server property) and how
 * a message names that place; the config file's reading.
 */
import { readFileSync } from 'node:fs';
import { BROKER_OPTIONS, BY_FLAG, BY_KEY } from './table.js';

/** Where a value came from, for messages (`property`: Kafka server properties, named in `name`). */
export type Source = { kind: 'flag' | 'env' | 'file' | 'property'; name: string; raw: unknown };

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

/** The config file: a JSON object whose keys are option names (camelCase, or the flag spelled out). */
export function readConfigFile(path: string): {
  values: Record<string, unknown>;
  sources: Record<string, Source>;
} {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptionsError(
      code === 'ENOENT'
        ? `config file ${path} does not exist`
        : `config file ${path} cannot be read: ${(e as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new OptionsError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new OptionsError(`config file ${path} must hold a JSON object, e.g. { "port": 9092 }`);
  }
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const [name, v] of Object.entries(data)) {
    if (name === '$schema') continue;
    const spec = BY_KEY.get(name) ?? BY_FLAG.get(name);
    if (!spec) {
      throw new OptionsError(
        `config file ${path}: unknown option ${JSON.stringify(name)}; known options are ${BROKER_OPTIONS.map((o) => o.key).join(', ')}`,
      );
    }
    values[spec.key] = v;
    sources[spec.key] = { kind: 'file', name: `${spec.key} in ${path}`, raw: v };
  }
  return { values, sources };
}

export function describeSource(s: Source | undefined, key: string): string {
  const spec = BY_KEY.get(key);
  if (!s) return spec ? `--${spec.flag}` : key;
  const raw = typeof s.raw === 'string' ? s.raw : JSON.stringify(s.raw);
  switch (s.kind) {
    case 'flag':
      return `--${s.name} ${JSON.stringify(raw)}`;
    case 'env':
      return `${s.name}=${JSON.stringify(raw)}`;
    case 'file':
    case 'property':
      return `${s.name} (${raw})`;
  }
}
