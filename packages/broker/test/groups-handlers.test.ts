/**
 * The group handlers at every version: requests go through the codec (encode, decode), responses are
 * encoded as the connection encodes them and decoded back, so what a client would read is checked.
 */
import {
  ApiKeys,
  type ApiMessages,
  type ApiName,
  apiByKey,
  ErrorCode,
  encodeLeniently,
  type Init,
  Reader,
  Writer,
} from '@kch/protocol';
import { MemorySecurityStore, memoryStorage } from '@kch/storage';
import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { BrokerContext } from '../src/context.js';
import type { BrokerEvents } from '../src/events.js';
import { CommittedReaders } from '../src/groups/committed-readers.js';
import { GroupCoordinator } from '../src/groups/coordinator.js';
import type { ApiHandler, RequestContext } from '../src/handler.js';
import deleteGroups from '../src/handlers/delete-groups.js';
import describeGroups from '../src/handlers/describe-groups.js';
import findCoordinator from '../src/handlers/find-coordinator.js';
import heartbeat from '../src/handlers/heartbeat.js';
import joinGroup from '../src/handlers/join-group.js';
import leaveGroup from '../src/handlers/leave-group.js';
import listGroups from '../src/handlers/list-groups.js';
import offsetCommit from '../src/handlers/offset-commit.js';
import offsetDelete from '../src/handlers/offset-delete.js';
import offsetFetch from '../src/handlers/offset-fetch.js';
import syncGroup from '../src/handlers/sync-group.js';
import { silentLogger } from '../src/logger.js';
import { CONFIG, partitionExists, subscription } from './groups-helpers.js';

type Req<K extends ApiName> = ApiMessages[K]['request'];
type Res<K extends ApiName> = ApiMessages[K]['response'];

async function makeContext(): Promise<{ broker: BrokerContext; groups: GroupCoordinator }> {
  const events = new EventEmitter<BrokerEvents>();
  const storage = memoryStorage();
  const groups = new GroupCoordinator({
    config: CONFIG,
    storage,
    logger: silentLogger,
    events,
    partitionExists,
  });
  await groups.start();
  // The context's own methods (where a group's coordinator is) over these parts, one broker alone.
  const broker = Object.assign(Object.create(BrokerContext.prototype), {
    config: { ...CONFIG, nodeId: 7 },
    advertisedFor: () => ({ host: 'kch.local', port: 19092 }),
    security: { store: new MemorySecurityStore(), authorizer: undefined },
    groups,
    storage,
    events,
    logger: silentLogger,
    committedReaders: new CommittedReaders(),
  }) as BrokerContext;
  return { broker, groups };
}

/** Sends `request` at `version` through the codec to the handler; returns the decoded response. */
async function call<K extends ApiName>(
  broker: BrokerContext,
  handler: ApiHandler<K>,
  version: number,
  request: Init<Req<K>>,
  clientId = 'test-client',
): Promise<Res<K>> {
  const descriptor = apiByKey(ApiKeys[handler.api])!;
  const w = new Writer();
  encodeLeniently(() => descriptor.request.encode(w, request, version));
  const decoded = descriptor.request.decode(new Reader(w.toBuffer()), version) as Req<K>;
  const ctx: RequestContext = {
    broker,
    connection: {
      id: 1,
      remoteAddress: '::ffff:127.0.0.1',
      remotePort: 50000,
      listener: 'PLAINTEXT',
      securityProtocol: 'PLAINTEXT',
      principal: 'User:ANONYMOUS',
      sasl: undefined,
    },
    header: { requestApiKey: descriptor.apiKey, requestApiVersion: version, correlationId: 1, clientId },
    apiVersion: version,
  } as RequestContext;
  const response = await handler.handle(decoded, ctx);
  const out = new Writer();
  encodeLeniently(() => descriptor.response.encode(out, response as never, version));
  const error = handler.errorResponse(decoded, ErrorCode.UNKNOWN_SERVER_ERROR, ctx);
  encodeLeniently(() => descriptor.response.encode(new Writer(), error as never, version));
  return descriptor.response.decode(new Reader(out.toBuffer()), version) as Res<K>;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('FindCoordinator', () => {
  it.each(range(0, 6))(
    'v%i: this broker coordinates every group; transactions without a coordinator are refused',
    async (v) => {
      const { broker } = await makeContext();
      const group = await call(broker, findCoordinator, v, {
        key: 'g1',
        keyType: 0,
        coordinatorKeys: ['g1', 'g2'],
      });
      if (v < 4) {
        expect(group).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 7, host: 'kch.local', port: 19092 });
      } else {
        expect(group.coordinators.map((c) => [c.key, c.errorCode, c.nodeId, c.host, c.port])).toEqual([
          ['g1', 0, 7, 'kch.local', 19092],
          ['g2', 0, 7, 'kch.local', 19092],
        ]);
      }
      if (v === 0) return; // v0 has no key type
      const txn = await call(broker, findCoordinator, v, { key: 'tx', keyType: 1, coordinatorKeys: ['tx'] });
      const answer = v < 4 ? txn : txn.coordinators[0]!;
      expect(answer).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, nodeId: -1, host: '', port: -1 });
      if (v >= 1) expect(answer.errorMessage).toMatch(/it runs no transaction coordinator/);
    },
  );
});

describe('a group through the handlers', () => {
  it.each(range(0, 9))(
    'JoinGroup v%i, then SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, LeaveGroup',
    async (v) => {
      const { broker, groups } = await makeContext();
      const protocols = [{ name: 'range', metadata: subscription(['orders']) }];
      const joinRequest = {
        groupId: 'g',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: '',
        protocolType: 'consumer',
        protocols,
      };
      let joined = await call(broker, joinGroup, v, joinRequest);
      if (v >= 4) {
        expect(joined.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
        expect(joined.memberId).toMatch(/^test-client-/);
        joined = await call(broker, joinGroup, v, { ...joinRequest, memberId: joined.memberId });
      }
      expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, protocolName: 'range' });
      if (v >= 7) expect(joined.protocolType).toBe('consumer');
      expect(joined.leader).toBe(joined.memberId);
      expect(joined.members.map((m) => m.metadata)).toEqual([subscription(['orders'])]);
      const memberId = joined.memberId;

      const sv = Math.min(v, 5);
      const synced = await call(broker, syncGroup, sv, {
        groupId: 'g',
        generationId: 1,
        memberId,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId, assignment: Buffer.from('assigned') }],
      });
      expect(synced).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.from('assigned') });
      if (sv >= 5) expect(synced).toMatchObject({ protocolType: 'consumer', protocolName: 'range' });

      const hb = await call(broker, heartbeat, Math.min(v, 4), { groupId: 'g', generationId: 1, memberId });
      expect(hb.errorCode).toBe(ErrorCode.NONE);

      for (const cv of range(0, 9)) {
        // v0 commits outside group management: refused while the group has members.
        const committed = await call(broker, offsetCommit, cv, {
          groupId: 'g',
          generationIdOrMemberEpoch: 1,
          memberId,
          topics: [
            {
              name: 'orders',
              partitions: [
                {
                  partitionIndex: 1,
                  committedOffset: BigInt(100 + cv),
                  committedLeaderEpoch: 5,
                  committedMetadata: 'm',
                },
              ],
            },
            {
              name: 'nope',
              partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }],
            },
          ],
        });
        expect(committed.topics.map((t) => t.partitions[0]!.errorCode)).toEqual([
          cv === 0 ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NONE,
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ]);
      }

      for (const fv of range(0, 9)) {
        const request =
          fv >= 8
            ? {
                groups: [
                  { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] },
                  { groupId: 'other', topics: null },
                ],
              }
            : { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] };
        const fetched = await call(broker, offsetFetch, fv, request);
        const partitions = fv >= 8 ? fetched.groups[0]!.topics[0]!.partitions : fetched.topics[0]!.partitions;
        expect(partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
          [0, -1n, ''],
          [1, 109n, 'm'],
        ]);
        if (fv >= 5) expect(partitions[1]!.committedLeaderEpoch).toBe(5);
        if (fv >= 8) expect(fetched.groups[1]).toMatchObject({ groupId: 'other', errorCode: 0, topics: [] });
        if (fv >= 2 && fv < 8) {
          const all = await call(broker, offsetFetch, fv, { groupId: 'g', topics: null });
          expect(all.topics.map((t) => t.name)).toEqual(['orders']);
        }
      }

      const described = await call(broker, describeGroups, Math.min(v, 5), {
        groups: ['g'],
        includeAuthorizedOperations: true,
      });
      expect(described.groups[0]).toMatchObject({
        groupId: 'g',
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
      });
      expect(described.groups[0]!.members[0]).toMatchObject({
        memberId,
        clientId: 'test-client',
        clientHost: '/127.0.0.1',
      });
      if (Math.min(v, 5) >= 3) expect(described.groups[0]!.authorizedOperations).toBe(328);

      const lv = Math.min(v, 5);
      const left = await call(broker, leaveGroup, lv, {
        groupId: 'g',
        memberId,
        members: [{ memberId }, { memberId: 'ghost' }],
      });
      if (lv >= 3) {
        expect(left.errorCode).toBe(ErrorCode.NONE);
        expect(left.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
      } else {
        expect(left.errorCode).toBe(ErrorCode.NONE);
      }
      await new Promise((r) => setTimeout(r, 5));
      expect(groups.groupInfo('g')!.state).toBe('Empty');
      await groups.close();
    },
  );

  it('SyncGroup v5 without protocol type or name is INCONSISTENT_GROUP_PROTOCOL', async () => {
    const { broker } = await makeContext();
    const res = await call(broker, syncGroup, 5, {
      groupId: 'g',
      generationId: 1,
      memberId: 'm',
      protocolType: null,
      protocolName: 'range',
      assignments: [],
    });
    expect(res.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  it('JoinGroup v0-6 answer a failed join with an empty protocol name', async () => {
    const { broker } = await makeContext();
    for (const v of range(0, 9)) {
      const res = await call(broker, joinGroup, v, {
        groupId: '',
        sessionTimeoutMs: 10_000,
        memberId: 'x',
        protocolType: 'consumer',
        protocols: [],
      });
      expect(res).toMatchObject({
        errorCode: ErrorCode.INVALID_GROUP_ID,
        generationId: -1,
        memberId: 'x',
        leader: '',
      });
      expect(res.protocolName).toBe(v >= 7 ? null : '');
    }
  });

  it('LeaveGroup v0-2 of an unknown member answers UNKNOWN_MEMBER_ID', async () => {
    const { broker } = await makeContext();
    for (const v of [0, 1, 2]) {
      expect((await call(broker, leaveGroup, v, { groupId: 'g', memberId: 'm' })).errorCode).toBe(
        ErrorCode.UNKNOWN_MEMBER_ID,
      );
    }
  });
});

describe('admin APIs', () => {
  it('ListGroups, DescribeGroups, OffsetDelete and DeleteGroups at every version', async () => {
    const { broker } = await makeContext();
    await call(broker, offsetCommit, 8, {
      groupId: 'idle',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 3n },
            { partitionIndex: 1, committedOffset: 4n },
          ],
        },
      ],
    });
    for (const v of range(0, 5)) {
      const listed = await call(broker, listGroups, v, { statesFilter: ['empty'], typesFilter: ['classic'] });
      expect(listed.errorCode).toBe(0);
      expect(listed.groups.map((g) => [g.groupId, g.protocolType])).toEqual([['idle', '']]);
      if (v >= 4) expect(listed.groups[0]!.groupState).toBe('Empty');
      if (v >= 5) expect(listed.groups[0]!.groupType).toBe('classic');
    }
    expect((await call(broker, listGroups, 4, { statesFilter: ['Stable'] })).groups).toEqual([]);
    for (const v of range(0, 5)) {
      const d = await call(broker, describeGroups, v, { groups: ['idle', 'unknown'] });
      expect(d.groups.map((g) => [g.groupId, g.errorCode, g.groupState])).toEqual([
        ['idle', 0, 'Empty'],
        ['unknown', 0, 'Dead'],
      ]);
      if (v >= 3) expect(d.groups[0]!.authorizedOperations).toBe(-2147483648);
    }
    const deleted = await call(broker, offsetDelete, 0, {
      groupId: 'idle',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }],
    });
    expect(deleted).toMatchObject({
      errorCode: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
    });
    const missing = await call(broker, offsetDelete, 0, {
      groupId: 'nope',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }],
    });
    expect(missing).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] });
    for (const v of range(0, 2)) {
      const res = await call(broker, deleteGroups, v, { groupsNames: ['idle', 'nope'] });
      expect(res.results.map((r) => [r.groupId, r.errorCode])).toEqual([
        ['idle', v === 0 ? ErrorCode.NONE : ErrorCode.GROUP_ID_NOT_FOUND],
        ['nope', ErrorCode.GROUP_ID_NOT_FOUND],
      ]);
    }
  });
});
