/**
 * Who wrote a file: a token in the names of spool files and archive temp files, so that a sweep
 * can tell the files of a dead process from those of a live one and remove only the former.
 *
 * `<host>.<boot>.<pidns>.<pid>.<start>`: the host name (escaped), the first 8 hex digits of the
 * kernel's boot id, the inode of the pid namespace, the pid and the process start time in clock
 * ticks since boot (Linux `/proc`; `x` where unknown). A pid alone is not enough: containers all
 * run as pid 1, and pids are reused. Liveness is only ever judged for a token of this very host,
 * boot and pid namespace; for any other (another host or container sharing the folder) it is
 * `unknown`, and callers fall back to the file's age.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  host: string;
  boot: string;
  pidNs: string;
  pid: number;
  start: string;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

const UNKNOWN = 'x';
const TOKEN = /^([A-Za-z0-9_-]+)\.([0-9a-f]{8}|x)\.(\d+|x)\.(\d+)\.(\d+|x)$/;

/** A host name as a file-name-safe word: `[A-Za-z0-9-]` kept, everything else `_` + hex bytes. */
export function escapeHost(host: string): string {
  return (
    Array.from(Buffer.from(host, 'utf8'))
      .map((byte) => {
        const ch = String.fromCharCode(byte);
        return /[A-Za-z0-9-]/.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
      })
      .join('') || '_'
  );
}

export function unescapeHost(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === '_' && /^[0-9a-f]{2}$/.test(escaped.slice(i + 1, i + 3))) {
      bytes.push(parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(escaped.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
function startTicks(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[19];
    return ticks && /^\d+$/.test(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

let own: ProcessIdentity | undefined;

/** This process. */
export function ownIdentity(): ProcessIdentity {
  own ??= {
    host: escapeHost(hostname()),
    boot: readOr(() => {
      const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')
        .replace(/[^0-9a-f]/gi, '')
        .toLowerCase()
        .slice(0, 8);
      return id.length === 8 ? id : UNKNOWN;
    }, UNKNOWN),
    pidNs: readOr(() => /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? UNKNOWN, UNKNOWN),
    pid: process.pid,
    start: startTicks('self') ?? UNKNOWN,
  };
  return own;
}

/** Another process of this host (same boot and pid namespace), e.g. a child: as it would name itself. */
export function identityOfLocalPid(pid: number): ProcessIdentity {
  return { ...ownIdentity(), pid, start: startTicks(pid) ?? UNKNOWN };
}

export function identityToken(identity: ProcessIdentity = ownIdentity()): string {
  return `${identity.host}.${identity.boot}.${identity.pidNs}.${identity.pid}.${identity.start}`;
}

export function parseIdentityToken(token: string): ProcessIdentity | undefined {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const pid = Number(m[4]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { host: m[1]!, boot: m[2]!, pidNs: m[3]!, pid, start: m[5]! };
}

/** The pattern of a token inside a longer name (for callers that build their own regex). */
export const IDENTITY_TOKEN_SOURCE = TOKEN.source.slice(1, -1);

/**
 * Whether the process behind `other` runs now. `unknown` unless it is of this host, boot and pid
 * namespace; `dead` only when that pid does not exist or is another process (another start time).
 */
export function liveness(other: ProcessIdentity, me: ProcessIdentity = ownIdentity()): Liveness {
  if (other.host !== me.host || other.boot !== me.boot || other.pidNs !== me.pidNs) return 'unknown';
  if (other.pid === me.pid && other.start === me.start) return 'alive';
  try {
    process.kill(other.pid, 0);
  } catch (err) {
    // EPERM: a process of another user has that pid: it exists.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  if (other.start === UNKNOWN || me.start === UNKNOWN) return 'alive'; // cannot tell a reused pid: keep
  const now = startTicks(other.pid);
  if (now === undefined) return 'alive';
  return now === other.start ? 'alive' : 'dead';
}
