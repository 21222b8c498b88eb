/**
 * The table of the Kafka APIs a broker serves, with their versions, in packages/broker/README.md
 * ("What it serves"): built from the handlers as ApiVersions builds its answer, so the table cannot
 * say other than what the broker advertises. `npx tsx packages/broker/scripts/api-table-md.ts`
 * rewrites it; test/api-table-docs.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { API_VERSIONS } from '@kch/protocol';
import { apiTable } from '../src/api-table.js';
import { HANDLERS } from '../src/handlers/index.js';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));
const BEGIN = '<!-- api-table: written by `npx tsx packages/broker/scripts/api-table-md.ts` -->';
const END = '<!-- /api-table -->';

/** One row per API the codec knows, in key order: the versions served, or why none. */
export function apiTableMarkdown(): string {
  const served = new Map(
    apiTable(HANDLERS)
      .servedVersions()
      .map((v) => [v.apiKey, v]),
  );
  const range = (min: number, max: number) => (min === max ? `${min}` : `${min}–${max}`);
  const rows = [...API_VERSIONS]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api) => {
      const s = served.get(api.apiKey);
      const versions = s ? range(s.minVersion, s.maxVersion) : 'not served';
      return `| ${api.name} | ${api.apiKey} | ${versions} | ${range(api.minVersion, api.maxVersion)} |`;
    });
  return [
    '| API | key | versions served | versions in the codec |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The README with its table replaced by `table`. */
export function withApiTable(readme: string, table: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${README_PATH} has no ${BEGIN} ... ${END} block`);
  return `${readme.slice(0, start + BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README_PATH, withApiTable(readFileSync(README_PATH, 'utf8'), apiTableMarkdown()));
}
