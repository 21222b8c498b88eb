/**
 * The principal of a TLS client: its certificate's subject as Java prints it (RFC 2253, most specific
 * part first), mapped by ssl.principal.mapping.rules with the semantics of Kafka's SslPrincipalMapper:
 * the first rule whose pattern matches the whole name gives the principal name; DEFAULT keeps the name.
 */

interface Rule {
  readonly isDefault: boolean;
  readonly pattern?: RegExp;
  readonly replacement?: string;
  readonly toLowerCase?: boolean;
  readonly toUpperCase?: boolean;
}

/** Thrown for rules that cannot be parsed (at start) or when no rule applies to a subject. */
export class PrincipalMappingError extends Error {
  override readonly name = 'PrincipalMappingError';
}

// Kafka's SslPrincipalMapper.RULE_PARSER: a rule is DEFAULT or RULE:pattern/replacement/[LU], the
// pattern and replacement may contain escaped slashes; rules are separated by commas.
const RULE_PARSER = /\s*((DEFAULT)|RULE:((\\.|[^\\/])*)\/((\\.|[^\\/])*)\/([LU]?).*?|(.*?))\s*([,\n]\s*|$)/y;

export function parsePrincipalMappingRules(text: string): Rule[] {
  const rules: Rule[] = [];
  const source = text.trim();
  if (source === '') return [{ isDefault: true }];
  RULE_PARSER.lastIndex = 0;
  while (RULE_PARSER.lastIndex < source.length) {
    const start = RULE_PARSER.lastIndex;
    const m = RULE_PARSER.exec(source);
    if (!m || RULE_PARSER.lastIndex === start) break;
    if (m[8] !== undefined && m[8] !== '') {
      throw new PrincipalMappingError(
        `invalid ssl.principal.mapping.rules: "${m[8]}" is neither DEFAULT nor RULE:pattern/replacement/[LU]`,
      );
    }
    if (m[2]) rules.push({ isDefault: true });
    else if (m[3] !== undefined) {
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${m[3]})$`);
      } catch (e) {
        throw new PrincipalMappingError(
          `invalid ssl.principal.mapping.rules pattern ${m[3]}: ${(e as Error).message}`,
        );
      }
      rules.push({
        isDefault: false,
        pattern,
        replacement: m[5]!.replace(/\\\//g, '/'),
        toLowerCase: m[7] === 'L',
        toUpperCase: m[7] === 'U',
      });
    }
  }
  return rules;
}

/** The principal name of a distinguished name by the rules; throws when no rule applies. */
export function mapPrincipalName(distinguishedName: string, rules: readonly Rule[]): string {
  for (const rule of rules) {
    if (rule.isDefault) return distinguishedName;
    if (!rule.pattern!.test(distinguishedName)) continue;
    let name = distinguishedName.replace(rule.pattern!, rule.replacement!);
    if (rule.toLowerCase) name = name.toLowerCase();
    else if (rule.toUpperCase) name = name.toUpperCase();
    return name;
  }
  throw new PrincipalMappingError(`no ssl.principal.mapping.rules apply to ${distinguishedName}`);
}

const RFC2253_SPECIAL = /[,+"\\<>;]/g;

/**
 * Node prints a subject one attribute per line in certificate order (`C=US\nO=acme\nCN=alice`); Java's
 * X500Principal.getName() writes RFC 2253: reverse order, comma-separated, specials escaped.
 */
export function rfc2253Subject(nodeSubject: string): string {
  return nodeSubject
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .map((line) => {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1).replace(RFC2253_SPECIAL, (c) => `\\${c}`);
      return `${line.slice(0, eq)}=${value}`;
    })
    .join(',');
}
