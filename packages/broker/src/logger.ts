/** Structured logging: a message plus fields. Embedders pass their own (pino, winston, console). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** JSON lines on a stream (stderr by default), one object per line: time, level, msg, fields. */
export function jsonLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const min = RANK[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    out.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }, jsonSafe)}\n`,
    );
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return errorFields(value);
  return value;
}

/**
 * An error with the chain of its causes (name, kind or code), each message once: a wrapper that
 * repeats its cause's message (a Kafka error made of a storage error) does not print it twice.
 */
function errorFields(e: Error, outer?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name };
  for (const key of ['kind', 'code'] as const) {
    const v = (e as unknown as Record<string, unknown>)[key];
    if (typeof v === 'string' || typeof v === 'number') out[key] = v;
  }
  if (outer === undefined || !outer.includes(e.message)) out.message = e.message;
  if (e.cause instanceof Error) out.cause = errorFields(e.cause, `${outer ?? ''}\n${e.message}`);
  return out;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
