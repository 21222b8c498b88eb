/**
 * One CSV or TabSeparated row as ClickHouse reads it, for topics bound to a table whose values are
 * CSV or TSV lines: splitting a value into its fields (to count and check them) and writing the
 * fields kch adds in front of it (partition, offset, key...).
 *
 * TabSeparated: fields separated by tabs, `\N` is NULL, backslash escapes (`\t`, `\n`, `\\`...).
 * CSV: fields separated by commas, optionally in double quotes with `""` for a quote, unquoted `\N`
 * is NULL. Only what ClickHouse's own parsers do by default.
 */

export type TextFormat = 'CSV' | 'TabSeparated';

/** The fields of a row (`null` for `\N`), or why the text is not one row. */
export type SplitRow = { fields: (string | null)[] } | { error: string };

/** The text of a row without the line end (`\n` or `\r\n`) a producer may have left on it. */
export function stripLineEnd(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

const TSV_ESCAPES: Record<string, string> = {
  b: '\b',
  f: '\f',
  r: '\r',
  n: '\n',
  t: '\t',
  '0': '\0',
  a: '\x07',
  v: '\v',
};

export function splitRow(format: TextFormat, line: string): SplitRow {
  return format === 'CSV' ? splitCsv(line) : splitTsv(line);
}

function splitTsv(line: string): SplitRow {
  if (line.includes('\n')) return { error: 'a TabSeparated value is one line (escape newlines as \\n)' };
  return {
    fields: line.split('\t').map((f) => {
      if (f === '\\N') return null;
      if (!f.includes('\\')) return f;
      return f.replace(/\\(x[0-9a-fA-F]{2}|.)/gs, (_, e: string) =>
        e.length === 3 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : (TSV_ESCAPES[e] ?? e),
      );
    }),
  };
}

function splitCsv(line: string): SplitRow {
  const fields: (string | null)[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      let from = ++i;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return { error: `CSV field ${fields.length + 1} has no closing quote` };
        if (line[q + 1] === '"') {
          value += line.slice(from, q + 1);
          i = from = q + 2;
          continue;
        }
        value += line.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i < line.length && line[i] !== ',') {
        return { error: `CSV field ${fields.length} has text after its closing quote` };
      }
    } else {
      const comma = line.indexOf(',', i);
      const raw = line.slice(i, comma < 0 ? line.length : comma);
      if (/[\r\n]/.test(raw)) return { error: 'a CSV value is one row (quote fields holding line breaks)' };
      fields.push(raw === '\\N' ? null : raw);
      i = comma < 0 ? line.length : comma;
    }
    if (i >= line.length) return { fields };
    i++; // the comma
  }
}

// ---------------------------------------------------------------------------------- writing

/** A CSV field holding `s` (quoted). NUL cannot travel in CSV text, see docs/topics-over-tables.md. */
export function csvString(s: string): string {
  return `"${s.replace(/"/g, '""').replace(/\0/g, '\uFFFD')}"`;
}

/** A ClickHouse array literal of strings, `['a','b']`, as text formats read it inside a field. */
export function arrayLiteral(items: readonly (string | null)[]): string {
  return `[${items
    .map((s) =>
      s === null
        ? 'NULL'
        : `'${s.replace(/[\\'\0\n\t\r]/g, (c) => (c === '\0' ? '\\0' : c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\${c}`))}'`,
    )
    .join(',')}]`;
}
