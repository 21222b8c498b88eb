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

/**
 * Busy CPU seconds of the whole machine (every process, /proc/stat), all cores together: with a
 * process's own CPU over the same interval, what the rest of the machine took meanwhile.
 */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((a, x, i) => (i === 3 || i === 4 ? a : a + x), 0);
  return busy / 100; // USER_HZ, 100 on Linux
}
