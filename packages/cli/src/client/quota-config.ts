/**
 * How kafka-configs.sh reads and prints client quotas, for `kch quotas`: --add-config's `k=v,k=[a,b]`
 * pairs, --delete-config's `k1,k2`, the quota keys of users and clients, values as Java's
 * Double.parseDouble reads them and Double.toString prints them (`1048576.0`, `1.048576E7`), and the
 * entity as it names it (`user-principal 'alice', client-id 'app'`, `the default user-principal`).
 */
import { UsageError } from './errors.js';

/** Kafka's QuotaConfig.userAndClientQuotaConfigs: what users and clients may have. */
export const QUOTA_KEYS = [
  'producer_byte_rate',
  'consumer_byte_rate',
  'request_percentage',
  'controller_mutation_rate',
] as const;

/** The entity types of kafka-configs.sh that are client quota entities, and their protocol names. */
export const ENTITY_TYPES: Readonly<Record<string, string>> = { users: 'user', clients: 'client-id' };

/** A quota entity: each of its types with a name, or null for the default entity of that type. */
export type QuotaEntity = { entityType: string; entityName: string | null }[];

// A comma or `=` outside square brackets (ConfigCommand's lookahead: no `]` before the next `[`).
const OUTSIDE_BRACKETS = '(?=[^\\]]*(?:\\[|$))';

/** ConfigCommand.parseConfigsToBeAdded: `k1=v1,k2=[v1,v2],k3=v3` into pairs, in order. */
export function parseAddConfig(text: string): [string, string][] {
  const items = text.split(new RegExp(`,${OUTSIDE_BRACKETS}`));
  // Java's String.split drops trailing empty strings (`a=1,` is one pair).
  while (items.length > 1 && items.at(-1) === '') items.pop();
  const pairs = items.map((s) => s.split(new RegExp(`\\s*=\\s*${OUTSIDE_BRACKETS}`)));
  if (pairs.some((p) => p.length !== 2))
    throw new UsageError(
      'Invalid entity config: all configs to be added must be in the format "key=val" or  "key=[val1,val2]" to group values which contain commas.',
    );
  return pairs.map(([k, v]) => {
    const key = k!.trim();
    if (!/^[$a-zA-Z0-9._-]*$/.test(key))
      throw new UsageError(`Invalid character found for config key: ${key}`);
    return [key, v!.replace(/[[\]]/g, '').trim()];
  });
}

/** --delete-config values: each a comma-separated list of keys, trimmed. */
export function parseDeleteConfig(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',').map((k) => k.trim()));
}

/** A quota key or a usage error: only quotas here (SCRAM credentials are `kch users`' business). */
export function checkQuotaKeys(keys: readonly string[], what: 'added' | 'deleted'): void {
  const unknown = keys.filter((k) => !(QUOTA_KEYS as readonly string[]).includes(k));
  if (unknown.length === 0) return;
  const scram = unknown.some((k) => /^SCRAM-SHA-(256|512)$/.test(k));
  throw new UsageError(
    `Only quota configs can be ${what} (${QUOTA_KEYS.join(', ')}). Unexpected config names: ${unknown.join(',')}${scram ? '; SCRAM credentials are kch users add and delete' : ''}`,
  );
}

/** Double.parseDouble's grammar (decimal; NaN, Infinity; a trailing d or f), or a usage error. */
export function parseQuotaValue(key: string, value: string): number {
  const s = value.trim();
  const m = /^([+-]?)(NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?$/.exec(s);
  if (!m) throw new UsageError(`Cannot parse quota configuration value for ${key}: ${value}`);
  return Number(`${m[1]}${m[2]}`);
}

/** Java's Double.toString: `1024.0`, `0.5`, `1.048576E7`, `1.0E-4` (shortest digits, as JavaScript's). */
export function javaDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(v);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa, exponent] = v.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

/** ConfigCommand's name of an entity: `user-principal 'alice', client-id 'app'`. */
export function describeEntity(entity: QuotaEntity): string {
  const part = (type: string, label: string) => {
    const e = entity.find((x) => x.entityType === type);
    if (!e) return [];
    return [
      e.entityName === null || e.entityName === '' ? `the default ${label}` : `${label} '${e.entityName}'`,
    ];
  };
  return [...part('user', 'user-principal'), ...part('client-id', 'client-id')].join(', ');
}
