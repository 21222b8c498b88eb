import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/** Kafka's DescribeLogDirsResponse.UNKNOWN_VOLUME_BYTES. */
const UNKNOWN_VOLUME_BYTES = -1n;

/**
 * DescribeLogDirs: one "log dir", the storage's location, holding every partition (tools such as
 * kafka-log-dirs and UIs call this to list where partitions live). The storage contract does not report
 * sizes, so partition sizes are 0 and the volume's total and usable bytes unknown (-1); the offset lag
 * is 0, as the only replica is the leader.
 */
export default defineHandler({
  api: 'DescribeLogDirs',
  serial: true,
  handle(request, ctx) {
    const { topics, storage } = ctx.broker;
    if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
    }
    const wanted = new Map<string, Set<number>>();
    if (request.topics === null) {
      for (const t of topics.list()) wanted.set(t.record.name, new Set(t.logs.keys()));
    } else {
      // As Kafka: partitions this broker does not have are left out, not reported as errors.
      for (const t of request.topics) {
        const topic = topics.get(t.topic);
        if (!topic) continue;
        const set = wanted.get(t.topic) ?? new Set<number>();
        for (const p of t.partitions) if (p >= 0 && p < topic.logs.length) set.add(p);
        if (set.size > 0) wanted.set(t.topic, set);
      }
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      results: [
        {
          errorCode: ErrorCode.NONE,
          logDir: storage.location,
          topics: [...wanted].map(([name, partitions]) => ({
            name,
            partitions: [...partitions]
              .sort((a, b) => a - b)
              .map((p) => ({ partitionIndex: p, partitionSize: 0n, offsetLag: 0n, isFutureKey: false })),
          })),
          totalBytes: UNKNOWN_VOLUME_BYTES,
          usableBytes: UNKNOWN_VOLUME_BYTES,
        },
      ],
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, results: [] };
  },
});
