import { RawImap } from '../helpers/imap-raw.js';
import { startImapFixture } from '../helpers/imap-server.js';
const fx = await startImapFixture({ engine: 'own', logLevel: 'warn' });
const u = await fx.addUser('smoke');
const r = await RawImap.connect(fx.port);
console.log((await r.command(`LOGIN "${u.address}" "${u.password}"`)).tagged);
for (const c of process.argv.slice(2)) {
  const rep = await r.command(c);
  console.log('>', c); for (const l of rep.lines) console.log('  ' + l); console.log('  ' + rep.tagged);
}
r.close(); await fx.close();
