/**
 * The doc runner: runs a Markdown document's shell sessions and SQL top to bottom against a fresh
 * `kch broker` (embedded ClickHouse in a temporary directory) and compares what each command prints
 * with what the document shows, so the docs cannot drift from what the commands do.
 *
 * The convention, for doc writers:
 *
 * - A fenced block tagged `sh`, `shell`, `bash`, `console` or untagged whose first line starts with
 *   `$ ` is a **session**: each `$ ` line is a command (continued on the next lines while a quote or
 *   a heredoc is open, or the line ends in `\`), and the lines up to the next `$ ` are exactly what it
 *   prints (stdout and stderr together). A command shown without output must print nothing and exit
 *   0; one shown with output may exit non-zero (an error the doc shows) but must print exactly that.
 * - A `sh`/`shell`/`bash` block without `$ ` lines is a **script**: run with `set -euo pipefail`, it
 *   must exit 0; what it prints is not compared (the doc shows none).
 * - A `sql` block is run with `kch sql` (the block on standard input). When the next block follows it
 *   directly (only blank lines between) and is untagged or `text`, that block is its expected output,
 *   read in `PrettyCompact` when it starts with a box (`┌`), else `TabSeparated`; otherwise the
 *   statement must print nothing.
 * - Other blocks (`json`, `ts`, `properties`, untagged text without `$ `) are not run.
 * - `<!-- doc-test: skip <reason> -->` on the line(s) before a block: not run (the reason is
 *   required: a ClickHouse server URL, a broker of its own on 9092, `npx @kch/cli`...).
 * - `<!-- doc-test: file <name> -->` before a block: its text is saved as `<name>` in the document's
 *   working directory (for `kch sql < name.sql`, `--select - < view.sql`, `--config kch.json`).
 * - `<!-- doc-test: cwd <dir> -->` before a session or script: it runs in `<dir>` of the clone (an
 *   example's directory, for its `pnpm start`) instead of the document's working directory.
 * - `<!-- doc-test: broker <args> -->` before a block: the document's broker is stopped (it must exit
 *   0) and `kch broker <args>` started in its place, on the same storage, at that point of the
 *   document (after the blocks before it made its certificates and its server.properties). When the
 *   block is a session of one command `$ kch broker ...` (how the reader starts it, which runs until
 *   Ctrl-C), that command is not run: the broker started stands for it (with the command's own
 *   arguments when the directive gives none), and what the session shows under it is compared with
 *   the broker's banner (stdout; its logs on stderr are not compared; its `kch sql` line as on the
 *   default admin port 9644, without `--admin-url`). Any other block runs as usual,
 *   once the broker listens. The runner adds `--storage` (the document's) and `--admin-port` (the port
 *   standing for 9644) when the arguments give none, and `--port` (the one standing for 9092) when
 *   they name no listeners (no `--port`, `--server-properties` or `--override listeners=...`).
 *
 * How it runs: every document gets its own temporary working directory and its own broker,
 * `kch broker --storage chdb:<dir>/kch-data --port 0 --admin-port 0`, and each command runs in
 * `bash` there (stdout and stderr together, C programs' stdout line-buffered as on a terminal) with
 * `kch` on PATH (a shim running the CLI built from its current sources, see ../kch-process.ts),
 * NODE_PATH at the clone's node_modules (a CommonJS script's `require('kafkajs')` finds it, as after
 * `npm install kafkajs`) and
 * KCH_BOOTSTRAP_SERVER / KCH_ADMIN_URL pointing at that broker. Documents say 127.0.0.1:9092 (Kafka)
 * and 127.0.0.1:9644 (admin), and 9093, 9094 and 9095 for more listeners (`localhost:9093` for a
 * SASL_SSL listener whose certificate names localhost); the runner gives each a free port and
 * rewrites `<host>:<port>` of those ports, with the host 127.0.0.1, localhost, 0.0.0.0, [::1] or none
 * (`SASL_SSL://:9093`), in what it runs (commands, scripts, files, the broker's arguments) to the
 * real ports, and back in what the commands print (./doc-broker.ts). `python3` is PATH's, or the
 * interpreter the test names (`RunDocOptions.python3`: Debian's, with python3-confluent-kafka).
 *
 * Commands get TMPDIR in the document's temporary directory, which the runner prints as `/tmp`.
 * Only what varies from run to run is normalized, in both the documented and the printed text
 * (`NORMALIZE` below): the embedded ClickHouse directory (`.../kch-data`), `mktemp` names
 * (`/tmp/tmp.XXXXXXXXXX`), topic ids, record timestamps in JSON (`"timestamp":<ms>`) and date-times
 * with milliseconds. An expected line that is exactly `...` stands for one or more lines. Everything
 * else must match exactly.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureKchBuilt, MAIN, REPO_ROOT } from '../kch-process.js';
import { DOC_ADMIN_PORT, DOC_KAFKA_PORT, DocBroker, shellWords } from './doc-broker.js';

export { REPO_ROOT };

export interface Block {
  /** The fence's info string's first word, lowercased ('' when untagged). */
  lang: string;
  /** The block's lines, without the fences. */
  lines: string[];
  /** 1-based line of the opening fence. */
  line: number;
  directive:
    | { kind: 'skip'; reason: string }
    | { kind: 'file'; name: string }
    | { kind: 'cwd'; dir: string }
    | { kind: 'broker'; args: string[] }
    | null;
  /** Only blank lines separate this block from the previous one. */
  followsPrevious: boolean;
}

const DIRECTIVE = /^<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->$/;

/** The fenced blocks of a Markdown document, with their doc-test directives. */
export function parseBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let i = 0;
  let lastBlockEnd = -2;
  while (i < lines.length) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) {
      i++;
      continue;
    }
    const fence = open[2]!;
    const indent = open[1]!.length;
    const start = i;
    const body: string[] = [];
    i++;
    while (i < lines.length && !new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(lines[i]!)) {
      body.push(lines[i]!.slice(Math.min(indent, /^\s*/.exec(lines[i]!)![0].length)));
      i++;
    }
    let directive: Block['directive'] = null;
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const d = j >= 0 ? DIRECTIVE.exec(lines[j]!.trim()) : null;
    if (d) {
      const [, kind, arg] = d;
      if (kind === 'skip') {
        if (!arg) throw new Error(`line ${j + 1}: <!-- doc-test: skip --> needs a reason`);
        directive = { kind: 'skip', reason: arg };
      } else if (kind === 'file') {
        if (!arg || /\s|\.\./.test(arg)) throw new Error(`line ${j + 1}: doc-test: file needs one file name`);
        directive = { kind: 'file', name: arg };
      } else if (kind === 'cwd') {
        if (!arg || /\s|\.\.|^\//.test(arg)) {
          throw new Error(`line ${j + 1}: doc-test: cwd needs a directory of the clone`);
        }
        directive = { kind: 'cwd', dir: arg };
      } else if (kind === 'broker') {
        directive = { kind: 'broker', args: shellWords(arg ?? '') };
      } else {
        throw new Error(`line ${j + 1}: unknown doc-test directive "${kind}" (skip, file, cwd or broker)`);
      }
    }
    const between = lines.slice(lastBlockEnd + 1, start);
    blocks.push({
      lang: open[3]!.toLowerCase(),
      lines: body,
      line: start + 1,
      directive,
      followsPrevious: blocks.length > 0 && between.every((l) => l.trim() === ''),
    });
    lastBlockEnd = i;
    i++;
  }
  return blocks;
}

/**
 * Whether `text` is a complete shell command: no quote or heredoc left open, no trailing `\`. Enough
 * of the shell's grammar for documentation: '...', "..." (with \ escapes), $'...', <<WORD, <<'WORD',
 * <<-WORD heredocs (not <<< here-strings), and comments.
 */
export function isCompleteCommand(text: string): boolean {
  const lines = text.split('\n');
  const heredocs: { word: string; strip: boolean }[] = [];
  let quote: "'" | '"' | "$'" | null = null;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (quote === null && heredocs.length > 0) {
      const h = heredocs[0]!;
      if ((h.strip ? line.replace(/^\t+/, '') : line) === h.word) heredocs.shift();
      continue;
    }
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quote === "'") {
        if (c === "'") quote = null;
      } else if (quote === "$'" || quote === '"') {
        if (c === '\\') i++;
        else if ((quote === '"' && c === '"') || (quote === "$'" && c === "'")) quote = null;
      } else if (c === '\\') {
        if (i === line.length - 1 && n === lines.length - 1) return false;
        i++;
      } else if (c === "'") {
        quote = "'";
      } else if (c === '$' && line[i + 1] === "'") {
        quote = "$'";
        i++;
      } else if (c === '"') {
        quote = '"';
      } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
        break;
      } else if (c === '<' && line.startsWith('<<<', i)) {
        i += 2; // a here-string, not a heredoc
      } else if (c === '<' && line[i + 1] === '<') {
        const m = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(line.slice(i));
        if (m) {
          heredocs.push({ word: m[3]!, strip: m[1] === '-' });
          i += m[0].length - 1;
        }
      }
    }
  }
  return quote === null && heredocs.length === 0;
}

export interface SessionCommand {
  command: string;
  expected: string[];
  line: number;
}

/** The commands of a session block and the output shown after each. */
export function parseSession(block: Block): SessionCommand[] {
  const out: SessionCommand[] = [];
  const { lines } = block;
  let i = 0;
  while (i < lines.length) {
    const first = lines[i]!;
    if (!first.startsWith('$ ')) {
      throw new Error(`line ${block.line + 1 + i}: expected a "$ " command, got ${JSON.stringify(first)}`);
    }
    const line = block.line + 1 + i;
    let command = first.slice(2);
    i++;
    while (!isCompleteCommand(command)) {
      if (i >= lines.length) throw new Error(`line ${line}: the command does not end in its block`);
      command += `\n${lines[i]!}`;
      i++;
    }
    const expected: string[] = [];
    while (i < lines.length && !lines[i]!.startsWith('$ ')) expected.push(lines[i++]!);
    out.push({ command, expected, line });
  }
  return out;
}

/** What a block is to the runner. */
export type Step =
  | { kind: 'session'; block: Block; commands: SessionCommand[] }
  | { kind: 'script'; block: Block }
  | { kind: 'sql'; block: Block; expected: Block | null }
  | { kind: 'file'; block: Block; name: string }
  | { kind: 'skip'; block: Block; reason: string }
  | { kind: 'text'; block: Block }
  /** (Re)start the broker with `args`; `banner`: the `$ kch broker` command it stands for. */
  | { kind: 'broker'; block: Block; args: string[]; banner: SessionCommand | null };

const SHELL = new Set(['sh', 'shell', 'bash', 'console', '']);

export function planDoc(markdown: string): Step[] {
  const blocks = parseBlocks(markdown);
  const steps: Step[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    const d = block.directive;
    if (d?.kind === 'broker') {
      const start = brokerSession(block);
      if (start) {
        const args = d.args.length > 0 ? d.args : shellWords(start.command).slice(2);
        steps.push({ kind: 'broker', block, args, banner: start });
        continue;
      }
      if (d.args.length === 0) {
        throw new Error(
          `line ${block.line}: doc-test: broker needs arguments before a block that is not \`$ kch broker\``,
        );
      }
      steps.push({ kind: 'broker', block, args: d.args, banner: null });
    }
    if (d?.kind === 'skip') steps.push({ kind: 'skip', block, reason: d.reason });
    else if (d?.kind === 'file') steps.push({ kind: 'file', block, name: d.name });
    else if (SHELL.has(block.lang) && block.lines.find((l) => l.trim() !== '')?.startsWith('$ ')) {
      steps.push({ kind: 'session', block, commands: parseSession(block) });
    } else if (block.lang === 'sh' || block.lang === 'shell' || block.lang === 'bash') {
      steps.push({ kind: 'script', block });
    } else if (block.lang === 'sql') {
      const next = blocks[i + 1];
      const output =
        next?.followsPrevious &&
        next.directive === null &&
        (next.lang === '' || next.lang === 'text') &&
        !next.lines.some((l) => l.startsWith('$ '))
          ? next
          : null;
      steps.push({ kind: 'sql', block, expected: output });
      if (output) i++;
    } else {
      steps.push({ kind: 'text', block });
    }
  }
  return steps;
}

/** The command of a session that is one `$ kch broker ...` (the reader starting a broker), or null. */
function brokerSession(block: Block): SessionCommand | null {
  if (!SHELL.has(block.lang) || !block.lines.find((l) => l.trim() !== '')?.startsWith('$ ')) return null;
  const commands = parseSession(block);
  const first = commands[0]!;
  if (!/^kch broker(\s|$)/.test(first.command)) return null;
  if (commands.length > 1) {
    throw new Error(
      `line ${commands[1]!.line}: nothing can follow \`$ kch broker\` in its session: it runs until Ctrl-C`,
    );
  }
  return first;
}

/** What varies per run, in documented and printed text alike: [pattern, placeholder]. */
const NORMALIZE: [RegExp, string][] = [
  // The embedded ClickHouse directory: the reader's clone, the runner's temporary directory.
  [/(?:\/[^\s/"'`]+)+\/kch-data\b/g, '<dir>/kch-data'],
  // Topic ids are random.
  [/TopicId: [A-Za-z0-9_-]{22}\b/g, 'TopicId: <topic id>'],
  // Record timestamps (CreateTime: the time of the run), as `kch consume -f json` prints them.
  [/"timestamp":\d{13}\b/g, '"timestamp":<ms>'],
  // Directories mktemp makes.
  [/\/tmp\/tmp\.[A-Za-z0-9]{10}\b/g, '/tmp/tmp.<random>'],
  // Date-times with milliseconds (record timestamps in tables).
  [/\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\b/g, '<date-time>'],
  // Node.js's own warnings about a dependency, which differ by Node.js line: kafkajs (in the examples)
  // sets negative timeouts, which Node.js 24 warns about. Not kch's output, and not the reader's to fix.
  [
    /^\(node:\d+\) \w*Warning: [^\n]*\n(?:(?:[^\n(][^\n]*\n){0,3}?\(Use `node --trace-warnings[^\n]*\n)?(?:Timeout duration was set to 1\.\n)?/gm,
    '',
  ],
];

export function normalize(text: string): string {
  let t = text;
  for (const [re, to] of NORMALIZE) t = t.replace(re, to);
  return t;
}

/** Documented output against printed output (both normalized); `...` alone on a line is 1+ lines. */
export function outputMatches(expected: string, actual: string): boolean {
  if (!expected.split('\n').includes('...')) return expected === actual;
  const pattern = expected
    .split('\n')
    .map((l) => (l === '...' ? '(?:[^\\n]*\\n)*?[^\\n]*' : l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('\\n');
  return new RegExp(`^${pattern}$`).test(actual);
}

/** A directory with `kch` in it: the build of the CLI's current sources, as the tests run them. */
function kchShim(dir: string): string {
  ensureKchBuilt();
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(join(bin, 'kch'), `#!/bin/sh\nexec ${q(process.execPath)} ${q(MAIN)} "$@"\n`);
  chmodSync(join(bin, 'kch'), 0o755);
  return bin;
}

/**
 * The environment a user's shell has: this process's, without KCH_* settings and without the npm_*
 * variables that `pnpm test` (npm, npx) put there for its scripts.
 */
export function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KCH_') && !/^npm_/i.test(k)),
  );
}

export interface ShellRun {
  code: number | null;
  output: string;
}

/** Runs `script` in bash, stdout and stderr into one pipe, in the order a terminal shows them. */
export function runShell(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ShellRun> {
  return new Promise((resolvePromise, reject) => {
    // stdbuf: C programs (kcat) write stdout line by line, as to a terminal, so that their stdout and
    // stderr lines come in the order a terminal shows them.
    const child = spawn('stdbuf', ['-oL', 'bash', '-c', `exec 2>&1\n${script}`], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : null), output });
    });
  });
}

/** One failed expectation: where in the document, what ran, what was shown, what was printed. */
export class DocMismatch extends Error {
  constructor(
    readonly doc: string,
    readonly line: number,
    readonly command: string,
    readonly expected: string,
    readonly actual: string,
    readonly code: number | null,
  ) {
    super(
      `${doc}:${line}: ${command.split('\n')[0]}${command.includes('\n') ? ' ...' : ''}\n` +
        `exit code ${code}\n--- documented (normalized) ---\n${expected}\n--- printed (normalized) ---\n${actual}`,
    );
  }
}

export interface DocRun {
  /** Blocks run (sessions, scripts, SQL) and files written. */
  ran: { line: number; kind: Step['kind'] }[];
  skipped: { line: number; reason: string }[];
}

export interface RunDocOptions {
  /** `kch broker --storage`; default embedded ClickHouse in the document's directory. */
  storage?: string;
  /** Called before each command runs (progress for a slow document). */
  onCommand?: (line: number, command: string) => void;
  /**
   * The interpreter the document's `python3` runs (Debian's /usr/bin/python3, which has
   * python3-confluent-kafka, where another python3 comes first on PATH); default: PATH's.
   */
  python3?: string;
}

/**
 * Runs the document at `path` (repository-relative) against a fresh broker, in order; throws a
 * DocMismatch at the first command whose output (or exit code) differs from the document.
 */
export async function runDoc(path: string, options: RunDocOptions = {}): Promise<DocRun> {
  const markdown = readFileSync(resolve(REPO_ROOT, path), 'utf8');
  return runMarkdown(path, markdown, options);
}

export async function runMarkdown(
  name: string,
  markdown: string,
  options: RunDocOptions = {},
): Promise<DocRun> {
  const steps = planDoc(markdown);
  const dir = mkdtempSync(join(tmpdir(), 'kch-doc-'));
  const work = join(dir, 'work');
  const tmp = join(dir, 'tmp');
  mkdirSync(work);
  mkdirSync(tmp);
  let broker: DocBroker | undefined;
  try {
    const bin = kchShim(dir);
    if (options.python3) symlinkSync(options.python3, join(bin, 'python3'));
    broker = await DocBroker.start(options.storage ?? `chdb:${join(dir, 'kch-data')}`, work);
    const { ports } = broker;
    const env: NodeJS.ProcessEnv = {
      ...userEnv(),
      PATH: `${bin}:${process.env.PATH}`,
      NODE_PATH: join(REPO_ROOT, 'node_modules'),
      TMPDIR: tmp,
      KCH_BOOTSTRAP_SERVER: `127.0.0.1:${ports.real(DOC_KAFKA_PORT)}`,
      KCH_ADMIN_URL: broker.adminUrl!,
    };
    const toRun = (text: string) => ports.toRun(text);
    const fromRun = (text: string) => normalize(ports.fromRun(text).replaceAll(`${tmp}/`, '/tmp/'));
    const shell = (script: string, block?: Block) =>
      runShell(script, {
        cwd: block?.directive?.kind === 'cwd' ? resolve(REPO_ROOT, block.directive.dir) : work,
        env,
      });

    const result: DocRun = { ran: [], skipped: [] };
    for (const step of steps) {
      const { block } = step;
      switch (step.kind) {
        case 'text':
          break;
        case 'skip':
          result.skipped.push({ line: block.line, reason: step.reason });
          break;
        case 'broker': {
          const command = step.banner?.command ?? `kch broker ${step.args.join(' ')}`;
          options.onCommand?.(block.line, command);
          await broker.restart(step.args);
          if (broker.adminUrl) env.KCH_ADMIN_URL = broker.adminUrl;
          if (step.banner) {
            const expected = normalize(step.banner.expected.join('\n'));
            // The banner names the admin URL in its `kch sql` line unless it is the default one, as
            // the documented 127.0.0.1:9644 is.
            const actual = fromRun(broker.stdout())
              .replace(/\n$/, '')
              .replace(` --admin-url http://127.0.0.1:${DOC_ADMIN_PORT} `, ' ');
            if (!outputMatches(expected, actual)) {
              throw new DocMismatch(name, step.banner.line, command, expected, actual, null);
            }
          }
          result.ran.push({ line: block.line, kind: 'broker' });
          break;
        }
        case 'file':
          writeFileSync(join(work, step.name), toRun(`${block.lines.join('\n')}\n`));
          result.ran.push({ line: block.line, kind: 'file' });
          break;
        case 'script': {
          const script = block.lines.join('\n');
          options.onCommand?.(block.line, script);
          const r = await shell(`set -euo pipefail\n${toRun(script)}`, block);
          if (r.code !== 0) {
            throw new DocMismatch(name, block.line, script, '(exit code 0)', fromRun(r.output), r.code);
          }
          result.ran.push({ line: block.line, kind: 'script' });
          break;
        }
        case 'session':
          for (const c of step.commands) {
            options.onCommand?.(c.line, c.command);
            const r = await shell(`set -uo pipefail\n${toRun(c.command)}`, block);
            const expected = normalize(c.expected.join('\n'));
            const actual = fromRun(r.output).replace(/\n$/, '');
            if (!outputMatches(expected, actual) || (expected === '' && r.code !== 0)) {
              throw new DocMismatch(name, c.line, c.command, expected, actual, r.code);
            }
          }
          result.ran.push({ line: block.line, kind: 'session' });
          break;
        case 'sql': {
          const sql = join(dir, `block-${block.line}.sql`);
          writeFileSync(sql, toRun(`${block.lines.join('\n')}\n`));
          const out = step.expected?.lines.join('\n').replace(/\n+$/, '') ?? '';
          const format = /^\s*┌/.test(out) ? ' --format PrettyCompact' : '';
          const command = `kch sql${format} < ${sql}`;
          options.onCommand?.(block.line, command);
          const r = await shell(command);
          const expected = normalize(out);
          const actual = fromRun(r.output).replace(/\n$/, '');
          if (r.code !== 0 || !outputMatches(expected, actual)) {
            throw new DocMismatch(name, block.line, command, expected, actual, r.code);
          }
          result.ran.push({ line: block.line, kind: 'sql' });
          break;
        }
      }
    }
    await broker.stop().catch((e: Error) => {
      throw new Error(`${name}: ${e.message}`);
    });
    return result;
  } finally {
    await broker?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
