/**
 * SubscribedTopicRegex: Kafka compiles it with RE2/J and subscribes the member to every topic whose
 * whole name matches (`Pattern.matcher(topic).matches()`). kch uses re2js, RE2/J's JavaScript port:
 * the same syntax, and matching in time linear in the name, so no pattern a client sends can stall
 * the broker (JavaScript's own RegExp backtracks: `(a+)+b` would take forever on a long name).
 */
import { RE2JS } from 're2js';

const compiled = new Map<string, RE2JS | Error>();

/** The compiled pattern, or an Error whose message is RE2/J's description of what is wrong. */
export function compileTopicRegex(pattern: string): RE2JS | Error {
  let re = compiled.get(pattern);
  if (!re) {
    try {
      re = RE2JS.compile(pattern);
    } catch (e) {
      const d = (e as { getDescription?: () => string }).getDescription?.();
      re = new Error(d ?? (e as Error).message);
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
  return [...names].filter((n) => re.matches(n));
}
