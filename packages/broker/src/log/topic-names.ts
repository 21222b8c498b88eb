/** Kafka's rule (Topic.validate): 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..". */
export function topicNameError(name: string): string | null {
  if (name.length === 0) return 'the topic name is empty';
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (name.length > 249) return `topic name is ${name.length} characters long; the limit is 249`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `topic name "${name}" has characters other than ASCII letters, digits, '.', '_' and '-'`;
  }
  return null;
}
