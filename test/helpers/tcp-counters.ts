// Linux's TCP counters (/proc/net/netstat): tests of TCP_QUICKACK count the delayed ACKs the kernel sent.
import fs from 'node:fs';

/** Whether the counters can be read here (Linux with /proc). */
export const tcpCountersAvailable = process.platform === 'linux' && fs.existsSync('/proc/net/netstat');

/** The kernel's running count of delayed ACKs (TcpExt DelayedACKs), all sockets of the network namespace. */
export function delayedAcks(): number {
  const text = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < text.length; i += 2) {
    const names = text[i]!.split(/\s+/);
    const values = text[i + 1]!.split(/\s+/);
    if (names[0] !== 'TcpExt:') continue;
    const at = names.indexOf('DelayedACKs');
    if (at > 0) return Number(values[at]);
  }
  throw new Error('no TcpExt DelayedACKs counter');
}
