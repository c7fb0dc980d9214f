// Which TCP ports a process listens on, from Linux /proc: how doctor tells the running Sealpost's own
// ports from a conflict with another program.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { listeningInodes, listeningPortsOf } from '../../server/cli/own-ports.js';
import { freePort } from '../helpers/ports.js';

const TABLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0',
  '   1: 0100007F:0019 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1',
  'garbage line',
  '',
].join('\n');

describe('listening ports of a process (/proc)', { skip: process.platform === 'linux' ? false : 'Linux only' }, () => {
  it('reads LISTEN sockets (state 0A) with their port and inode, skipping other states and junk', () => {
    assert.deepEqual([...listeningInodes(TABLE)], [['4242', 8080]]);
    assert.deepEqual([...listeningInodes('')], []);
  });

  it('finds a port this very process listens on, and not one it does not', async () => {
    const port = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const ports = listeningPortsOf(process.pid);
      assert.ok(ports, 'this process can read its own /proc entries');
      assert.ok(ports.has(port), `port ${port} in ${[...ports].join(', ')}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.equal(listeningPortsOf(process.pid)?.has(port), false);
  });

  it('says "unknown" (null) for a process that does not exist', () => {
    assert.equal(listeningPortsOf(2 ** 22 + 12345), null);
  });
});
