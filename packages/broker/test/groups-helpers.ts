/** A coordinator over memory storage, and protocol bytes, for the group tests. */
import { encodeConsumerProtocolSubscription, Writer } from '@kch/protocol';
import { memoryStorage, type Storage } from '@kch/storage';
import { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../src/events.js';
import {
  GroupCoordinator,
  type GroupCoordinatorConfig,
  type JoinGroupParams,
} from '../src/groups/coordinator.js';
import { silentLogger } from '../src/logger.js';

export const CONFIG: GroupCoordinatorConfig = {
  groupMinSessionTimeoutMs: 1_000,
  groupMaxSessionTimeoutMs: 300_000,
  groupInitialRebalanceDelayMs: 0,
  groupMaxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  consumerGroupSessionTimeoutMs: 45_000,
  consumerGroupHeartbeatIntervalMs: 5_000,
  consumerGroupMaxSize: 2_147_483_647,
  consumerGroupAssignors: ['uniform', 'range'],
  consumerGroupMigrationPolicy: 'bidirectional',
};

/** Topics that exist: "orders" (3 partitions) and "events" (2). */
export function partitionExists(topic: string, partition: number): boolean {
  const counts: Record<string, number> = { orders: 3, events: 2 };
  return partition >= 0 && partition < (counts[topic] ?? 0);
}

export interface Setup {
  coordinator: GroupCoordinator;
  storage: Storage;
  events: EventEmitter<BrokerEvents>;
  changes: BrokerEvents['group-change'][0][];
}

export async function setup(
  config: Partial<GroupCoordinatorConfig> = {},
  storage: Storage = memoryStorage(),
): Promise<Setup> {
  const events = new EventEmitter<BrokerEvents>();
  const changes: Setup['changes'] = [];
  events.on('group-change', (c) => changes.push(c));
  const coordinator = new GroupCoordinator({
    config: { ...CONFIG, ...config },
    storage,
    logger: silentLogger,
    events,
    partitionExists,
  });
  await coordinator.start();
  return { coordinator, storage, events, changes };
}

/** Consumer protocol subscription bytes (a version header, then the subscription). */
export function subscription(topics: string[], version = 1): Buffer {
  const w = new Writer();
  w.int16(version);
  encodeConsumerProtocolSubscription(w, { topics, userData: null }, version);
  return w.toBuffer();
}

export function join(overrides: Partial<JoinGroupParams> & { groupId?: string } = {}): JoinGroupParams {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 10_000,
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['orders']) }],
    ...overrides,
  };
}

/** Whether a promise has settled (after letting pending microtasks run). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}
