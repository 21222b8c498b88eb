/**
 * ACLs with a real client: kafkajs over TCP against brokers on memory storage, on a plaintext listener
 * (every client is User:ANONYMOUS). One broker has an authorizer, one does not.
 */
import { type AclBinding, memoryStorage } from '@kch/storage';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Admin,
  Kafka,
  logLevel,
  ResourcePatternTypes,
} from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_NAME } from '../src/security/acl-codes.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

const ME = 'User:ANONYMOUS';

/** A binding for User:ANONYMOUS from any host, in kafkajs's shape (its enums are Kafka's codes). */
function entry(
  resourceType: AclResourceTypes,
  resourceName: string,
  operation: AclOperationTypes,
  more: { permissionType?: AclPermissionTypes; resourcePatternType?: ResourcePatternTypes } = {},
) {
  return {
    resourceType,
    resourceName,
    resourcePatternType: more.resourcePatternType ?? ResourcePatternTypes.LITERAL,
    principal: ME,
    host: '*',
    operation,
    permissionType: more.permissionType ?? AclPermissionTypes.ALLOW,
  };
}

/** The Kafka error types of a kafkajs error and its causes (kafkajs wraps them as it retries). */
function errorTypes(e: unknown): string[] {
  const types: string[] = [];
  for (let cur = e as { type?: string; cause?: unknown; originalError?: unknown } | undefined; cur; ) {
    if (cur.type) types.push(cur.type);
    cur = (cur.cause ?? cur.originalError) as typeof cur;
  }
  return types;
}

async function failure(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    return errorTypes(e);
  }
  throw new Error('expected a failure');
}

/** Starts a broker (made by `start`) before the tests of the block, with a connected kafkajs the.admin. */
function useBroker(start: () => Promise<RunningBroker>) {
  const the = {} as { b: RunningBroker; kafka: Kafka; admin: Admin };
  beforeAll(async () => {
    the.b = await start();
    the.kafka = new Kafka({
      clientId: 'acl-test',
      brokers: [the.b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 2 },
    });
    the.admin = the.kafka.admin();
    await the.admin.connect();
  });
  afterAll(async () => {
    await the.admin?.disconnect();
    await the.b?.close();
  });
  return the;
}

describe('with an authorizer', () => {
  const the = useBroker(async () => {
    // The first ACLs are in the store when the broker starts: ANONYMOUS may manage ACLs (Alter implies
    // Describe) and nothing else.
    const storage = memoryStorage();
    const bootstrap: AclBinding = {
      resourceType: 4,
      resourceName: CLUSTER_NAME,
      patternType: 3,
      principal: ME,
      host: '*',
      operation: 7,
      permissionType: 3,
    };
    await storage.security!.addAcls([bootstrap]);
    const b = await startBroker({ storage, authorizer: { superUsers: ['User:admin'] } });
    for (const topic of ['produce-me', 'consume-me', 'listed', 'denied', 'pre.a', 'other'])
      await b.broker.context.topics.create(topic, 1, {});
    return b;
  });

  const grant = (...acl: ReturnType<typeof entry>[]) => the.admin.createAcls({ acl });

  it('creates, describes and deletes ACLs', async () => {
    await grant(
      entry(AclResourceTypes.TOPIC, 'acl-a', AclOperationTypes.READ),
      entry(AclResourceTypes.TOPIC, 'acl-', AclOperationTypes.WRITE, {
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        permissionType: AclPermissionTypes.DENY,
      }),
    );
    const described = await the.admin.describeAcls({
      resourceType: AclResourceTypes.TOPIC,
      resourcePatternType: ResourcePatternTypes.MATCH,
      resourceName: 'acl-a',
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    expect(
      described.resources
        .map((r) => [
          r.resourceName,
          r.resourcePatternType,
          r.acls.map((a) => [a.operation, a.permissionType]),
        ])
        .sort(),
    ).toEqual([
      ['acl-', ResourcePatternTypes.PREFIXED, [[AclOperationTypes.WRITE, AclPermissionTypes.DENY]]],
      ['acl-a', ResourcePatternTypes.LITERAL, [[AclOperationTypes.READ, AclPermissionTypes.ALLOW]]],
    ]);

    const deleted = await the.admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: 'acl-',
          resourcePatternType: ResourcePatternTypes.PREFIXED,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        },
      ],
    });
    expect(deleted.filterResponses[0]!.matchingAcls).toEqual([
      expect.objectContaining({ resourceName: 'acl-', principal: ME, operation: AclOperationTypes.WRITE }),
    ]);
    const left = await the.admin.describeAcls({
      resourceType: AclResourceTypes.TOPIC,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    expect(left.resources.map((r) => r.resourceName)).toContain('acl-a');
    expect(left.resources.map((r) => r.resourceName)).not.toContain('acl-');
  });

  it('lists only the topics the principal may describe', async () => {
    expect(await the.admin.listTopics()).toEqual([]);
    await grant(entry(AclResourceTypes.TOPIC, 'listed', AclOperationTypes.DESCRIBE));
    expect(await the.admin.listTopics()).toEqual(['listed']);
  });

  it('refuses a producer without Write (nothing stored), and takes its records with Write', async () => {
    const producer = the.kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      // Describe lets the producer find the topic; only Write lets it produce.
      await grant(entry(AclResourceTypes.TOPIC, 'produce-me', AclOperationTypes.DESCRIBE));
      const refused = producer.send({ topic: 'produce-me', messages: [{ value: 'no' }] });
      expect(await failure(refused)).toContain('TOPIC_AUTHORIZATION_FAILED');
      expect(the.b.broker.context.topics.log('produce-me', 0)!.highWatermark).toBe(0);

      await grant(entry(AclResourceTypes.TOPIC, 'produce-me', AclOperationTypes.WRITE));
      await producer.send({ topic: 'produce-me', messages: [{ value: 'yes' }] });
      expect(the.b.broker.context.topics.log('produce-me', 0)!.highWatermark).toBe(1);
    } finally {
      await producer.disconnect();
    }
  });

  it('refuses a consumer without Read on the topic, and serves it with Read', async () => {
    const producer = the.kafka.producer();
    await grant(
      entry(AclResourceTypes.TOPIC, 'consume-me', AclOperationTypes.WRITE),
      entry(AclResourceTypes.GROUP, 'readers', AclOperationTypes.READ),
    );
    await producer.connect();
    await producer.send({ topic: 'consume-me', messages: [{ value: 'm0' }] });
    await producer.disconnect();

    // Write implies Describe, so the consumer finds the topic and joins; its fetch is refused.
    const refused = the.kafka.consumer({ groupId: 'readers', retry: { retries: 0 } });
    const crashed = new Promise<unknown>((resolve) =>
      refused.on(refused.events.CRASH, (e) => resolve(e.payload.error)),
    );
    await refused.connect();
    await refused.subscribe({ topic: 'consume-me', fromBeginning: true });
    void refused.run({ eachMessage: async () => {} });
    expect(errorTypes(await crashed)).toContain('TOPIC_AUTHORIZATION_FAILED');
    await refused.disconnect();

    await grant(entry(AclResourceTypes.TOPIC, 'consume-me', AclOperationTypes.READ));
    const consumer = the.kafka.consumer({ groupId: 'readers' });
    await consumer.connect();
    try {
      const got = await consumeMessages(consumer, 'consume-me', 1);
      expect(got.map((m) => m.message.value?.toString())).toEqual(['m0']);
    } finally {
      await consumer.disconnect();
    }
  });

  it('a DENY wins over an ALLOW', async () => {
    await grant(
      entry(AclResourceTypes.TOPIC, 'denied', AclOperationTypes.ALL),
      entry(AclResourceTypes.TOPIC, 'denied', AclOperationTypes.WRITE, {
        permissionType: AclPermissionTypes.DENY,
      }),
    );
    const producer = the.kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      expect(await failure(producer.send({ topic: 'denied', messages: [{ value: 'x' }] }))).toContain(
        'TOPIC_AUTHORIZATION_FAILED',
      );
      expect(the.b.broker.context.topics.log('denied', 0)!.highWatermark).toBe(0);
    } finally {
      await producer.disconnect();
    }
    // The DENY is for Write only: the topic is still listed.
    expect(await the.admin.listTopics()).toContain('denied');
  });

  it('a PREFIXED ACL covers the topics starting with its prefix', async () => {
    await grant(
      entry(AclResourceTypes.TOPIC, 'pre.', AclOperationTypes.WRITE, {
        resourcePatternType: ResourcePatternTypes.PREFIXED,
      }),
    );
    const producer = the.kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({ topic: 'pre.a', messages: [{ value: 'x' }] });
      expect(the.b.broker.context.topics.log('pre.a', 0)!.highWatermark).toBe(1);
      expect(await failure(producer.send({ topic: 'other', messages: [{ value: 'x' }] }))).toContain(
        'TOPIC_AUTHORIZATION_FAILED',
      );
    } finally {
      await producer.disconnect();
    }
  });

  it('refuses ACL changes to a principal without Alter on the cluster', async () => {
    await the.admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.CLUSTER,
          resourcePatternType: ResourcePatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        },
      ],
    });
    const types = await failure(grant(entry(AclResourceTypes.TOPIC, 'x', AclOperationTypes.READ)));
    expect(types).toContain('CLUSTER_AUTHORIZATION_FAILED');
  });
});

describe('without an authorizer', () => {
  const the = useBroker(() => startBroker({ storage: memoryStorage() }));

  it('the ACL APIs answer SECURITY_DISABLED', async () => {
    const filter = {
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    };
    expect(await failure(the.admin.describeAcls(filter))).toContain('SECURITY_DISABLED');
    expect(
      await failure(
        the.admin.createAcls({ acl: [entry(AclResourceTypes.TOPIC, 't', AclOperationTypes.READ)] }),
      ),
    ).toContain('SECURITY_DISABLED');
    expect(await failure(the.admin.deleteAcls({ filters: [filter] }))).toContain('SECURITY_DISABLED');
  });

  it('everything else works as before: topics, producing, consuming', async () => {
    await the.admin.createTopics({ topics: [{ topic: 'open', numPartitions: 1 }] });
    expect(await the.admin.listTopics()).toContain('open');
    const producer = the.kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'open', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    const consumer = the.kafka.consumer({ groupId: 'open-readers' });
    await consumer.connect();
    try {
      const got = await consumeMessages(consumer, 'open', 2);
      expect(got.map((m) => m.message.value?.toString())).toEqual(['a', 'b']);
    } finally {
      await consumer.disconnect();
    }
  });
});
