/**
 * Command-line arguments as users of Kafka's tools and kcat type them, parsed by node:util parseArgs
 * (strict), with two differences:
 *
 * - A negative number after an option that takes a value is its value: `--shift-by -10`, `-o -5`, as
 *   kafka-consumer-groups.sh and kcat take them. parseArgs alone refuses them as ambiguous (the value
 *   might be a forgotten option), and only accepts `--shift-by=-10`.
 * - Mistakes get one line in kch's words: `unknown option --prot (did you mean --port?)`, `--group needs
 *   a value`, instead of parseArgs' text (which suggests `-- "--prot"`, with a quote left open).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export type ParsedArguments<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** Arguments that do not parse; the message names the argument and what is wrong with it. */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
}

const NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/** parseArgs, strict, allowing positionals, with the two differences above. */
export function parseArguments<O extends OptionsConfig>(
  args: readonly string[],
  options: O,
): ParsedArguments<O> {
  // A first pass that refuses nothing gives the tokens, to check them and to find negative values.
  const { tokens } = parseArgs({
    args: [...args],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const rewritten = [...args];
  /** Indexes of negative values joined to their option. */
  const joinedValues = new Set<number>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!spec)
      throw new ArgumentError(`unknown option ${token.rawName}${suggestion(token.rawName, options)}`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new ArgumentError(`${token.rawName} takes no value`);
      continue;
    }
    if (token.value === undefined) throw new ArgumentError(`${token.rawName} needs a value`);
    // The value came as the next argument (`--group --from-beginning` forgot the group).
    if (!token.inlineValue && token.value.length > 1 && token.value.startsWith('-')) {
      if (NEGATIVE_NUMBER.test(token.value) && args[token.index] === token.rawName) {
        // `--shift-by -10` -> `--shift-by=-10`, the form parseArgs takes.
        rewritten[token.index] = `--${token.name}=${token.value}`;
        joinedValues.add(token.index + 1);
        continue;
      }
      throw new ArgumentError(
        `${token.rawName} needs a value, got the option ${token.value} (if that is the value, write --${token.name}=${token.value})`,
      );
    }
  }
  try {
    return parseArgs({
      args: rewritten.filter((_, i) => !joinedValues.has(i)),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // Not expected after the checks above; parseArgs' own text is better than nothing.
    throw new ArgumentError((e as Error).message);
  }
}

/** ` (did you mean --port?)` for the nearest known long option, or nothing when none is near. */
function suggestion(rawName: string, options: OptionsConfig): string {
  if (!rawName.startsWith('--')) return '';
  const near = nearest(rawName.slice(2), Object.keys(options));
  return near === undefined ? '' : ` (did you mean --${near}?)`;
}

/**
 * The candidate nearest to `word`: one it begins (`boot` for `bootstrap-server`), else one within a
 * few edits (a typo, a swapped pair of letters, `_` for `-`), else undefined.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  if (w.length >= 3) {
    const prefixed = candidates.filter((c) => c.startsWith(w));
    if (prefixed.length === 1) return prefixed[0];
  }
  // Up to a third of the word's letters may be wrong (one for short words, three at most).
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(w.length / 3))) + 1;
  for (const c of candidates) {
    const d = editDistance(w, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Edits (insert, delete, replace, swap two neighbours) from a to b: optimal string alignment. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
