/**
 * Real Kafka clients the tests drive: kcat, and Debian's python3 with confluent-kafka (librdkafka)
 * and kafka-python. A test needing a missing one skips with the reason locally and fails in CI.
 */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

export interface Tool {
  available: boolean;
  reason: string;
}

function probe(name: string, cmd: string, args: string[], install: string): Tool {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  const available = r.status === 0;
  const reason = available ? '' : `${name} is not installed (${install})`;
  if (!available && process.env.CI) {
    throw new Error(`${reason}; CI must have it: .ci/run installs it`);
  }
  return { available, reason };
}

export const kcat = probe('kcat', 'kcat', ['-V'], 'apt-get install kcat');
export const confluentKafka = probe(
  'python3-confluent-kafka',
  PYTHON,
  ['-c', 'import confluent_kafka'],
  'apt-get install python3-confluent-kafka',
);
export const kafkaPython = probe(
  'python3-kafka',
  PYTHON,
  ['-c', 'import kafka'],
  'apt-get install python3-kafka',
);

export const openssl = probe('openssl', 'openssl', ['version'], 'apt-get install openssl');
