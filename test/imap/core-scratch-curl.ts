import { startImapFixture } from '/work/main/test/helpers/imap-server.js';
import { spawnSync } from 'node:child_process';
const fx = await startImapFixture({ engine: 'own' });
const u = await fx.addUser('cu');
const mb = await fx.mailboxOf(u.address, u.password);

await mb.append('Archive', Buffer.from('Subject: x\r\n\r\nzqpy4242\r\n'));
const args = ['-v', '-u', `${u.address}:${u.password}`, '--max-time', '5', '-sS'];
for (const p of ['/', '/Archive;MAILINDEX=1']) {
  const r = spawnSync('curl', [...args, `imap://127.0.0.1:${fx.port}${p}`], { encoding: 'utf8' });
  console.log(p, r.status, r.stdout.slice(0, 300), r.stderr.split('\n').filter((l) => /^[<>]/.test(l)).join('\n'));
}
await fx.close();
