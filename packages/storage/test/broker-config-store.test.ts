/**
 * The BrokerConfigStore (dynamic broker configs) in memory and in ClickHouse (embedded): set, replace
 * and remove per resource; in ClickHouse also kept across a reopen, seen by a second storage over the
 * same data, and readable with SQL.
 */
import { describe, expect, it } from 'vitest';
import { type BrokerConfigStore, MemoryBrokerConfigStore } from '../src/index.js';
import { chdbTestDirectory } from './chdb-directory.js';

const { query, broker } = chdbTestDirectory('kch-broker-configs-');

const sorted = async (store: BrokerConfigStore) =>
  (await store.list()).sort((a, b) => `${a.resource}\n${a.name}`.localeCompare(`${b.resource}\n${b.name}`));

function contract(label: string, make: () => Promise<BrokerConfigStore>): void {
  describe(`BrokerConfigStore: ${label}`, () => {
    it('sets, replaces and removes configs of each resource apart', async () => {
      const store = await make();
      expect(await store.list()).toEqual([]);
      await store.alter('', { 'message.max.bytes': '2000', 'log.cleanup.policy': 'delete,compact' });
      await store.alter('1', { 'message.max.bytes': '5000' });
      await store.alter('', { 'message.max.bytes': '3000', 'log.cleanup.policy': null, 'not.set': null });
      // Any text, tabs and line ends too, is kept exactly.
      await store.alter('2', { custom: 'a\tb\nc\\d' });
      expect(await sorted(store)).toEqual([
        { resource: '', name: 'message.max.bytes', value: '3000' },
        { resource: '1', name: 'message.max.bytes', value: '5000' },
        { resource: '2', name: 'custom', value: 'a\tb\nc\\d' },
      ]);
      await store.alter('1', { 'message.max.bytes': null });
      expect((await store.list()).map((e) => e.resource).sort()).toEqual(['', '2']);
    });
  });
}

contract('memory', async () => new MemoryBrokerConfigStore());
contract('clickhouse (chdb)', async () => (await broker('contract')).brokerConfigs);

describe('dynamic broker configs in ClickHouse', () => {
  it('are kept across a reopen, seen by another storage over the same data, and rows SQL reads', async () => {
    const first = await broker('shared');
    await first.brokerConfigs.alter('', { 'log.message.timestamp.type': 'LogAppendTime' });
    const second = await broker('shared');
    expect(await second.brokerConfigs.list()).toEqual([
      { resource: '', name: 'log.message.timestamp.type', value: 'LogAppendTime' },
    ]);
    await second.brokerConfigs.alter('', { 'log.message.timestamp.type': null });
    expect(await first.brokerConfigs.list()).toEqual([]);
    await first.close();
    const third = await broker('shared');
    await third.brokerConfigs.alter('3', { 'message.max.bytes': '4096' });
    await third.close();
    const fourth = await broker('shared');
    expect(await fourth.brokerConfigs.list()).toEqual([
      { resource: '3', name: 'message.max.bytes', value: '4096' },
    ]);
    // A removal is a row marked deleted, without the value.
    expect(
      await query(
        'SELECT resource, name, value, deleted FROM shared._kch_broker_configs FINAL ORDER BY resource, name',
      ),
    ).toBe('\tlog.message.timestamp.type\t\t1\n3\tmessage.max.bytes\t4096\t0\n');
  });
});
