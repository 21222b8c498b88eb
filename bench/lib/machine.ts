/** The machine and the versions a run measured on, for results.json's meta and the report's header. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './children.js';

export function machine(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const version = (pkg: string, from = ROOT) => {
    try {
      return JSON.parse(readFileSync(join(from, 'node_modules', pkg, 'package.json'), 'utf8'))
        .version as string;
    } catch {
      return null;
    }
  };
  return {
    nproc: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    cpuModel: model,
    kernel: release(),
    node: process.version,
    chdb: version('chdb', join(ROOT, 'packages/storage')),
    kafkajs: version('kafkajs'),
    loadavgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
