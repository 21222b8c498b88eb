/** One vitest test per document: runs it with the doc runner against a fresh broker. */
import { expect, it } from 'vitest';
import { confluentKafka, kcat, openssl, PYTHON } from '../../../broker/test/helpers/tools.js';
import { runDoc } from './doc-runner.js';

/**
 * A test that runs `path` (repository-relative) top to bottom. Documents using kcat are skipped,
 * with the reason, where it is not installed (in CI the probe throws instead: .ci/run installs it).
 * Documents running Python with confluent-kafka (`python: true`) run Debian's python3, and are skipped
 * the same way where it lacks python3-confluent-kafka; documents making certificates (`openssl: true`)
 * where openssl is missing. KCH_DOC_TEST_LOG=1 prints each command as it
 * starts.
 */
export function docTest(
  path: string,
  options: { kcat?: boolean; python?: boolean; openssl?: boolean; timeoutMs?: number } = {},
): void {
  it(
    `${path} runs top to bottom as documented`,
    async (ctx) => {
      ctx.skip(options.kcat !== false && !kcat.available, kcat.reason);
      ctx.skip(options.python === true && !confluentKafka.available, confluentKafka.reason);
      ctx.skip(options.openssl === true && !openssl.available, openssl.reason);
      const run = await runDoc(path, {
        python3: options.python ? PYTHON : undefined,
        onCommand: process.env.KCH_DOC_TEST_LOG
          ? (line, command) => process.stderr.write(`${path}:${line}: ${command.split('\n')[0]}\n`)
          : undefined,
      });
      expect(run.ran.length).toBeGreaterThan(0);
    },
    options.timeoutMs ?? 240_000,
  );
}
