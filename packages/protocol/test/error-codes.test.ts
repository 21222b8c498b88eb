import { describe, expect, it } from 'vitest';
import { ERRORS, ErrorCode, type ErrorCodeName, errorInfo, KafkaProtocolError } from '../src/error-codes.js';

describe('Kafka error code table', () => {
  it('is contiguous from -1 to the last Kafka 4.0 code, in order', () => {
    expect(ERRORS[0]!.code).toBe(-1);
    // Kafka 4.0.x ends at REBOOTSTRAP_REQUIRED; 130 (STREAMS_INVALID_TOPOLOGY) and later came in 4.1.
    expect(ERRORS[ERRORS.length - 1]).toMatchObject({ code: 129, name: 'REBOOTSTRAP_REQUIRED' });
    expect(ERRORS.map((e) => e.code)).toEqual(Array.from({ length: 131 }, (_, i) => i - 1));
  });

  it('has unique codes and names, and ErrorCode agrees with ERRORS', () => {
    expect(new Set(ERRORS.map((e) => e.code)).size).toBe(ERRORS.length);
    expect(new Set(ERRORS.map((e) => e.name)).size).toBe(ERRORS.length);
    expect(Object.keys(ErrorCode)).toHaveLength(ERRORS.length);
    for (const e of ERRORS) expect(ErrorCode[e.name]).toBe(e.code);
  });

  it('has a message for every error but NONE', () => {
    for (const e of ERRORS) {
      if (e.code === 0) expect(e.message).toBeNull();
      else expect(e.message).toMatch(/^[A-Z].*\S$/);
    }
  });

  // [code, name, retriable] checked against Errors.java and each exception's superclass in Kafka 4.0.
  const spotChecks: [number, ErrorCodeName, boolean][] = [
    [-1, 'UNKNOWN_SERVER_ERROR', false],
    [0, 'NONE', false],
    [1, 'OFFSET_OUT_OF_RANGE', false],
    [2, 'CORRUPT_MESSAGE', true],
    [3, 'UNKNOWN_TOPIC_OR_PARTITION', true],
    [5, 'LEADER_NOT_AVAILABLE', true],
    [6, 'NOT_LEADER_OR_FOLLOWER', true],
    [7, 'REQUEST_TIMED_OUT', true],
    [8, 'BROKER_NOT_AVAILABLE', false],
    [9, 'REPLICA_NOT_AVAILABLE', true],
    [10, 'MESSAGE_TOO_LARGE', false],
    [13, 'NETWORK_EXCEPTION', true],
    [14, 'COORDINATOR_LOAD_IN_PROGRESS', true],
    [15, 'COORDINATOR_NOT_AVAILABLE', true],
    [16, 'NOT_COORDINATOR', true],
    [19, 'NOT_ENOUGH_REPLICAS', true],
    [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true],
    [22, 'ILLEGAL_GENERATION', false],
    [25, 'UNKNOWN_MEMBER_ID', false],
    [27, 'REBALANCE_IN_PROGRESS', false],
    [35, 'UNSUPPORTED_VERSION', false],
    [41, 'NOT_CONTROLLER', true],
    [42, 'INVALID_REQUEST', false],
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', false],
    [46, 'DUPLICATE_SEQUENCE_NUMBER', false],
    [47, 'INVALID_PRODUCER_EPOCH', false],
    [51, 'CONCURRENT_TRANSACTIONS', true],
    [56, 'KAFKA_STORAGE_ERROR', true],
    [59, 'UNKNOWN_PRODUCER_ID', false],
    [74, 'FENCED_LEADER_EPOCH', true],
    [75, 'UNKNOWN_LEADER_EPOCH', true],
    [79, 'MEMBER_ID_REQUIRED', false],
    [87, 'INVALID_RECORD', false],
    [89, 'THROTTLING_QUOTA_EXCEEDED', true],
    [90, 'PRODUCER_FENCED', false],
    [100, 'UNKNOWN_TOPIC_ID', true],
    [110, 'FENCED_MEMBER_EPOCH', false],
    [120, 'TRANSACTION_ABORTABLE', false],
    [122, 'SHARE_SESSION_NOT_FOUND', true],
    [128, 'INVALID_REGULAR_EXPRESSION', false],
    [129, 'REBOOTSTRAP_REQUIRED', false],
  ];
  it.each(spotChecks)('%i is %s, retriable: %s', (code, name, retriable) => {
    expect(ErrorCode[name]).toBe(code);
    expect(errorInfo(code)).toMatchObject({ code, name, retriable });
  });

  it("keeps Kafka's message text", () => {
    expect(errorInfo(ErrorCode.NOT_COORDINATOR)!.message).toBe('This is not the correct coordinator.');
    expect(errorInfo(ErrorCode.CORRUPT_MESSAGE)!.message).toBe(
      'This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.',
    );
    expect(errorInfo(ErrorCode.REBOOTSTRAP_REQUIRED)!.message).toBe(
      'Client metadata is stale, client should rebootstrap to obtain new metadata.',
    );
  });

  it('errorInfo returns undefined for codes Kafka 4.0 does not define', () => {
    for (const code of [-2, 130, 133, 32767, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(errorInfo(code)).toBeUndefined();
    }
  });

  it('is immutable', () => {
    expect(Object.isFrozen(ERRORS)).toBe(true);
    expect(Object.isFrozen(ERRORS[5])).toBe(true);
  });
});

describe('KafkaProtocolError', () => {
  it('carries code, Kafka name, retriability and the default message', () => {
    const e = new KafkaProtocolError('NOT_COORDINATOR');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({
      code: 16,
      errorName: 'NOT_COORDINATOR',
      retriable: true,
      name: 'KafkaProtocolError',
    });
    expect(e.message).toBe('This is not the correct coordinator.');
  });

  it('takes a numeric code, a specific message and a cause', () => {
    const cause = new Error('clickhouse timed out');
    const e = new KafkaProtocolError(ErrorCode.UNSUPPORTED_VERSION, 'Produce v2 is not supported', { cause });
    expect(e).toMatchObject({ code: 35, errorName: 'UNSUPPORTED_VERSION', retriable: false });
    expect(e.message).toBe('Produce v2 is not supported');
    expect(e.cause).toBe(cause);
  });

  it('rejects NONE and codes Kafka does not define', () => {
    expect(() => new KafkaProtocolError('NONE')).toThrow(RangeError);
    expect(() => new KafkaProtocolError(0)).toThrow(RangeError);
    expect(() => new KafkaProtocolError(130)).toThrow(/got 130/);
    expect(() => new KafkaProtocolError('NO_SUCH_ERROR' as ErrorCodeName)).toThrow(/got NO_SUCH_ERROR/);
  });
});
