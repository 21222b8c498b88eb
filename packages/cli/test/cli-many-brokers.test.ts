/**
 * `kch broker --node-id` and `--many-brokers-preview`: resolved with the precedence of every option
 * that server properties also set (flags, then KCH_*, then the config file, then node.id of the
 * properties), and handed to the broker, as a client sees it: the node id in Metadata, and a second
 * broker over the same database admitted only in the preview.
 */
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { useKeeperClickHouse } from '../../storage/test/keeper-clickhouse.js';
import { zookeeperRequirement } from '../../storage/test/zookeeper.js';
import { OptionsError, resolveBrokerOptions } from '../src/options.js';
import { brokerArgs, runKch, startKch } from './kch-process.js';

/** The brokers of the cluster as Metadata lists them, by node id. */
async function metadataBrokers(bootstrap: string): Promise<{ nodeId: number; port: number }[]> {
  const admin = new Kafka({
    clientId: 'many-brokers-test',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    return brokers.map((b) => ({ nodeId: b.nodeId, port: b.port })).sort((a, b) => a.nodeId - b.nodeId);
  } finally {
    await admin.disconnect();
  }
}

describe('kch broker --node-id and --many-brokers-preview: resolution', () => {
  it('takes the node id from the flag, KCH_NODE_ID or node.id of the server properties, in that order', () => {
    const resolve = (flags: Record<string, string | string[] | boolean>, env: NodeJS.ProcessEnv = {}) =>
      resolveBrokerOptions({ storage: 'memory', ...flags }, env, '/somewhere').options.nodeId;
    expect(resolve({})).toBeUndefined();
    expect(resolve({ 'node-id': '3' })).toBe(3);
    expect(resolve({}, { KCH_NODE_ID: '4' })).toBe(4);
    expect(resolve({ override: ['node.id=5'] })).toBe(5);
    expect(resolve({ override: ['broker.id=6'] })).toBe(6);
    // kch's own sources win over the properties, as for the advertised address and the other shared settings.
    expect(resolve({ override: ['node.id=5'] }, { KCH_NODE_ID: '4' })).toBe(4);
    expect(resolve({ 'node-id': '3', override: ['node.id=5'] }, { KCH_NODE_ID: '4' })).toBe(3);
  });

  it('refuses a node id that is not one, naming where it came from', () => {
    expect(() => resolveBrokerOptions({ storage: 'memory', 'node-id': '-1' }, {}, '/somewhere')).toThrow(
      new OptionsError(
        'invalid options:\n  --node-id "-1": must be a node id: a whole number from 0 to 2147483647',
      ),
    );
    expect(() => resolveBrokerOptions({ storage: 'memory' }, { KCH_NODE_ID: 'one' }, '/somewhere')).toThrow(
      /KCH_NODE_ID="one": must be a node id/,
    );
  });

  it('turns the preview on with the bare flag or KCH_MANY_BROKERS_PREVIEW, off by default', () => {
    const resolve = (flags: Record<string, string | boolean>, env: NodeJS.ProcessEnv = {}) =>
      resolveBrokerOptions({ storage: 'memory', ...flags }, env, '/somewhere').options.manyBrokersPreview;
    expect(resolve({})).toBe(false);
    expect(resolve({ 'many-brokers-preview': true })).toBe(true);
    expect(resolve({}, { KCH_MANY_BROKERS_PREVIEW: 'true' })).toBe(true);
    expect(resolve({ 'many-brokers-preview': true }, { KCH_MANY_BROKERS_PREVIEW: 'false' })).toBe(true);
    expect(() => resolve({}, { KCH_MANY_BROKERS_PREVIEW: 'maybe' })).toThrow(
      /KCH_MANY_BROKERS_PREVIEW="maybe": must be true or false/,
    );
  });

  it('lists both in the usage, the preview as a switch', async () => {
    const r = await runKch(['broker', '--help']);
    expect(r.stdout).toMatch(/--node-id <id>\s+this broker's Kafka node id .*\[KCH_NODE_ID\]/);
    expect(r.stdout).toMatch(/--many-brokers-preview\s+preview: .*\[KCH_MANY_BROKERS_PREVIEW\]/);
    const bad = await runKch(['broker', '--many-brokers-preview=yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--many-brokers-preview takes no value');
  });
});

describe('kch broker --node-id: the broker', () => {
  it('answers Metadata as the node of --node-id, which wins over node.id of the properties', async () => {
    const kch = await startKch(brokerArgs('memory', '--node-id', '7', '--override', 'node.id=5'));
    try {
      expect((await metadataBrokers(kch.bootstrap)).map((b) => b.nodeId)).toEqual([7]);
    } finally {
      await kch.stop('SIGKILL');
    }
  });
});

const zookeeper = zookeeperRequirement();

describe('kch broker --many-brokers-preview: two brokers over one database of a ClickHouse with Keeper', () => {
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, '/kch_cli_many');

  it('refuses a second broker without the preview, and runs both with it, each under its node id', async () => {
    const url = keeper.server.url;
    const first = await startKch(
      brokerArgs(url, '--database', 'many', '--node-id', '1', '--many-brokers-preview'),
    );
    try {
      // Without the flag the second broker sees the first and stops with the reason.
      const refused = await runKch(brokerArgs(url, '--database', 'many', '--node-id', '2'));
      expect(refused.code).not.toBe(0);
      const second = await startKch(brokerArgs(url, '--database', 'many', '--many-brokers-preview'), {
        env: { KCH_NODE_ID: '2' },
      });
      try {
        // Metadata of either broker lists both, each under the id it was given.
        await expect
          .poll(() => metadataBrokers(first.bootstrap).then((b) => b.map((x) => x.nodeId)), {
            timeout: 15_000,
          })
          .toEqual([1, 2]);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
    }
  });
});
