/**
 * The format of Kafka's server.properties: java.util.Properties.load, reproduced step by step (its
 * LineReader and loadConvert), so that a file Kafka reads means the same to kch, quirks included:
 *
 * - Natural lines end at \n, \r or \r\n. A logical line continues on the next natural line when it
 *   ends in an odd number of backslashes; that backslash, the line terminator and the whitespace at
 *   the start of the next line are dropped (nothing replaces them: `a, \` + `  b` is `a, b`).
 * - A line whose first non-whitespace character is `#` or `!` is a comment, unless it continues
 *   another line. A comment cannot be continued.
 * - The key ends at the first unescaped `=`, `:` or whitespace (space, \t, \f); whitespace around the
 *   separator is skipped, and one `=` or `:` after whitespace is part of the separator (`a = b`,
 *   `a : b`, `a b` are all a → b). A line with a key only has the empty value.
 * - In keys and values, `\t`, `\n`, `\r`, `\f` and `\uXXXX` are escapes; a backslash before any other
 *   character stands for that character (`\=`, `\:`, `\ `, `\#`, `\\`). A malformed `\u` escape is an
 *   error, as Java's IllegalArgumentException is.
 * - A key given twice keeps its last value.
 *
 * Only the characters are read here: Properties.load(InputStream), which Kafka uses, decodes bytes as
 * ISO-8859-1; the caller decides how the file's bytes became text.
 */

/** A `\uXXXX` escape that Java refuses. */
export class JavaPropertiesError extends Error {
  override readonly name = 'JavaPropertiesError';
}

const isBlank = (c: string) => c === ' ' || c === '\t' || c === '\f';

/** The logical lines of `text`, continuations joined, comments and blank lines dropped (LineReader). */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  let skipWhiteSpace = true;
  /** The line being read continues a previous one: its line terminator is not a blank line. */
  let appendedLineBegin = false;
  let precedingBackslash = false;
  /** After a continuation ending in \r, a \n that follows belongs to the same terminator. */
  let skipLF = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i++]!;
    if (skipLF) {
      skipLF = false;
      if (c === '\n') continue;
    }
    if (skipWhiteSpace) {
      if (isBlank(c)) continue;
      if (!appendedLineBegin && (c === '\r' || c === '\n')) continue;
      skipWhiteSpace = false;
      appendedLineBegin = false;
    }
    if (line.length === 0 && (c === '#' || c === '!')) {
      // A comment: the rest of the natural line, never continued.
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      skipWhiteSpace = true;
      continue;
    }
    if (c !== '\n' && c !== '\r') {
      line += c;
      precedingBackslash = c === '\\' ? !precedingBackslash : false;
      continue;
    }
    if (line.length === 0) {
      // Only reached for the terminator of a continued line that turned out empty.
      skipWhiteSpace = true;
      continue;
    }
    if (precedingBackslash) {
      // The backslash escapes the line terminator: it is dropped, and the next line continues this one.
      line = line.slice(0, -1);
      skipWhiteSpace = true;
      appendedLineBegin = true;
      precedingBackslash = false;
      if (c === '\r') skipLF = true;
      continue;
    }
    lines.push(line);
    line = '';
    skipWhiteSpace = true;
  }
  // At the end of the text a trailing backslash escapes nothing and is dropped.
  if (precedingBackslash) line = line.slice(0, -1);
  if (line.length > 0) lines.push(line);
  return lines;
}

/** Java's loadConvert: the escapes of a key or a value. */
function loadConvert(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i++]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    if (i >= s.length) break;
    const e = s[i++]!;
    if (e === 'u') {
      const hex = s.slice(i, i + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JavaPropertiesError('Malformed \\uxxxx encoding.');
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 4;
    } else if (e === 't') out += '\t';
    else if (e === 'r') out += '\r';
    else if (e === 'n') out += '\n';
    else if (e === 'f') out += '\f';
    else out += e;
  }
  return out;
}

/** One logical line as key and value (Properties.load0). */
function keyValue(line: string): [string, string] {
  let keyLen = 0;
  let valueStart = line.length;
  let hasSeparator = false;
  let precedingBackslash = false;
  while (keyLen < line.length) {
    const c = line[keyLen]!;
    if ((c === '=' || c === ':') && !precedingBackslash) {
      valueStart = keyLen + 1;
      hasSeparator = true;
      break;
    }
    if (isBlank(c) && !precedingBackslash) {
      valueStart = keyLen + 1;
      break;
    }
    precedingBackslash = c === '\\' ? !precedingBackslash : false;
    keyLen++;
  }
  while (valueStart < line.length) {
    const c = line[valueStart]!;
    if (!isBlank(c)) {
      if (hasSeparator || (c !== '=' && c !== ':')) break;
      hasSeparator = true;
    }
    valueStart++;
  }
  return [loadConvert(line.slice(0, keyLen)), loadConvert(line.slice(valueStart))];
}

/**
 * The properties of `text` as java.util.Properties.load reads them, by key (a key given twice keeps
 * its last value). Throws JavaPropertiesError for a malformed `\uXXXX` escape.
 */
export function parseJavaProperties(text: string): Record<string, string> {
  const props: Record<string, string> = Object.create(null);
  for (const line of logicalLines(text)) {
    const [key, value] = keyValue(line);
    props[key] = value;
  }
  return { ...props };
}
