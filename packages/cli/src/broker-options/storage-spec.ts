/**
 * `--storage`: where a broker keeps its data, from the spec a user gives (a word, a path, a URL).
 */
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

/** Where embedded ClickHouse keeps its data unless told otherwise (relative to the working directory). */
export const DEFAULT_DATA_DIR = './kch-data';
export const DEFAULT_STORAGE = `chdb:${DEFAULT_DATA_DIR}`;

/** Where a broker keeps its data, as `--storage` names it. */
export type StorageSpec =
  | { kind: 'memory' }
  | { kind: 'chdb'; dir: string }
  | { kind: 'url'; url: string /** without the password, for the banner and logs */; display: string };

/**
 * `memory`, `chdb`, `chdb:<dir>`, a path (`./data`, `/var/lib/kch`: embedded ClickHouse there, as users
 * of embedded databases give a directory) or a ClickHouse http(s) URL. A bare word (`data`) is refused
 * with the spelling to use: it is as likely a misspelt `memory` as a directory.
 */
export function parseStorageSpec(value: string, cwd = process.cwd()): StorageSpec | string {
  const v = value.trim();
  if (v === 'memory') return { kind: 'memory' };
  const chdb = (dir: string): StorageSpec => ({
    kind: 'chdb',
    dir: isAbsolute(dir) ? dir : resolve(cwd, dir),
  });
  if (v === 'chdb' || v.startsWith('chdb:')) {
    const dir = v === 'chdb' ? DEFAULT_DATA_DIR : v.slice('chdb:'.length);
    if (dir === '') return 'chdb: needs a directory, e.g. chdb:./kch-data';
    return chdb(dir);
  }
  if (v.startsWith('~')) {
    // A shell expands ~ in an unquoted argument; here it came quoted, or from KCH_STORAGE or the file.
    const home = v === '~' || v.startsWith('~/') ? `chdb:${homedir()}${v.slice(1)}` : 'chdb:<full path>';
    return `~ is expanded by a shell, not by kch: give the directory as ${home}`;
  }
  if (/^\.{1,2}$/.test(v) || (v.includes('/') && !v.includes(':'))) return chdb(v);
  if (/^https?:\/\//i.test(v)) {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return `${JSON.stringify(v)} is not a valid URL`;
    }
    const display = new URL(u.href);
    display.password = '';
    return { kind: 'url', url: u.href, display: display.href };
  }
  if (/^[\w.-]+$/.test(v))
    return `unknown storage ${JSON.stringify(v)}: for embedded ClickHouse in the directory ${v}, write chdb:${v} (or ./${v}); else use memory or a ClickHouse server URL such as http://default:password@localhost:8123`;
  return `unknown storage ${JSON.stringify(v)}: use memory, chdb:<dir> (embedded ClickHouse) or a ClickHouse server URL such as http://default:password@localhost:8123`;
}
