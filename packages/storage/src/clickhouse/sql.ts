/** Quoting for the SQL that the ClickHouse storage writes: identifiers and string literals. */

/** A backquoted identifier: `name`, with backslashes and backquotes escaped. */
export function ident(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** `db`.`table` */
export function tableName(database: string, table: string): string {
  return `${ident(database)}.${ident(table)}`;
}

/**
 * A single-quoted string literal. Backslash and quote are escaped, and so are control characters
 * (as \xHH): chdb hands the query to the engine as a C string, so a raw NUL must never appear in it.
 */
export function str(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  return `'${value.replace(/[\\'\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\\' || c === "'") return `\\${c}`;
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  })}'`;
}

/** An integer literal, checked to be a safe integer (never NaN or a fraction in SQL). */
export function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
  return String(value);
}

/** The column list of an INSERT: ` (a, b)`, or nothing for all columns. */
export function columnList(columns: readonly string[]): string {
  return columns.length === 0 ? '' : ` (${columns.map(ident).join(', ')})`;
}
