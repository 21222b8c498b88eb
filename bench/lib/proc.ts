/**
 * What a process under test costs, read from /proc (Linux): CPU time of the whole process (every
 * thread: the JavaScript main thread, libuv's pool, ClickHouse's threads inside chdb), CPU time of the
 * main thread alone, per-thread-name CPU, and resident memory (current, and the peak since the last
 * reset: writing 5 to /proc/<pid>/clear_refs resets VmHWM, so each phase gets its own peak).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux we know of
}

const MiB = 1024 * 1024;

/** utime and stime of a /proc/.../stat line, in seconds. */
function parseStat(text: string): { user: number; system: number } {
  // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the name, 0-based: state(0) ... utime(11) stime(12).
  return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond };
}

export interface CpuSnapshot {
  user: number;
  system: number;
  /** Main (JavaScript) thread: user + system. */
  main: number;
  /** CPU seconds by thread id, with the thread's name. */
  threads: Map<number, { name: string; cpu: number }>;
}

export function cpuSnapshot(pid: number): CpuSnapshot | null {
  try {
    const whole = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const main = parseStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
    const threads = new Map<number, { name: string; cpu: number }>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const s = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        let name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        // Node's own threads are all called "node": the main (JavaScript) thread, and libuv's pool,
        // where chdb runs queryAsync/insert work (ClickHouse's own pools have their own names).
        if (Number(tid) === pid) name = 'main (JS)';
        else if (name === 'node') name = 'node-worker';
        threads.set(Number(tid), { name, cpu: s.user + s.system });
      } catch {
        // the thread ended meanwhile
      }
    }
    return { user: whole.user, system: whole.system, main: main.user + main.system, threads };
  } catch {
    return null;
  }
}

export interface CpuUsage {
  /** CPU seconds of the whole process (all threads). */
  cpuSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  /** CPU seconds of the JavaScript main thread. */
  mainThreadSeconds: number;
  /** CPU seconds by thread name (threads that ended during the phase are missing here, not in the total). */
  byThreadName: Record<string, number>;
}

export function cpuDelta(a: CpuSnapshot | null, b: CpuSnapshot | null): CpuUsage | null {
  if (!a || !b) return null;
  const byName: Record<string, number> = {};
  for (const [tid, t] of b.threads) {
    const before = a.threads.get(tid)?.cpu ?? 0;
    const d = t.cpu - before;
    if (d <= 0) continue;
    // Group numbered pools ("QueryPipelineEx", "libuv-worker") under one name.
    const name = t.name.replace(/[0-9]+$/, '').replace(/[-_:]+$/, '') || t.name;
    byName[name] = round3((byName[name] ?? 0) + d);
  }
  return {
    cpuSeconds: round3(b.user + b.system - a.user - a.system),
    userSeconds: round3(b.user - a.user),
    systemSeconds: round3(b.system - a.system),
    mainThreadSeconds: round3(b.main - a.main),
    byThreadName: byName,
  };
}

export interface MemoryStatus {
  rssMiB: number;
  /** Peak RSS since the process started or since the last resetPeakRss. */
  hwmMiB: number;
  /** Anonymous memory (heaps, buffers) and file-backed pages (mapped code: libchdb is large) of the RSS. */
  anonMiB: number;
  fileMiB: number;
}

export function memoryStatus(pid: number): MemoryStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const mib = (key: string) => round1((kb(key) * 1024) / MiB);
    return { rssMiB: mib('VmRSS'), hwmMiB: mib('VmHWM'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile') };
  } catch {
    return null;
  }
}

/** Resets the peak RSS (VmHWM) of a process we own; false when the kernel refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples RSS every `intervalMs` while running: the peak seen (in case VmHWM cannot be reset) and a
 * timeline (for the sustained run).
 */
export class RssSampler {
  peakMiB = 0;
  readonly timeline: { t: number; rssMiB: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly started = performance.now();

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const m = memoryStatus(this.pid);
    if (!m) return;
    this.peakMiB = Math.max(this.peakMiB, m.rssMiB);
    this.timeline.push({ t: round1((performance.now() - this.started) / 1000), rssMiB: m.rssMiB });
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
