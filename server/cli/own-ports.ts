// Which TCP ports a process listens on (Linux /proc), so `doctor` can tell the ports of the running
// Sealpost (its pid comes from the control socket's ping) from a conflict with another program.
import fs from 'node:fs';
import path from 'node:path';

const LISTEN_STATE = '0A';

/** Socket inode → local port for sockets in LISTEN state, from the text of /proc/net/tcp or tcp6. */
export function listeningInodes(procNetTcp: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields.length < 10 || fields[3] !== LISTEN_STATE) continue;
    const port = parseInt(fields[1]!.split(':')[1] ?? '', 16);
    if (Number.isInteger(port)) out.set(fields[9]!, port);
  }
  return out;
}

/**
 * The TCP ports pid listens on, or null when that cannot be read (not Linux, no /proc, another user's
 * process). Reading another process's fd table needs the same user, which doctor and serve share.
 */
export function listeningPortsOf(pid: number, proc = '/proc'): Set<number> | null {
  try {
    const inodes = new Map<string, number>();
    for (const file of ['tcp', 'tcp6']) {
      const table = path.join(proc, 'net', file);
      if (fs.existsSync(table)) for (const [inode, port] of listeningInodes(fs.readFileSync(table, 'utf8'))) inodes.set(inode, port);
    }
    const ports = new Set<number>();
    const fdDir = path.join(proc, String(pid), 'fd');
    for (const fd of fs.readdirSync(fdDir)) {
      let target: string;
      try {
        target = fs.readlinkSync(path.join(fdDir, fd));
      } catch {
        continue; // closed while we read
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const port = inode ? inodes.get(inode) : undefined;
      if (port !== undefined) ports.add(port);
    }
    return ports;
  } catch {
    return null;
  }
}
