/**
 * Client quotas as Kafka enforces them: the rate and throttle arithmetic against Kafka's own unit tests
 * (QuotaUtilsTest, RateTest, ClientQuotaManagerTest), which quota applies to whom, DescribeClientQuotas and
 * AlterClientQuotas through the codec with Kafka's validation and errors, and over TCP: KIP-219 muting,
 * and a kafkajs producer and consumer held to their byte rates.
 */
import { RawClient } from '@kch/kafka-connection';
import { ApiKeys, ErrorCode, encodeRecordBatchSync } from '@kch/protocol';
import { type ClientQuota, memoryStorage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { apiTable } from '../src/api-table.js';
import { createBroker } from '../src/broker.js';
import type { BrokerContext } from '../src/context.js';
import type { RequestEvent } from '../src/events.js';
import alterClientQuotas from '../src/handlers/alter-client-quotas.js';
import describeClientQuotas from '../src/handlers/describe-client-quotas.js';
import { HANDLERS } from '../src/handlers/index.js';
import { silentLogger } from '../src/logger.js';
import { brokerMetrics } from '../src/metrics.js';
import { ClientQuotaManager } from '../src/quotas/client-quota-manager.js';
import { ClientQuotas, type QuotaRequest } from '../src/quotas/client-quotas.js';
import { QuotaCallback, UNLIMITED } from '../src/quotas/quota-callback.js';
import { Rate, throttleTimeMs } from '../src/quotas/rate.js';
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_NAME,
  PatternType,
  ResourceType,
} from '../src/security/acl-codes.js';
import { adminBroker, call, versionsOf } from './admin-helpers.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';

const WINDOW = { samples: 11, windowMs: 1000 };
const INVALID = ErrorCode.INVALID_REQUEST;

type EntitySpec = [user: string | null | undefined, clientId: string | null | undefined];
/** A stored entity: a name, null for the default, undefined when the entity has no such part. */
function entity([user, clientId]: EntitySpec): Record<string, string | null> {
  return { ...(user !== undefined && { user }), ...(clientId !== undefined && { 'client-id': clientId }) };
}

describe('rate and throttle time, as Kafka computes them', () => {
  it('throttles (rate - bound) / bound * window, rounded half up (QuotaUtilsTest)', () => {
    expect(throttleTimeMs(16.5, 16.5, 10_000)).toBe(0);
    expect(throttleTimeMs(16.5, 20.4, 10_000)).toBeLessThan(0);
    // The window of 3 samples is 2 s: (100 - 50) / 50 * 2000.
    expect(throttleTimeMs(100, 50, 2000)).toBe(2000);
    // Bounded (the request quota): below the bound, and at it.
    expect(throttleTimeMs(55, 50, 1000, 500)).toBe(100);
    expect(throttleTimeMs(100, 50, 9000, 500)).toBe(500);
  });

  it('measures the first window over samples - 1 windows more (RateTest)', () => {
    for (const [samples, seconds] of [
      [1, 1],
      [1, 11],
      [11, 1],
      [11, 11],
    ] as const) {
      const rate = new Rate({ samples, windowMs: seconds * 1000 });
      rate.record(50, 0);
      const at = seconds * 1000 - 1;
      expect(rate.measure(at)).toBeCloseTo(50 / (at / 1000 + (samples - 1) * seconds), 6);
    }
  });

  it('keeps a window overlapping the start of the monitored one (RateTest: 10-11 events/s)', () => {
    const rate = new Rate({ samples: 2, windowMs: 1000 });
    const steps = [0, 99, 100, 100, 100, 100, 100, 100, 100, 100, 100];
    let now = 0;
    for (const step of steps) {
      now += step;
      rate.record(1, now);
    }
    now += 101;
    for (const step of steps) {
      now += step;
      rate.record(1, now);
      const observed = rate.measure(now);
      expect(observed).toBeGreaterThanOrEqual(10);
      expect(observed).toBeLessThanOrEqual(11);
      expect(rate.measure(now)).toBe(observed);
    }
  });

  it('throttles a spike for 2100 ms and forgives it once it leaves the window (testQuotaViolation)', () => {
    let now = 1_700_000_000_000;
    const m = new ClientQuotaManager('Produce', WINDOW, Number.POSITIVE_INFINITY, () => now);
    m.configure(
      QuotaCallback.of(
        [{ entity: { 'client-id': null }, values: { producer_byte_rate: 500 } }],
        'producer_byte_rate',
      ),
    );
    for (let i = 0; i < 10; i++) {
      expect(m.recordAndGetThrottleTimeMs('ANONYMOUS', 'unknown', 400, now)).toBe(0);
      now += 1000;
    }
    // 400 * 10 + 2300 = 6300 bytes over 10.5 s = 600/s: (600 - 500) / 500 * 10.5 s.
    now += 500;
    expect(m.recordAndGetThrottleTimeMs('ANONYMOUS', 'unknown', 2300, now)).toBe(2100);
    now += 2100;
    for (let i = 0; i < 10; i++) {
      m.recordAndGetThrottleTimeMs('ANONYMOUS', 'unknown', 400, now);
      now += 1000;
    }
    expect(m.recordAndGetThrottleTimeMs('ANONYMOUS', 'unknown', 0, now)).toBe(0);
  });

  it('bounds the request quota at one window, not the byte rates', () => {
    const now = 0;
    const stored = [{ entity: { user: null }, values: { producer_byte_rate: 100, request_percentage: 1 } }];
    const quotas = new ClientQuotas(memoryStorage().security!, { now: () => now });
    quotas.apply(stored);
    const ctx = request('User:alice', 'app', 100_000);
    // 100 000 bytes over 10 s against 100/s: (10 000 - 100) / 100 * 10 s.
    expect(quotas.throttleProduce(ctx, 1)).toBe(990_000);
    // 50 ms of handling over 10 s is 0.5 % of a thread: under 1 %. 500 ms more is 5.5 %: 45 s, bounded at 1 s.
    quotas.recordRequestTime(request('User:alice', 'app'), {}, 50);
    const busy = request('User:alice', 'app');
    quotas.recordRequestTime(busy, {}, 500);
    expect(busy.requestThrottleTimeMs).toBe(1000);
  });
});

/** A request as the quotas see it. */
function request(
  principal: string,
  clientId: string | null,
  requestSize = 0,
  apiKey: number = ApiKeys.Metadata,
) {
  const r: QuotaRequest = {
    connection: { principal },
    header: { requestApiKey: apiKey, clientId },
    requestSize,
  };
  return r;
}

describe('which quota applies (ClientQuotaManagerTest.testQuotaConfigPrecedence)', () => {
  it('takes the most specific entity, shares user quotas across client ids, and follows changes', () => {
    const now = 1_000_000;
    const m = new ClientQuotaManager('Produce', WINDOW, Number.POSITIVE_INFINITY, () => now);
    const quotas = new Map<string, ClientQuota>();
    const update = (spec: EntitySpec, bound: number | null) => {
      const e = entity(spec);
      const key = JSON.stringify(e);
      if (bound === null) quotas.delete(key);
      else quotas.set(key, { entity: e, values: { producer_byte_rate: bound } });
      m.configure(QuotaCallback.of([...quotas.values()], 'producer_byte_rate'));
    };
    /** Kafka's checkQuota: the bound, the most in a window, and whether 11 times `value` is throttled. */
    const check = (user: string, clientId: string, bound: number, value: number, throttled: boolean) => {
      expect(m.quota(user, clientId)).toBe(bound);
      expect(m.maxValueInQuotaWindow(user, clientId)).toBe(bound < UNLIMITED ? bound * 10 : Number.MAX_VALUE);
      const ms = m.enabled ? m.recordAndGetThrottleTimeMs(user, clientId, value * 11, now) : 0;
      expect(ms > 0, `${user}/${clientId} throttled ${ms} ms`).toBe(throttled);
    };
    check('userA', 'client1', UNLIMITED, 1000, false);
    update([null, undefined], 1000);
    update([undefined, null], 2000);
    update([null, null], 3000);
    update(['userA', undefined], 4000);
    update(['userA', 'client1'], 5000);
    update(['userB', undefined], 6000);
    update(['userB', 'client1'], 7000);
    update(['userB', null], 8000);
    update(['userC', undefined], 10000);
    update([undefined, 'client1'], 9000);

    check('userA', 'client1', 5000, 4500, false); // <user, client> before <user>
    check('userA', 'client2', 4000, 4500, true); // <user> before <client> and defaults
    check('userA', 'client3', 4000, 0, true); // <user> is shared by the user's clients
    check('userA', 'client1', 5000, 0, false); // <user, client> is its own
    check('userB', 'client1', 7000, 8000, true);
    check('userB', 'client2', 8000, 7000, false); // <user, default client>: one per client
    check('userB', 'client3', 8000, 7000, false);
    check('userD', 'client1', 3000, 3500, true); // <default user, default client>
    check('userD', 'client2', 3000, 2500, false);
    check('userE', 'client1', 3000, 2500, false);

    update([null, null], null); // back to the <default user> quota, under other tags: a new count
    check('userD', 'client1', 1000, 0, false);
    check('userE', 'client4', 1000, 1500, true);
    check('userF', 'client4', 1000, 800, false); // <default user> is shared by the user's clients
    check('userF', 'client5', 1000, 800, true);

    update([null, undefined], null); // back to <default client>, shared by that client id of all users
    check('userF', 'client4', 2000, 0, false);
    check('userF', 'client5', 2000, 0, false);
    check('userF', 'client5', 2000, 2500, true);
    check('userG', 'client5', 2000, 0, true);

    update(['userA', undefined], 8000);
    update(['userA', 'client1'], 10000);
    check('userA', 'client2', 8000, 0, false);
    check('userA', 'client2', 8000, 4500, true); // the new bound, the earlier values
    check('userA', 'client1', 10000, 0, false);
    check('userA', 'client1', 10000, 6000, true);
    update(['userA', 'client1'], null);
    check('userA', 'client6', 8000, 0, true); // the user's shared quota
    update(['userA', 'client6'], 11000);
    check('userA', 'client6', 11000, 8500, false);
    update(['userA', null], 12000);
    update(['userA', 'client6'], null);
    check('userA', 'client6', 12000, 4000, true);
  });

  it('measures nothing until a quota of its key exists; other keys and ip entities are not client quotas', () => {
    const stored: ClientQuota[] = [
      { entity: { ip: null }, values: { connection_creation_rate: 10 } },
      { entity: { user: 'alice' }, values: { consumer_byte_rate: 10 } },
    ];
    expect(QuotaCallback.of(stored, 'producer_byte_rate').enabled).toBe(false);
    expect(QuotaCallback.of(stored, 'consumer_byte_rate').enabled).toBe(true);
    const quotas = new ClientQuotas(memoryStorage().security!);
    quotas.apply([]);
    expect(quotas.active).toBe(false);
    quotas.apply(stored);
    expect(quotas.active).toBe(true);
    expect(quotas.produce.enabled).toBe(false);
  });

  it('names the user by the principal (ANONYMOUS unauthenticated) and a null client id as empty', () => {
    const now = 0;
    const quotas = new ClientQuotas(memoryStorage().security!, { now: () => now });
    quotas.apply([{ entity: { user: 'ANONYMOUS' }, values: { producer_byte_rate: 10 } }]);
    expect(quotas.throttleProduce(request('User:ANONYMOUS', null, 1000), 1)).toBe(90_000);
    expect(quotas.throttleProduce(request('User:bob', null, 1000), 1)).toBe(0);
    expect(quotas.produce.samples().map((s) => [s.user, s.clientId])).toEqual([
      ['ANONYMOUS', ''],
      ['bob', ''],
    ]);
  });

  it('exempts Produce with acks=0 and follower fetches from the request quota; a throttled Fetch takes its bytes back', () => {
    const now = 0;
    const quotas = new ClientQuotas(memoryStorage().security!, { now: () => now });
    quotas.apply([
      { entity: { user: null }, values: { request_percentage: 0.001, consumer_byte_rate: 100 } },
    ]);
    const acks0 = request('User:a', 'c', 0, ApiKeys.Produce);
    quotas.recordRequestTime(acks0, { acks: 0 }, 1000);
    const follower = request('User:a', 'c', 0, ApiKeys.Fetch);
    quotas.recordRequestTime(follower, { replicaId: -1, replicaState: { replicaId: 1 } }, 1000);
    expect([acks0.requestThrottleTimeMs, follower.requestThrottleTimeMs]).toEqual([undefined, undefined]);
    expect(quotas.request.samples()).toEqual([]);
    // 2000 bytes over 10 s against 100/s: throttled 10 s, answered empty, so the bytes do not count.
    const fetch = request('User:a', 'c', 0, ApiKeys.Fetch);
    expect(quotas.throttleFetch(fetch, () => 2000)).toBe(10_000);
    expect(quotas.fetch.samples()[0]!.rate).toBe(0);
    expect(quotas.maxFetchBytes(fetch)).toBe(1000);
  });
});

// ------------------------------------------------------------------ DescribeClientQuotas, AlterClientQuotas

type Op = { key: string; value?: number; remove?: boolean };
const entry = (spec: Record<string, string | null>, ops: Op[]) => ({
  entity: Object.entries(spec).map(([entityType, entityName]) => ({ entityType, entityName })),
  ops: ops.map((o) => ({ key: o.key, value: o.value ?? 0, remove: o.remove ?? false })),
});
const alter = (ctx: BrokerContext, entries: ReturnType<typeof entry>[], validateOnly = false, version = 1) =>
  call(ctx, alterClientQuotas, version, { entries, validateOnly });
type Match = [type: string, matchType: number, match: string | null];
const describeQuotas = (ctx: BrokerContext, components: Match[], strict = false, version = 1) =>
  call(ctx, describeClientQuotas, version, {
    components: components.map(([entityType, matchType, match]) => ({ entityType, matchType, match })),
    strict,
  });
const EXACT = 0;
const DEFAULT = 1;
const SPECIFIED = 2;
/** The errors of an AlterClientQuotas response, each [code, message]. */
const errorsOf = (r: Awaited<ReturnType<typeof alter>>) =>
  r.entries.map((e) => [e.errorCode, e.errorMessage]);

describe('AlterClientQuotas and DescribeClientQuotas', () => {
  it('are served at every version the codec knows', () => {
    const table = apiTable(HANDLERS);
    for (const api of ['AlterClientQuotas', 'DescribeClientQuotas'] as const)
      expect(table.get(ApiKeys[api])).toMatchObject({ minVersion: 0, maxVersion: 1 });
  });

  it('round-trip at each version: set, describe by EXACT, DEFAULT and SPECIFIED, strict or not, remove', async () => {
    for (const v of versionsOf('AlterClientQuotas')) {
      const { broker } = await adminBroker();
      const set = await alter(
        broker,
        [
          entry({ user: 'alice' }, [{ key: 'producer_byte_rate', value: 1024 }]),
          entry({ user: 'alice', 'client-id': 'app' }, [{ key: 'consumer_byte_rate', value: 2048 }]),
          entry({ user: null }, [{ key: 'request_percentage', value: 12.5 }]),
          entry({ 'client-id': null }, [{ key: 'controller_mutation_rate', value: 3 }]),
          entry({ ip: '10.0.0.1' }, [{ key: 'connection_creation_rate', value: 5 }]),
        ],
        false,
        v,
      );
      expect(errorsOf(set)).toEqual(Array(5).fill([ErrorCode.NONE, null]));
      expect(set.entries[1]!.entity).toEqual([
        { entityType: 'client-id', entityName: 'app' },
        { entityType: 'user', entityName: 'alice' },
      ]);
      // Applied at once: alice's producer is bounded.
      expect(broker.quotas.produce.quota('alice', 'x')).toBe(1024);
      const names = async (components: Match[], strict = false) =>
        ((await describeQuotas(broker, components, strict, v)).entries ?? []).map((e) =>
          Object.fromEntries(e.entity.map((x) => [x.entityType, x.entityName])),
        );
      expect(await describeQuotas(broker, [['user', EXACT, 'alice']], true, v)).toMatchObject({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        entries: [
          {
            entity: [{ entityType: 'user', entityName: 'alice' }],
            values: [{ key: 'producer_byte_rate', value: 1024 }],
          },
        ],
      });
      expect(await names([['user', EXACT, 'alice']])).toEqual([
        { 'client-id': 'app', user: 'alice' },
        { user: 'alice' },
      ]);
      expect(await names([['user', DEFAULT, null]])).toEqual([{ user: null }]);
      expect(await names([['user', SPECIFIED, null]], true)).toEqual([{ user: 'alice' }, { user: null }]);
      expect(await names([['client-id', SPECIFIED, null]])).toHaveLength(2);
      expect(await names([['ip', SPECIFIED, null]])).toEqual([{ ip: '10.0.0.1' }]);
      expect(await names([])).toHaveLength(5);
      expect(await names([], true)).toEqual([]);
      // A removal of the last value removes the entity; removing what is not there is no error.
      const removed = await alter(
        broker,
        [
          entry({ user: 'alice' }, [
            { key: 'producer_byte_rate', remove: true },
            { key: 'request_percentage', remove: true },
          ]),
        ],
        false,
        v,
      );
      expect(errorsOf(removed)).toEqual([[ErrorCode.NONE, null]]);
      expect(await names([['user', EXACT, 'alice']], true)).toEqual([]);
      expect(broker.quotas.produce.enabled).toBe(false);
    }
  });

  it('validateOnly validates and changes nothing', async () => {
    const { broker } = await adminBroker();
    const r = await alter(
      broker,
      [
        entry({ user: 'bob' }, [{ key: 'producer_byte_rate', value: 10 }]),
        entry({ user: 'bob', ip: null }, []),
      ],
      true,
    );
    expect(errorsOf(r)[0]).toEqual([ErrorCode.NONE, null]);
    expect(errorsOf(r)[1]![0]).toBe(INVALID);
    expect((await describeQuotas(broker, [])).entries).toEqual([]);
    expect(broker.quotas.active).toBe(false);
  });

  it("refuses what Kafka's controller refuses, entity by entity, with its messages", async () => {
    const { broker } = await adminBroker();
    const cases: [ReturnType<typeof entry>, string][] = [
      [entry({}, [{ key: 'producer_byte_rate', value: 1 }]), 'Invalid empty client quota entity'],
      [
        entry({ group: 'g' }, [{ key: 'producer_byte_rate', value: 1 }]),
        'Unhandled client quota entity type: group',
      ],
      [entry({ user: '' }, [{ key: 'producer_byte_rate', value: 1 }]), 'Empty user not supported'],
      [
        entry({ ip: null, 'client-id': 'c' }, [{ key: 'connection_creation_rate', value: 1 }]),
        'Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId',
      ],
      [
        entry({ ip: 'no such host.invalid' }, [{ key: 'connection_creation_rate', value: 1 }]),
        'no such host.invalid is not a valid IP or resolvable host.',
      ],
      [
        entry({ user: 'u1' }, [{ key: 'connection_creation_rate', value: 1 }]),
        'Invalid configuration key connection_creation_rate',
      ],
      [
        entry({ ip: '::1' }, [{ key: 'producer_byte_rate', value: 1 }]),
        'Invalid configuration key producer_byte_rate',
      ],
      [
        entry({ user: 'u2' }, [{ key: 'producer_byte_rate', value: 0 }]),
        'Quota producer_byte_rate must be greater than 0',
      ],
      [
        entry({ user: 'u3' }, [{ key: 'consumer_byte_rate', value: 1.5 }]),
        'consumer_byte_rate cannot be a fractional value.',
      ],
      [
        entry({ user: 'u4' }, [{ key: 'producer_byte_rate', value: 2 ** 64 }]),
        'Proposed value for producer_byte_rate is too large for a LONG.',
      ],
      [
        entry({ ip: '10.0.0.2' }, [{ key: 'connection_creation_rate', value: 2 ** 31 }]),
        'Proposed value for connection_creation_rate is too large for an INT.',
      ],
      [
        entry({ user: 'u5' }, [
          { key: 'producer_byte_rate', value: 1 },
          { key: 'producer_byte_rate', value: 2 },
        ]),
        // Kafka notes the duplicate key, then reports the entity as a duplicate.
        'Ignoring duplicate entity ClientQuotaEntity(entries={user=u5})',
      ],
    ];
    const r = await alter(broker, [
      ...cases.map(([e]) => e),
      entry({ user: 'ok' }, [{ key: 'request_percentage', value: 0.5 }]),
    ]);
    expect(errorsOf(r)).toEqual([...cases.map(([, message]) => [INVALID, message]), [ErrorCode.NONE, null]]);
    // Only the valid entity is stored.
    expect((await describeQuotas(broker, [])).entries!.map((e) => e.entity[0]!.entityName)).toEqual(['ok']);
    // An entity named twice is answered once, as a duplicate; its first alteration applies.
    const twice = await alter(broker, [
      entry({ 'client-id': 'c', user: 'u' }, [{ key: 'producer_byte_rate', value: 5 }]),
      entry({ user: 'u', 'client-id': 'c' }, [{ key: 'producer_byte_rate', value: 6 }]),
    ]);
    expect(errorsOf(twice)).toEqual([
      [INVALID, 'Ignoring duplicate entity ClientQuotaEntity(entries={client-id=c, user=u})'],
    ]);
    expect(broker.quotas.produce.quota('u', 'c')).toBe(5);
  });

  it('refuses filters as ClientQuotasImage.describe does', async () => {
    const { broker } = await adminBroker();
    const cases: [Match[], number, string][] = [
      [[['', EXACT, 'x']], INVALID, 'Invalid empty entity type.'],
      [
        [
          ['user', EXACT, 'a'],
          ['user', SPECIFIED, null],
        ],
        INVALID,
        'Entity type user cannot appear more than once in the filter.',
      ],
      [[['group', SPECIFIED, null]], ErrorCode.UNSUPPORTED_VERSION, 'Unsupported entity type group'],
      [[['user', EXACT, null]], INVALID, 'Request specified MATCH_TYPE_EXACT, but set match string to null.'],
      [
        [['user', DEFAULT, 'a']],
        INVALID,
        'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.',
      ],
      [
        [['user', SPECIFIED, 'a']],
        INVALID,
        'Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.',
      ],
      [[['user', 7, null]], INVALID, 'Unknown match type 7'],
      [
        [
          ['ip', SPECIFIED, null],
          ['client-id', DEFAULT, null],
        ],
        INVALID,
        'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.',
      ],
    ];
    for (const v of versionsOf('DescribeClientQuotas'))
      for (const [components, errorCode, errorMessage] of cases)
        expect(await describeQuotas(broker, components, false, v)).toEqual(
          expect.objectContaining({ errorCode, errorMessage, entries: null }),
        );
  });

  it('need AlterConfigs and DescribeConfigs on the cluster (CLUSTER_AUTHORIZATION_FAILED)', async () => {
    const broker = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      authorizer: { superUsers: [] },
    });
    try {
      const ctx = broker.context;
      const refused = await alter(ctx, [entry({ user: 'a' }, [{ key: 'producer_byte_rate', value: 1 }])]);
      expect(errorsOf(refused)).toEqual([
        [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'],
      ]);
      expect(refused.entries[0]!.entity).toEqual([{ entityType: 'user', entityName: 'a' }]);
      expect(await describeQuotas(ctx, [])).toMatchObject({
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        errorMessage: 'Cluster authorization failed.',
        entries: null,
      });
      const binding = (operation: number) => ({
        resourceType: ResourceType.CLUSTER,
        resourceName: CLUSTER_NAME,
        patternType: PatternType.LITERAL,
        principal: 'User:ANONYMOUS',
        host: '*',
        operation,
        permissionType: AclPermissionType.ALLOW,
      });
      await ctx.security.authorizer!.createAcls([binding(AclOperation.ALTER_CONFIGS)]);
      expect(
        errorsOf(await alter(ctx, [entry({ user: 'a' }, [{ key: 'producer_byte_rate', value: 1 }])])),
      ).toEqual([[ErrorCode.NONE, null]]);
      // AlterConfigs implies DescribeConfigs.
      expect((await describeQuotas(ctx, [])).entries).toHaveLength(1);
    } finally {
      await broker.close();
    }
  });
});

// ------------------------------------------------------------------ over TCP

const running: RunningBroker[] = [];
const connections: RawClient[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  await Promise.all(running.splice(0).map((b) => b.close()));
});

async function tcpBroker(): Promise<RunningBroker> {
  const b = await startBroker();
  running.push(b);
  return b;
}

async function connect(b: RunningBroker, clientId: string): Promise<RawClient> {
  const c = await RawClient.connect(b.host, b.port, { clientId });
  connections.push(c);
  return c;
}

async function setQuota(c: RawClient, spec: Record<string, string | null>, key: string, value: number) {
  const r = await c.send('AlterClientQuotas', 1, {
    entries: [entry(spec, [{ key, value }])],
    validateOnly: false,
  });
  expect(r.entries[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function createTopic(c: RawClient, name: string) {
  const r = await c.send('CreateTopics', 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: -1, configs: [] }],
    timeoutMs: 5000,
  });
  expect(r.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** One batch of `n` records of `size` bytes. */
const batchOf = (size: number, n = 1) =>
  encodeRecordBatchSync({
    records: Array.from({ length: n }, () => ({
      value: Buffer.alloc(size, 'q'),
      timestamp: BigInt(Date.now()),
    })),
  });
const produceRequest = (topic: string, records: Buffer) => ({
  acks: -1,
  timeoutMs: 5000,
  transactionalId: null,
  topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
});
const fetchRequest = (topic: string, fetchOffset: bigint) => ({
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 1,
  maxBytes: 1 << 24,
  isolationLevel: 0,
  topics: [{ topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 24 }] }],
});
const METADATA = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false };
const API_VERSIONS = { clientSoftwareName: 'quotas-test', clientSoftwareVersion: '1' };

/** The requests of one API and client id as the broker answered them: when each was read and answered, and its bytes. */
function recordRequests(b: RunningBroker, api: string, clientId: string) {
  const seen: { start: number; end: number; requestBytes: number; responseBytes: number }[] = [];
  b.broker.on('request', (e: RequestEvent) => {
    if (e.apiName !== api || e.clientId !== clientId) return;
    const end = performance.now();
    seen.push({
      start: end - e.durationMs,
      end,
      requestBytes: e.requestBytes,
      responseBytes: e.responseBytes,
    });
  });
  return seen;
}

/** What /metrics shows now. */
async function scrape(b: RunningBroker): Promise<string> {
  const metrics = brokerMetrics(b.broker);
  try {
    return await metrics.render();
  } finally {
    metrics.close();
  }
}

/** A sample of the exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Bytes per second of the requests from the first one read to the last one answered. */
function bytesPerSecond<R extends { start: number; end: number }>(seen: R[], bytes: (r: R) => number) {
  const total = seen.reduce((n, r) => n + bytes(r), 0);
  return total / ((seen.at(-1)!.end - seen[0]!.start) / 1000);
}

describe('quotas over TCP', () => {
  it('without quotas measures nothing and throttles nothing (throttleTimeMs 0)', async () => {
    const b = await tcpBroker();
    const c = await connect(b, 'free');
    await createTopic(c, 'free');
    const produced = await c.send('Produce', 9, produceRequest('free', batchOf(200_000)));
    expect(produced.throttleTimeMs).toBe(0);
    const fetched = await c.send('Fetch', 12, fetchRequest('free', 0n));
    expect(fetched.throttleTimeMs).toBe(0);
    expect(fetched.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(200_000);
    expect((await c.send('Metadata', 12, METADATA)).throttleTimeMs).toBe(0);
    const kafka = new Kafka({ clientId: 'free-kafkajs', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 20; i++)
      await producer.send({ topic: 'free', messages: [{ value: Buffer.alloc(50_000) }] });
    await producer.disconnect();
    const { quotas } = b.broker.context;
    expect(quotas.active).toBe(false);
    expect([quotas.produce, quotas.fetch, quotas.request].flatMap((m) => m.samples())).toEqual([]);
    const text = await scrape(b);
    for (const quota of ['Produce', 'Fetch', 'Request'])
      expect(sample(text, `kch_client_throttled_responses_total{quota="${quota}"}`)).toBe(0);
    expect(text).not.toMatch(/^kch_client_byte_rate\{/m);
  });

  it('answers a Produce over producer_byte_rate with its throttle time, then reads nothing from the client for that long (KIP-219)', async () => {
    const b = await tcpBroker();
    const admin = await connect(b, 'admin');
    await createTopic(admin, 'muted');
    await setQuota(admin, { 'client-id': 'raw' }, 'producer_byte_rate', 10_000);
    const seen = recordRequests(b, 'Produce', 'raw');
    const c = await connect(b, 'raw');
    const r = await c.send('Produce', 9, produceRequest('muted', batchOf(120_000)));
    const answered = performance.now();
    expect(r.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
    // The first window counts as ten: the request's bytes over 10 s against 10 000/s.
    expect(r.throttleTimeMs).toBe(Math.round(seen[0]!.requestBytes / 10 - 10_000));
    expect(r.throttleTimeMs).toBeGreaterThan(1900);
    // The next request waits in the socket until the throttle has passed; another client does not.
    const other = performance.now();
    await admin.send('ApiVersions', 3, API_VERSIONS);
    expect(performance.now() - other).toBeLessThan(500);
    const v = await c.send('ApiVersions', 3, API_VERSIONS);
    expect(performance.now() - answered).toBeGreaterThanOrEqual(r.throttleTimeMs - 50);
    expect(v.throttleTimeMs).toBe(0);
  });

  it('caps a Fetch at the quota window and answers one over consumer_byte_rate empty, its bytes not counted', async () => {
    const b = await tcpBroker();
    const admin = await connect(b, 'admin');
    await createTopic(admin, 'slow');
    for (let i = 0; i < 6; i++) await admin.send('Produce', 9, produceRequest('slow', batchOf(100_000)));
    await setQuota(admin, { 'client-id': 'raw' }, 'consumer_byte_rate', 50_000);
    const fetchedEvents: number[] = [];
    b.broker.on('fetch', (e) => fetchedEvents.push(e.bytes));
    const c = await connect(b, 'raw');
    // At most 10 s of the quota, 500 000 bytes: four of the batches.
    const first = await c.send('Fetch', 12, fetchRequest('slow', 0n));
    expect(first.throttleTimeMs).toBe(0);
    const records = first.responses[0]!.partitions[0]!.records!;
    expect(records.length).toBeGreaterThan(400_000);
    expect(records.length).toBeLessThan(500_000);
    // Two more would make 600 000 bytes in the first 10 s: (60 000 - 50 000) / 50 000 * 10 s.
    const second = await c.send('Fetch', 12, fetchRequest('slow', 4n));
    expect(second.responses).toEqual([]);
    expect(second.throttleTimeMs).toBeGreaterThan(1900);
    expect(second.throttleTimeMs).toBeLessThan(2200);
    expect(fetchedEvents).toEqual([records.length]);
    // Its bytes were taken back: the rate is the first response's.
    const [measured] = b.broker.context.quotas.fetch.samples();
    expect(measured!.rate).toBeGreaterThan(39_500);
    expect(measured!.rate).toBeLessThan(40_500);
  });

  it('throttles by request_percentage for at most one window, in any response with a throttle time', async () => {
    const b = await tcpBroker();
    const admin = await connect(b, 'admin');
    await setQuota(admin, { 'client-id': 'raw' }, 'request_percentage', 0.001);
    const c = await connect(b, 'raw');
    let throttle = 0;
    for (let i = 0; i < 10_000 && throttle === 0; i++)
      throttle = (await c.send('Metadata', 12, METADATA)).throttleTimeMs;
    const answered = performance.now();
    expect(throttle).toBeGreaterThan(0);
    expect(throttle).toBeLessThanOrEqual(1000);
    await c.send('ApiVersions', 3, API_VERSIONS);
    expect(performance.now() - answered).toBeGreaterThanOrEqual(throttle - 50);
    const text = await scrape(b);
    expect(sample(text, 'kch_client_throttled_responses_total{quota="Request"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'kch_client_request_time_percent{user="",client_id="raw"}')).toBeGreaterThan(0);
  });

  /*
   * A client that sends as fast as it can gets 11 s of its quota in its first second, as from Kafka: the
   * rate of the first window is taken over ten (quota.window.num - 1). Over the eleven seconds of the
   * quota window that is its rate; measured over the first ten it is 10 % above.
   */
  const BOUND = 256 * 1024;
  const QUOTA_WINDOW_MS = 11_000;

  /** A broker with `topic`, a quota of BOUND on `key` for the client id, its `api` requests recorded, and a kafkajs client. */
  async function rated(topic: string, clientId: string, key: string, api: string) {
    const b = await tcpBroker();
    const admin = await connect(b, 'admin');
    await createTopic(admin, topic);
    await setQuota(admin, { 'client-id': clientId }, key, BOUND);
    const kafka = new Kafka({ clientId, brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    return { b, admin, kafka, seen: recordRequests(b, api, clientId) };
  }

  /** The client's rate within 10 % of the bound, throttled all along, and what /metrics shows of it. */
  async function expectHeld(b: RunningBroker, quota: 'Produce' | 'Fetch', clientId: string, rate: number) {
    expect(Math.abs(rate / BOUND - 1), `${Math.round(rate)} B/s against ${BOUND}`).toBeLessThanOrEqual(0.1);
    const text = await scrape(b);
    const labels = `quota="${quota}",user="",client_id="${clientId}"`;
    // Kafka's byte-rate, the rate its quota checks: up to the ~10 % the window lets through above the bound.
    const byteRate = sample(text, `kch_client_byte_rate{${labels}}`);
    expect(byteRate).toBeGreaterThan(0);
    expect(byteRate).toBeLessThan(BOUND * 1.2);
    expect(sample(text, `kch_client_throttle_time_ms{${labels}}`)).toBeGreaterThan(0);
    expect(sample(text, `kch_client_throttled_responses_total{quota="${quota}"}`)).toBeGreaterThan(10);
  }

  it('holds a kafkajs producer to producer_byte_rate within 10 % over the quota window', async () => {
    const { b, kafka, seen } = await rated('rated', 'rated-producer', 'producer_byte_rate', 'Produce');
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 8 }, () => ({ value: Buffer.alloc(1024, 'p') }));
    try {
      const began = performance.now();
      while (performance.now() - began < QUOTA_WINDOW_MS)
        await producer.send({ topic: 'rated', acks: 1, messages });
    } finally {
      await producer.disconnect();
    }
    await expectHeld(
      b,
      'Produce',
      'rated-producer',
      bytesPerSecond(seen, (r) => r.requestBytes),
    );
  });

  it('holds a kafkajs consumer to consumer_byte_rate within 10 % over the quota window', async () => {
    const { b, admin, kafka, seen } = await rated(
      'rated-out',
      'rated-consumer',
      'consumer_byte_rate',
      'Fetch',
    );
    // More than the 11 s of the quota the test reads, in batches of 16 kB.
    for (let i = 0; i < 300; i++)
      await admin.send('Produce', 9, produceRequest('rated-out', batchOf(16 * 1024)));
    const consumer = kafka.consumer({
      groupId: 'rated',
      maxBytesPerPartition: 64 * 1024,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: 'rated-out', fromBeginning: true });
    // From the first fetch that returned records, for the quota window.
    const measured = new Promise<typeof seen>((resolve) => {
      b.broker.on('request', () => {
        const from = seen.findIndex((r) => r.responseBytes > 1000);
        if (from >= 0 && seen.at(-1)!.end - seen[from]!.start >= QUOTA_WINDOW_MS) resolve(seen.slice(from));
      });
    });
    await consumer.run({ eachBatch: async () => {} });
    const window = await measured;
    await consumer.disconnect();
    await expectHeld(
      b,
      'Fetch',
      'rated-consumer',
      bytesPerSecond(window, (r) => r.responseBytes),
    );
  });
});
