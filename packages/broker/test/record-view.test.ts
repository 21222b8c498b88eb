/** Records as the checks see them: views into the decompressed records that validation walks. */
import { CompressionType, encodeRecordBatch, recordsBody, walkRecords } from '@kch/protocol';
import type { CheckedRecord } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { WalkedRecord } from '../src/ingest/record-view.js';

/** What a check sees of each record of a batch. */
async function seen(compression: CompressionType): Promise<unknown[]> {
  const batch = await encodeRecordBatch({
    compression,
    records: [
      {
        key: Buffer.from('k1'),
        value: Buffer.from('{"a":1}'),
        headers: [{ key: 'h', value: Buffer.from('x') }],
      },
      { key: null, value: null },
      { key: Buffer.alloc(0), value: Buffer.from('v'), headers: [{ key: 'n', value: null }] },
    ],
  });
  const [header, body] = await recordsBody(batch);
  const walked: WalkedRecord[] = [];
  const copy = (r: CheckedRecord & { offsetDelta: number }) => ({
    offsetDelta: r.offsetDelta,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
    headers: r.headers.map((h) => [h.key, h.value?.toString() ?? null]),
  });
  walkRecords(body, header, (r) => walked.push(new WalkedRecord(body, r)));
  // Read after the walk, as the checks do: nothing of the walk's reused view may leak into a record.
  return walked.map(copy);
}

describe('WalkedRecord', () => {
  it.each([CompressionType.None, CompressionType.Gzip, CompressionType.Zstd])(
    'shows each record as it was produced (compression %i)',
    async (compression) => {
      expect(await seen(compression)).toEqual([
        { offsetDelta: 0, key: 'k1', value: '{"a":1}', headers: [['h', 'x']] },
        { offsetDelta: 1, key: null, value: null, headers: [] },
        { offsetDelta: 2, key: '', value: 'v', headers: [['n', null]] },
      ]);
    },
  );
});
