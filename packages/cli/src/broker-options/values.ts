/**
 * The zod types of option values that come as text from flags and the environment, and as JSON from
 * the config file: numbers, booleans, key=value settings, and the structured options (views, topics,
 * tables) checked with the broker's and the storage's own schemas.
 */
import { type DeclaredTopic, declaredTopicSchema } from '@kch/broker';
import { tablesConfigSchema, viewDefinitionSchema } from '@kch/storage';
import { z } from 'zod';

/** Whole numbers may come as strings (flags, environment) or numbers (the config file). */
export const wholeNumber = (min: number, max: number, what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: `must be ${what}` })
      .int({ error: `must be ${what}` })
      .min(min, { error: `must be ${what}` })
      .max(max, { error: `must be ${what}` }),
  );

export const port = (what = 'a port number from 0 to 65535') => wholeNumber(0, 65535, what);

export const boolean = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(s)) return true;
    if (['false', 'no', '0', 'off'].includes(s)) return false;
    return v;
  },
  z.boolean({ error: 'must be true or false' }),
);

/**
 * Settings by name: `k=v` strings (flags, env), a list of them, or an object (config file); values stay
 * strings. `example` shows a pair in the error.
 */
function keyValuePairs(example: string) {
  return z.preprocess(
    (v) => {
      if (v === undefined) return v;
      const entries: [string, string][] = [];
      const add = (s: unknown) => {
        if (typeof s !== 'string') return false;
        for (const part of s.split(',')) {
          const p = part.trim();
          if (p === '') continue;
          const i = p.indexOf('=');
          if (i <= 0) return false;
          entries.push([p.slice(0, i).trim(), p.slice(i + 1).trim()]);
        }
        return true;
      };
      if (typeof v === 'string') return add(v) ? Object.fromEntries(entries) : v;
      if (Array.isArray(v)) return v.every(add) ? Object.fromEntries(entries) : v;
      if (typeof v === 'object' && v !== null)
        return Object.fromEntries(
          Object.entries(v).map(([k, x]) => [k, typeof x === 'number' ? String(x) : x]),
        );
      return v;
    },
    z.record(
      z.string().min(1),
      z.string({ error: `values must be strings, e.g. "${example.split('=')[1]}"` }),
      {
        error: `must be key=value pairs, e.g. ${example}`,
      },
    ),
  );
}

/** Topic config defaults. */
export const topicConfig = keyValuePairs('retention.ms=86400000');

/** Server settings of embedded ClickHouse (`clickhouseStorage({ chdbSettings })`). */
export const chdbSettings = keyValuePairs('max_server_memory_usage=2147483648');

/**
 * Structured options come as JSON in the config file, or as JSON text in a flag or an environment
 * variable. Text that is not JSON is left as it is, for the schema to refuse with its own message.
 */
function fromJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/** JSON has no multi-line strings: a view's `select` may come as a list of lines. */
function selectLinesJoined(item: unknown): unknown {
  if (typeof item !== 'object' || item === null) return item;
  const select = (item as { select?: unknown }).select;
  if (!Array.isArray(select) || !select.every((l) => typeof l === 'string')) return item;
  return { ...item, select: select.join('\n') };
}

/**
 * Views declared for the broker to create at start: a JSON array (the config file's, or JSON text in a
 * flag or KCH_VIEWS), each checked with the storage's own schema and named in messages.
 */
export const views = z
  .preprocess(
    fromJsonText,
    z.array(z.unknown(), {
      error: 'must be a JSON array of views: [{ "name": ..., "topic": ..., "select": ... }]',
    }),
  )
  .transform((list, ctx) =>
    list.map((item, i) => {
      const parsed = viewDefinitionSchema.safeParse(selectLinesJoined(item));
      if (parsed.success) return parsed.data;
      const label = (item as { name?: unknown } | null)?.name;
      for (const issue of parsed.error.issues)
        ctx.addIssue({
          code: 'custom',
          message: `view ${typeof label === 'string' ? label : i}: ${issue.path.join('.') || 'definition'}: ${issue.message}`,
        });
      return z.NEVER;
    }),
  )
  .refine((list) => new Set(list.map((v) => v.name)).size === list.length, {
    error: 'two views have the same name',
  });

/**
 * Topics declared for the broker (its `topics` option): a JSON object by topic name (the config
 * file's, or JSON text in a flag or KCH_TOPICS), each checked with the broker's own schema and named in
 * messages. `schema` is a JSON Schema object here; zod schemas are for code that calls createBroker.
 */
export const topics = z
  .preprocess(
    fromJsonText,
    z.record(z.string(), z.unknown(), {
      error: 'must be a JSON object of topics, e.g. { "orders": { "table": "shop.orders" } }',
    }),
  )
  .transform((declared, ctx) => {
    const out: Record<string, DeclaredTopic> = {};
    for (const [name, spec] of Object.entries(declared)) {
      const parsed = declaredTopicSchema.safeParse(spec);
      if (parsed.success) out[name] = parsed.data;
      else
        for (const issue of parsed.error.issues)
          ctx.addIssue({
            code: 'custom',
            message: `topic ${name}: ${issue.path.join('.') || 'declaration'}: ${issue.message}`,
          });
    }
    return out;
  });

/**
 * The integration `tables` list (the shape of a Kafka engine or sink connector config), checked with
 * the storage's own schema; the broker command creates the tables and binds their topics at start.
 */
export const tables = z.preprocess(fromJsonText, z.unknown()).transform((list, ctx) => {
  const parsed = tablesConfigSchema.safeParse(list);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues)
    ctx.addIssue({ code: 'custom', message: `${issue.path.join('.') || 'tables'}: ${issue.message}` });
  return z.NEVER;
});
