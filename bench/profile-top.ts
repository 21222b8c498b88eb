/**
 * Top self-time functions of a V8 .cpuprofile (what `node --cpu-prof` writes; `pnpm bench --cpu-prof`
 * puts one per broker process in bench/results/<run>/profiles/):
 *
 *   npx tsx bench/profile-top.ts <file.cpuprofile> [--top 25] [--by function|file|area]
 *
 * Self time of a sample is the time to the next sample; it is summed per function (name + file + line),
 * per file, or per area (kch package, node internals, dependencies, GC, idle). Percentages are of the
 * busy time (everything but "(idle)"), which is the main thread's CPU time.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export type Grouping = 'function' | 'file' | 'area';

const ROOT = process.cwd();

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(`${ROOT}/`)) u = u.slice(ROOT.length + 1);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  return u;
}

function area(frame: CallFrame): string {
  const fn = frame.functionName;
  if (!frame.url) {
    if (fn.startsWith('(')) return fn; // (garbage collector), (program), (idle), (root)
    return '(native)';
  }
  const u = shortUrl(frame.url);
  const m = /^packages\/([^/]+)\/src\/(?:([^/]+)\/)?/.exec(u);
  if (m) return `@kch/${m[1]}${m[2] && !m[2].includes('.') ? `/${m[2]}` : ''}`;
  if (u.startsWith('node:')) return 'node internals';
  if (u.startsWith('bench/')) return 'bench harness';
  const dep = /^(@[^/]+\/[^/]+|[^/]+)/.exec(u);
  return dep ? `dependency ${dep[1]}` : u;
}

function key(frame: CallFrame, by: Grouping): string {
  if (by === 'area') return area(frame);
  if (!frame.url) return frame.functionName || '(anonymous)';
  const file = shortUrl(frame.url);
  if (by === 'file') return file;
  return `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
}

/** Self time per function, file or area, largest first; `busyMs` excludes "(idle)". */
export function selfTimes(
  profile: CpuProfile,
  by: Grouping = 'function',
): { busyMs: number; rows: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    const total = profile.endTime - profile.startTime;
    const avg = total / samples.length;
    for (let i = 0; i < samples.length; i++) {
      const d = i + 1 < deltas.length ? deltas[i + 1]! : avg;
      selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, d));
    }
  } else {
    // Old profiles: hit counts only.
    const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const per = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per);
  }
  const agg = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') continue;
    busy += us;
    const k = key(node.callFrame, by);
    agg.set(k, (agg.get(k) ?? 0) + us);
  }
  const rows = [...agg.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { busyMs: busy / 1000, rows };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function formatTop(rows: SelfTime[], n: number): string {
  return rows
    .slice(0, n)
    .map((r) => `${r.ms.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`)
    .join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  const at = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (!file) {
    process.stderr.write(
      'usage: npx tsx bench/profile-top.ts <file.cpuprofile> [--top 25] [--by function|file|area]\n',
    );
    process.exit(2);
  }
  const top = Number(at('--top') ?? 25);
  const by = (at('--by') ?? 'function') as Grouping;
  const { busyMs, rows } = selfTimes(readProfile(file), by);
  process.stdout.write(
    `${file}: ${busyMs.toFixed(0)} ms busy (main thread), top ${top} by self time per ${by}\n`,
  );
  process.stdout.write(`${formatTop(rows, top)}\n`);
}
