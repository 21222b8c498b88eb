/**
 * The value of Kafka's `sasl.jaas.config`, parsed as Kafka's JaasConfig parses it: a
 * java.io.StreamTokenizer where everything but whitespace (characters up to space), `;`, `=`, quotes
 * and `/` makes up words, `'...'` and `"..."` are quoted strings with StreamTokenizer's escapes, and
 * `/` starts a comment (`//`, `/* *\/`, or `/` alone, to the end of the line: an unquoted path is cut
 * there, as in Kafka). The format:
 *
 *   <loginModuleClass> <controlFlag> (<optionName>=<optionValue>)*;   (one or more entries)
 *
 * Errors carry Kafka's messages, so an operator sees what Kafka would have said.
 */

export interface JaasEntry {
  loginModule: string;
  controlFlag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: Record<string, string>;
}

export class JaasConfigError extends Error {
  override readonly name = 'JaasConfigError';
}

const EOF = -1;
const WORD = -3;
type CharType = 'whitespace' | 'alpha' | 'quote' | 'comment' | 'ordinary';

/** The syntax table JaasConfig sets up (resetSyntax, wordChars, ordinaryChar, quoteChar, ...). */
function charType(code: number): CharType {
  if (code <= 32) return 'whitespace';
  if (code === 0x3b || code === 0x3d) return 'ordinary'; // ; =
  if (code === 0x2f) return 'comment'; // /
  if (code === 0x22 || code === 0x27) return 'quote';
  if (code <= 128 || code >= 160) return 'alpha';
  return 'ordinary';
}

/** StreamTokenizer's escapes inside a quoted string. */
const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class Tokenizer {
  private i = 0;
  /** WORD, a quote character's code, an ordinary character's code, or EOF. */
  ttype = EOF;
  /** The text of a word or a quoted string; null for an ordinary character. */
  sval: string | null = null;

  constructor(private readonly text: string) {}

  next(): number {
    const t = this.text;
    for (;;) {
      while (this.i < t.length && charType(t.charCodeAt(this.i)) === 'whitespace') this.i++;
      if (this.i >= t.length) return this.set(EOF, null);
      const code = t.charCodeAt(this.i);
      const type = charType(code);
      if (type === 'alpha') {
        const start = this.i;
        while (this.i < t.length && charType(t.charCodeAt(this.i)) === 'alpha') this.i++;
        return this.set(WORD, t.slice(start, this.i));
      }
      if (type === 'quote') return this.quoted(t[this.i++]!);
      if (type === 'comment') {
        if (t[this.i + 1] === '*') {
          const end = t.indexOf('*/', this.i + 2);
          this.i = end < 0 ? t.length : end + 2;
        } else {
          // `//`, or `/` alone: it is a comment character too, so either runs to the end of the line.
          while (this.i < t.length && t[this.i] !== '\n' && t[this.i] !== '\r') this.i++;
        }
        continue;
      }
      this.i++;
      return this.set(code, null);
    }
  }

  private set(ttype: number, sval: string | null): number {
    this.ttype = ttype;
    this.sval = sval;
    return ttype;
  }

  /** A quoted string: to the matching quote, or to the end of the line (where StreamTokenizer stops). */
  private quoted(quote: string): number {
    const t = this.text;
    let out = '';
    while (this.i < t.length) {
      const c = t[this.i]!;
      if (c === quote) {
        this.i++;
        break;
      }
      if (c === '\n' || c === '\r') break;
      this.i++;
      if (c !== '\\' || this.i >= t.length) {
        out += c;
        continue;
      }
      const e = t[this.i++]!;
      if (e >= '0' && e <= '7') {
        // Octal: up to three digits, the third only when the first is 0-3 (the value stays a byte).
        let value = Number(e);
        const maxDigits = e <= '3' ? 3 : 2;
        for (let n = 1; n < maxDigits && t[this.i]! >= '0' && t[this.i]! <= '7'; n++) {
          value = value * 8 + Number(t[this.i++]);
        }
        out += String.fromCharCode(value);
      } else {
        out += ESCAPES[e] ?? e;
      }
    }
    return this.set(quote.charCodeAt(0), out);
  }
}

const CONTROL_FLAGS = ['required', 'requisite', 'sufficient', 'optional'] as const;

/** The login module entries of a `sasl.jaas.config` value; throws JaasConfigError as Kafka would. */
export function parseJaasConfig(text: string): JaasEntry[] {
  const tokens = new Tokenizer(text);
  const entries: JaasEntry[] = [];
  while (tokens.next() !== EOF) {
    const loginModule = tokens.sval;
    if (loginModule === null)
      throw new JaasConfigError(
        `Login module not specified in JAAS config (found ${String.fromCharCode(tokens.ttype)})`,
      );
    if (tokens.next() === EOF)
      throw new JaasConfigError('Login module control flag not specified in JAAS config');
    const flag = tokens.sval;
    if (flag === null)
      throw new JaasConfigError('Login module control flag is not available in the JAAS config');
    const controlFlag = CONTROL_FLAGS.find((f) => f === flag.toLowerCase());
    if (!controlFlag) throw new JaasConfigError(`Invalid login module control flag '${flag}' in JAAS config`);
    const options: Record<string, string> = {};
    while (tokens.next() !== EOF && tokens.ttype !== 0x3b) {
      const key = tokens.sval;
      if (tokens.next() !== 0x3d || tokens.next() === EOF || tokens.sval === null)
        throw new JaasConfigError(`Value not specified for key '${key}' in JAAS config`);
      options[key ?? 'null'] = tokens.sval;
    }
    if (tokens.ttype !== 0x3b) throw new JaasConfigError('JAAS config entry not terminated by semi-colon');
    entries.push({ loginModule, controlFlag, options });
  }
  if (entries.length === 0) throw new JaasConfigError('Login module not specified in JAAS config');
  return entries;
}
