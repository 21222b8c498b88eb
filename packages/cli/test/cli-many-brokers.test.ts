/**
 * `kch broker --node-id`: resolved with the precedence of every option that server properties also
 * set (flags, then KCH_*, then the config file, then node.id of the properties), and handed to the
 * broker, as a client sees it: the node id in Metadata; without one, brokers over one database of a
 * ClickHouse with Keeper are assigned the lowest free id.
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

describe('kch broker --node-id: resolution', () => {
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

  it('lists --node-id in the usage', async () => {
    const r = await runKch(['broker', '--help']);
    expect(r.stdout).toMatch(/--node-id <id>\s+this broker's Kafka node id .*\[KCH_NODE_ID\]/);
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

describe('kch broker: brokers over one database of a ClickHouse with Keeper', () => {
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, '/kch_cli_many');

  it('runs a broker under --node-id and one without beside it, assigned the next free id', async () => {
    const url = keeper.server.url;
    const first = await startKch(brokerArgs(url, '--database', 'many', '--node-id', '3'));
    try {
      // node.id 3 is a live broker's: a second broker asking for it stops with the reason.
      const refused = await runKch(brokerArgs(url, '--database', 'many'), { env: { KCH_NODE_ID: '3' } });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('node.id 3 is in use by a live broker at');
      const second = await startKch(brokerArgs(url, '--database', 'many'));
      try {
        // Metadata of either broker lists both: 3 as given, 1 as the lowest free id.
        for (const kch of [first, second])
          await expect
            .poll(() => metadataBrokers(kch.bootstrap).then((b) => b.map((x) => x.nodeId)), {
              timeout: 15_000,
            })
            .toEqual([1, 3]);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
    }
  });
});
