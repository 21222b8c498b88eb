/**
 * ListGroups' StatesFilter and TypesFilter (v4+, v5+), as Kafka applies them to groups of either
 * protocol: case-insensitive, an empty filter lists all.
 */
export function listFilter(
  statesFilter: readonly string[],
  typesFilter: readonly string[],
): (type: 'classic' | 'consumer', state: string) => boolean {
  const states = new Set(statesFilter.map((s) => s.toLowerCase()));
  const types = new Set(typesFilter.map((t) => t.toLowerCase()));
  return (type, state) =>
    (types.size === 0 || types.has(type)) && (states.size === 0 || states.has(state.toLowerCase()));
}
