/**
 * SubscribedTopicRegex: Kafka compiles it with RE2/J and subscribes the member to every topic whose
 * whole name matches. kch evaluates it with JavaScript's RegExp, anchored at both ends (RE2/J's
 * `matches`). The syntax both share (classes, alternation, repetition, groups) behaves alike; RE2/J
 * refuses backreferences and lookaround, which RegExp accepts, and RegExp knows no `\z`, possessive
 * quantifiers or inline flags such as `(?i)`, which RE2/J accepts (such a pattern is
 * INVALID_REGULAR_EXPRESSION here).
 */
const compiled = new Map<string, RegExp | Error>();

/** The compiled pattern, or the error saying why it is not one. */
export function compileTopicRegex(pattern: string): RegExp | Error {
  let re = compiled.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch (e) {
      re = e as Error;
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** The names the pattern matches in full; none for an invalid pattern. */
export function matchingTopics(pattern: string, names: Iterable<string>): string[] {
  const re = compileTopicRegex(pattern);
  if (re instanceof Error) return [];
  return [...names].filter((n) => re.test(n));
}
