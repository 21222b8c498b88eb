/**
 * The transaction coordinator's rules, as pure functions over a transactional id's state: which
 * request is allowed in which state, with which error, and what the state becomes. Kafka's
 * TransactionCoordinator and TransactionMetadata (KIP-98, KIP-360's epoch bumps), transaction
 * version 0/1 semantics (EndTxn up to v4): the coordinator (./coordinator.ts) persists the result
 * before it counts, and writes the markers.
 */
import { ErrorCode } from '@kch/protocol';
import type { TopicPartition, TransactionMetadata, TransactionStateName } from '@kch/storage';

/** Kafka's producer epoch is an int16; one below the maximum means "exhausted" (a new id is due). */
export const EPOCH_EXHAUSTED = 32_766;

/** The outcome of a request: an error code, or the next state (null: nothing to write). */
export type Transition = { error: number } | { next: TransactionMetadata | null };

const fail = (error: number): Transition => ({ error });

/** What InitProducerId asks of a known transactional id. */
export interface InitRequest {
  timeoutMs: number;
  /** KIP-360 (v3+): the producer's current id and epoch, or -1/-1 for none. */
  producerId: number;
  producerEpoch: number;
  now: number;
}

/** A transactional id seen for the first time: no epoch yet (the first init makes it 0). */
export function newTransaction(
  transactionalId: string,
  producerId: number,
  timeoutMs: number,
  now: number,
): TransactionMetadata {
  return {
    transactionalId,
    producerId,
    previousProducerId: -1,
    producerEpoch: -1,
    lastProducerEpoch: -1,
    timeoutMs,
    state: 'Empty',
    partitions: [],
    groups: [],
    startedAt: -1,
    updatedAt: now,
  };
}

/**
 * InitProducerId of a transactional id that is not Ongoing (an Ongoing one is fenced first: see
 * `fence`). `newProducerId` is called when the epoch is exhausted. Kafka's
 * prepareInitProducerIdTransit and prepareIncrementProducerEpoch.
 */
export function initProducer(
  m: TransactionMetadata,
  r: InitRequest,
  newProducerId: () => number,
): Transition {
  const expected = r.producerId >= 0;
  if (
    expected &&
    !(
      m.producerEpoch === -1 ||
      r.producerId === m.producerId ||
      (r.producerId === m.previousProducerId && r.producerEpoch >= EPOCH_EXHAUSTED)
    )
  )
    return fail(ErrorCode.PRODUCER_FENCED);
  if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort')
    return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
  const reset = {
    state: 'Empty' as const,
    partitions: [],
    groups: [],
    startedAt: -1,
    timeoutMs: r.timeoutMs,
    updatedAt: r.now,
  };
  if (m.producerEpoch >= EPOCH_EXHAUSTED && (!expected || r.producerEpoch === m.producerEpoch)) {
    return {
      next: {
        ...m,
        ...reset,
        previousProducerId: m.producerId,
        producerId: newProducerId(),
        producerEpoch: 0,
        lastProducerEpoch: expected ? m.producerEpoch : -1,
      },
    };
  }
  if (!expected)
    return { next: { ...m, ...reset, producerEpoch: m.producerEpoch + 1, lastProducerEpoch: -1 } };
  if (r.producerEpoch === m.producerEpoch || m.producerEpoch === -1)
    return {
      next: { ...m, ...reset, producerEpoch: m.producerEpoch + 1, lastProducerEpoch: m.producerEpoch },
    };
  // A retry of a bump whose answer was lost: the epoch it got, unchanged.
  if (r.producerEpoch === m.lastProducerEpoch && m.lastProducerEpoch >= 0) return { next: null };
  return fail(ErrorCode.PRODUCER_FENCED);
}

/** The checks every request of a producer within its transaction passes first. */
function checkProducer(
  m: TransactionMetadata | undefined,
  producerId: number,
  producerEpoch: number,
): number {
  if (!m || m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
  if (m.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
  return ErrorCode.NONE;
}

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/**
 * AddPartitionsToTxn (and AddOffsetsToTxn, whose group is added the same way): the transaction
 * begins with its first addition. Kafka's handleAddPartitionsToTransaction.
 */
export function addToTransaction(
  m: TransactionMetadata | undefined,
  producerId: number,
  producerEpoch: number,
  add: { partitions?: readonly TopicPartition[]; group?: string },
  now: number,
): Transition {
  const refused = checkProducer(m, producerId, producerEpoch);
  if (refused !== ErrorCode.NONE) return fail(refused);
  const t = m!;
  if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort')
    return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
  const known = new Set(t.partitions.map(key));
  const partitions = (add.partitions ?? []).filter((tp) => !known.has(key(tp)));
  const newGroup = add.group !== undefined && !t.groups.some((g) => g.group === add.group);
  if (t.state === 'Ongoing' && partitions.length === 0 && !newGroup) return { next: null };
  const beginning = t.state !== 'Ongoing';
  return {
    next: {
      ...t,
      state: 'Ongoing',
      partitions: [...(beginning ? [] : t.partitions), ...dedupe(partitions)],
      groups: [...(beginning ? [] : t.groups), ...(newGroup ? [{ group: add.group!, offsets: [] }] : [])],
      startedAt: beginning ? now : t.startedAt,
      updatedAt: now,
    },
  };
}

function dedupe(partitions: readonly TopicPartition[]): TopicPartition[] {
  const seen = new Set<string>();
  return partitions.filter((tp) => {
    const k = key(tp);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Whether a transactional Produce may write to `tp` (KIP-890's verification, made locally): the
 * error the coordinator gives, TRANSACTION_ABORTABLE when the partition was not added.
 */
export function verifyPartition(
  m: TransactionMetadata | undefined,
  producerId: number,
  producerEpoch: number,
  tp: TopicPartition,
): number {
  const refused = checkProducer(m, producerId, producerEpoch);
  if (refused !== ErrorCode.NONE) return refused;
  const t = m!;
  if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
  if (
    t.state !== 'Ongoing' ||
    !t.partitions.some((p) => p.topic === tp.topic && p.partition === tp.partition)
  )
    return ErrorCode.TRANSACTION_ABORTABLE;
  return ErrorCode.NONE;
}

/**
 * EndTxn from the producer (`fromClient`), or an abort the coordinator starts itself (a timeout, a
 * fenced producer) with an epoch at least the stored one. Kafka's endTransaction, version 0/1.
 */
export function endTransaction(
  m: TransactionMetadata | undefined,
  producerId: number,
  producerEpoch: number,
  commit: boolean,
  fromClient: boolean,
  now: number,
): Transition {
  if (!m || m.producerId !== producerId) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  if (fromClient ? producerEpoch !== m.producerEpoch : producerEpoch < m.producerEpoch)
    return fail(ErrorCode.PRODUCER_FENCED);
  const outcome: Record<TransactionStateName, Transition> = {
    Ongoing: { next: { ...m, state: commit ? 'PrepareCommit' : 'PrepareAbort', updatedAt: now } },
    PrepareCommit: fail(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE),
    PrepareAbort: fail(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS),
    // A retry of an end that completed: the same answer, nothing written.
    CompleteCommit: commit ? { next: null } : fail(ErrorCode.INVALID_TXN_STATE),
    CompleteAbort: commit ? fail(ErrorCode.INVALID_TXN_STATE) : { next: null },
    Empty: fail(ErrorCode.INVALID_TXN_STATE),
  };
  return outcome[m.state];
}

/** The state once every marker of a PrepareCommit/PrepareAbort is written: the transaction is over. */
export function completeTransaction(m: TransactionMetadata, now: number): TransactionMetadata {
  return {
    ...m,
    state: m.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort',
    partitions: [],
    groups: [],
    updatedAt: now,
  };
}

/**
 * Fences the producer of an Ongoing transaction (another InitProducerId, or its timeout): the epoch
 * goes up by one, so that the old producer's writes are refused, and the transaction is aborted at
 * the new epoch. Kafka's prepareFenceProducerEpoch followed by an abort from the coordinator.
 */
export function fenceAndAbort(m: TransactionMetadata, now: number): TransactionMetadata {
  return {
    ...m,
    producerEpoch: Math.min(m.producerEpoch + 1, EPOCH_EXHAUSTED + 1),
    lastProducerEpoch: -1,
    state: 'PrepareAbort',
    updatedAt: now,
  };
}

/** Version mapping of PRODUCER_FENCED: older versions of each API know INVALID_PRODUCER_EPOCH only. */
export function fencedFor(error: number, apiVersion: number, firstVersionWithFenced: number): number {
  return error === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersionWithFenced
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : error;
}
