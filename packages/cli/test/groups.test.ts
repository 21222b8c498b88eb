import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/command.js';
import consume, { runConsume } from '../src/commands/consume.js';
import groups from '../src/commands/groups.js';
import produce from '../src/commands/produce.js';
import topics from '../src/commands/topics.js';
import { freePort, memoryIO, run, startTestBroker, type TestBroker, waitFor } from './client-helpers.js';

let broker: TestBroker;
const kch = (command: typeof groups, args: string[], input?: string) =>
  run(command, args, { bootstrap: broker.bootstrap, input });

/** The rows of a `groups describe` or `reset-offsets` table, as arrays of cells (header first). */
function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => /^\S/.test(l) && !l.startsWith('Consumer group'))
    .map((l) => l.trim().split(/\s+/));
}

/** Runs `kch consume --group` in the background until `stop()`. */
function background(args: string[]) {
  const m = memoryIO('', { KCH_BOOTSTRAP_SERVER: broker.bootstrap });
  const controller = new AbortController();
  const done = runConsume(args, m.io, controller.signal);
  return {
    io: m,
    stop: async () => {
      controller.abort();
      return done;
    },
  };
}

/** `groups describe --json`, or null while the group does not exist. */
async function state(group: string): Promise<{ state: string; members: unknown[] } | null> {
  const r = await kch(groups, ['describe', group, '--json']);
  return r.code === ExitCode.OK ? JSON.parse(r.stdout) : null;
}

async function describeJson(group: string) {
  const r = await kch(groups, ['describe', group, '--json']);
  expect(r.code).toBe(ExitCode.OK);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  broker = await startTestBroker();
  await kch(topics, ['create', 'orders', '--partitions', '2']);
  // 3 records in partition 0, 2 in partition 1.
  await kch(produce, ['orders', '-p', '0'], 'a\nb\nc\n');
  await kch(produce, ['orders', '-p', '1'], 'd\ne\n');
});
afterAll(() => broker?.close());

describe('kch groups: arguments', () => {
  it('prints its usage for --help', async () => {
    const r = await kch(groups, ['--help']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^Usage: kch groups <command>/);
  });

  it.each([
    [[], /missing command/],
    [['lag'], /unknown command "lag"/],
    [['describe'], /"groups describe" needs a group id/],
    [['list', 'g'], /"groups list" takes no group id/],
    [['describe', 'g', '--to-earliest'], /--to-earliest does not apply to "groups describe"/],
    [['reset-offsets', 'g', '--topic', 't'], /needs where to: --to-earliest/],
    [['reset-offsets', 'g', '--to-earliest'], /needs --topic <topic> or --all-topics/],
    [
      ['reset-offsets', 'g', '--topic', 't', '--all-topics', '--to-latest'],
      /give --topic or --all-topics, not both/,
    ],
    [['reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest'], /give one of --to-earliest/],
    [['reset-offsets', 'g', '--topic', 't', '--to-offset', 'x'], /--to-offset needs an integer, got "x"/],
    [['reset-offsets', 'g', '--topic', 't:a', '--to-latest'], /--topic t: partition needs an integer/],
    [['reset-offsets', 'g', '--topic', 't', '--to-latest', '--execute', '--dry-run'], /contradict/],
    [['reset-offsets', 'g', '--topic', 't', '--to-datetime', 'soon'], /--to-datetime needs milliseconds/],
  ])('refuses %j with the usage and exit 2', async (args, message) => {
    const r = await kch(groups, args);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: kch groups');
  });

  it('exits 69 with the reason when no broker is reachable', async () => {
    const port = await freePort();
    const r = await run(groups, ['list', '-b', `127.0.0.1:${port}`]);
    expect(r.code).toBe(ExitCode.UNAVAILABLE);
    expect(r.stderr).toContain(`cannot connect to 127.0.0.1:${port}: connection refused`);
  });
});

describe('kch groups', () => {
  it('describes the lag of a group that consumed with commits', async () => {
    const consumed = await kch(consume, [
      'orders',
      '--group',
      'billing',
      '--from-beginning',
      '--exit-at-end',
    ]);
    expect(consumed.code).toBe(ExitCode.OK);
    await kch(produce, ['orders', '-p', '1'], 'f\ng\n');

    const r = await kch(groups, ['describe', 'billing']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout.split('\n')[0]).toBe("Consumer group 'billing' has no active members.");
    expect(rows(r.stdout)).toEqual([
      [
        'GROUP',
        'TOPIC',
        'PARTITION',
        'CURRENT-OFFSET',
        'LOG-END-OFFSET',
        'LAG',
        'CONSUMER-ID',
        'HOST',
        'CLIENT-ID',
      ],
      ['billing', 'orders', '0', '3', '3', '0', '-', '-', '-'],
      ['billing', 'orders', '1', '2', '4', '2', '-', '-', '-'],
    ]);
    // Columns line up under their headers.
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('GROUP') || l.startsWith('billing'));
    const at = lines[0]!.indexOf('LAG');
    expect(lines.slice(1).map((l) => l.slice(at, at + 1))).toEqual(['0', '2']);
  });

  it('lists groups one per line, or as JSON with their state', async () => {
    const r = await kch(groups, ['list']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout.split('\n')).toContain('billing');
    const json = JSON.parse((await kch(groups, ['list', '--json'])).stdout);
    expect(json).toContainEqual({
      group: 'billing',
      type: 'classic',
      state: 'Empty',
      protocolType: 'consumer',
    });
  });

  it('lists KIP-848 consumer groups with their type', async () => {
    const joined = broker.broker.context.groups.consumerGroupHeartbeat({
      apiVersion: 0,
      groupId: 'kip848',
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: ['orders'],
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: [],
      clientId: 'test',
      clientHost: '127.0.0.1',
    });
    expect(joined.errorCode).toBe(0);
    const json = JSON.parse((await kch(groups, ['list', '--json'])).stdout);
    expect(json).toContainEqual({
      group: 'kip848',
      type: 'consumer',
      state: 'Stable',
      protocolType: 'consumer',
    });
  });

  it('says so when the group does not exist', async () => {
    const r = await kch(groups, ['describe', 'nobody']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain(
      'consumer group "nobody" does not exist; list the groups with `kch groups list`',
    );
  });

  it('shows the members of an active group and which partitions they own', async () => {
    const member = background(['orders', '--group', 'watchers', '--from-beginning']);
    try {
      await waitFor(async () => (await state('watchers'))?.state === 'Stable', 'a stable group');
      const r = await kch(groups, ['describe', 'watchers']);
      const table = rows(r.stdout);
      expect(table).toHaveLength(3);
      for (const row of table.slice(1)) {
        expect(row[6]).toMatch(/^kch-cli-/);
        expect(row[7]).toBe('/127.0.0.1');
        expect(row[8]).toBe('kch-cli');
      }
      const json = await describeJson('watchers');
      expect(json).toMatchObject({ state: 'Stable', protocolType: 'consumer', protocol: 'range' });
      expect(json.members[0].assignment).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    } finally {
      expect(await member.stop()).toBe(ExitCode.OK);
    }
    // Stopping left the group (no wait for the session timeout) after committing.
    const after = await describeJson('watchers');
    expect(after.state).toBe('Empty');
    expect(after.members).toEqual([]);
    expect(after.offsets.map((o: { currentOffset: number }) => o.currentOffset)).toEqual([3, 4]);
  });

  it('refuses to reset the offsets of a group with active members', async () => {
    const member = background(['orders', '--group', 'busy']);
    try {
      await waitFor(async () => (await state('busy'))?.state === 'Stable', 'a stable group');
      const r = await kch(groups, [
        'reset-offsets',
        'busy',
        '--topic',
        'orders',
        '--to-earliest',
        '--execute',
      ]);
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stderr).toContain(
        "Assignments can only be reset if the group 'busy' is inactive, but the current state is Stable.",
      );
      expect(r.stderr).toContain('Stop its 1 consumer and try again');
    } finally {
      await member.stop();
    }
  });

  it('resets offsets: a dry run changes nothing, --execute commits', async () => {
    const dry = await kch(groups, ['reset-offsets', 'billing', '--topic', 'orders', '--to-earliest']);
    expect(dry.code).toBe(ExitCode.OK);
    expect(rows(dry.stdout)).toEqual([
      ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
      ['billing', 'orders', '0', '0'],
      ['billing', 'orders', '1', '0'],
    ]);
    expect(dry.stderr).toContain('Dry run: no offsets were changed');
    expect(
      (await describeJson('billing')).offsets.map((o: { currentOffset: number }) => o.currentOffset),
    ).toEqual([3, 2]);

    const exec = await kch(groups, [
      'reset-offsets',
      'billing',
      '--topic',
      'orders:1',
      '--to-earliest',
      '--execute',
    ]);
    expect(exec.code).toBe(ExitCode.OK);
    expect(rows(exec.stdout).slice(1)).toEqual([['billing', 'orders', '1', '0']]);
    expect(exec.stderr).toBe('');
    const after = await describeJson('billing');
    expect(
      after.offsets.map((o: { currentOffset: number; lag: number }) => [o.currentOffset, o.lag]),
    ).toEqual([
      [3, 0],
      [0, 4],
    ]);
    // The group now reads partition 1 again from the start.
    const again = await kch(consume, ['orders', '--group', 'billing', '-e']);
    expect(again.stdout.split('\n').filter((l) => l)).toEqual(['d', 'e', 'f', 'g']);
  });

  it('resets to an offset (kept within the log), by time, by shifting, and to the end', async () => {
    const to = await kch(groups, [
      'reset-offsets',
      'billing',
      '--topic',
      'orders',
      '--to-offset',
      '3',
      '--execute',
    ]);
    expect(rows(to.stdout).slice(1)).toEqual([
      ['billing', 'orders', '0', '3'],
      ['billing', 'orders', '1', '3'],
    ]);

    const clamped = await kch(groups, [
      'reset-offsets',
      'billing',
      '--topic',
      'orders:0',
      '--to-offset',
      '99',
    ]);
    expect(rows(clamped.stdout).slice(1)).toEqual([['billing', 'orders', '0', '3']]);
    expect(clamped.stderr).toContain(
      'New offset (99) is higher than latest offset for topic partition orders-0. Value will be set to 3',
    );

    const shifted = await kch(groups, [
      'reset-offsets',
      'billing',
      '--all-topics',
      '--shift-by=-2',
      '--json',
    ]);
    expect(JSON.parse(shifted.stdout)).toEqual({
      group: 'billing',
      executed: false,
      offsets: [
        { topic: 'orders', partition: 0, newOffset: 1 },
        { topic: 'orders', partition: 1, newOffset: 1 },
      ],
    });
    // As kafka-consumer-groups.sh takes it: the negative number as an argument of its own.
    const separate = await kch(groups, [
      'reset-offsets',
      'billing',
      '--all-topics',
      '--shift-by',
      '-2',
      '--json',
    ]);
    expect(separate).toMatchObject({ code: ExitCode.OK, stderr: shifted.stderr, stdout: shifted.stdout });

    const past = await kch(groups, [
      'reset-offsets',
      'billing',
      '--topic',
      'orders',
      '--to-datetime',
      '2000-01-01T00:00:00Z',
    ]);
    expect(
      rows(past.stdout)
        .slice(1)
        .map((r) => r[3]),
    ).toEqual(['0', '0']);
    const future = await kch(groups, [
      'reset-offsets',
      'billing',
      '--topic',
      'orders',
      '--to-datetime',
      '2100-01-01T00:00:00Z',
    ]);
    expect(
      rows(future.stdout)
        .slice(1)
        .map((r) => r[3]),
    ).toEqual(['3', '4']);

    await kch(groups, ['reset-offsets', 'billing', '--topic', 'orders', '--to-latest', '--execute']);
    expect((await describeJson('billing')).offsets.map((o: { lag: number }) => o.lag)).toEqual([0, 0]);
  });

  it('refuses to reset for a topic that does not exist', async () => {
    const r = await kch(groups, ['reset-offsets', 'billing', '--topic', 'ghost', '--to-earliest']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('topic "ghost" does not exist');
  });

  it('shares partitions between two members with the range assignor', async () => {
    await kch(topics, ['create', 'shared', '--partitions', '4']);
    const first = background(['shared', '--group', 'pair', '-v']);
    let second: ReturnType<typeof background> | undefined;
    try {
      await waitFor(async () => (await state('pair'))?.state === 'Stable', 'a stable group of one');
      second = background(['shared', '--group', 'pair']);
      // The first member learns of the rebalance from its next heartbeat (every 3 s) and rejoins.
      await waitFor(async () => {
        const d = await state('pair');
        return d?.state === 'Stable' && d.members.length === 2;
      }, 'a stable group of two');
      expect(first.io.stderr.text()).toContain('group "pair" is rebalancing; joining again');
      const d = await describeJson('pair');
      const owned = d.members
        .map((m: { memberId: string; assignment: { partitions: number[] }[] }) => [
          m.memberId,
          m.assignment[0]?.partitions ?? [],
        ])
        .sort(([a]: [string], [b]: [string]) => (a < b ? -1 : 1))
        .map(([, p]: [string, number[]]) => p);
      // Range: members sorted by id, contiguous halves.
      expect(owned).toEqual([
        [0, 1],
        [2, 3],
      ]);
    } finally {
      await Promise.all([first.stop(), second?.stop()]);
    }
  });

  it('deletes an inactive group', async () => {
    await kch(consume, ['orders', '--group', 'temporary', '-e']);
    const r = await kch(groups, ['delete', 'temporary']);
    expect(r).toMatchObject({
      code: ExitCode.OK,
      stdout: "Deletion of requested consumer groups ('temporary') was successful.\n",
    });
    expect((await kch(groups, ['list'])).stdout.split('\n')).not.toContain('temporary');
    const again = await kch(groups, ['delete', 'temporary']);
    expect(again.code).toBe(ExitCode.FAILURE);
    expect(again.stderr).toContain('GROUP_ID_NOT_FOUND');
  });
});
