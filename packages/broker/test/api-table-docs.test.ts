/** The README's table of served APIs is what ApiVersions advertises (scripts/api-table-md.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTableMarkdown, README_PATH, withApiTable } from '../scripts/api-table-md.js';

describe('packages/broker/README.md', () => {
  it('lists every API with the versions the broker serves (npx tsx packages/broker/scripts/api-table-md.ts rewrites it)', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    expect(readme).toBe(withApiTable(readme, apiTableMarkdown()));
    expect(apiTableMarkdown()).toMatch(/\| ConsumerGroupHeartbeat \| 68 \| 0–1 \|/);
  });
});
