// POP3 RETR throughput: 4 aliases with the same 100-message corpus, 4 parallel Python poplib clients
// (one per alias: a POP3 maildrop allows one session at a time), each looping login/STAT/UIDL/RETR-all/QUIT.
// Flags: --messages=N (default 100), --sessions=N (default 4), --secs=N (default 10).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { generateCorpus } from '../test/helpers/corpus.js';
import { startSendingApp, TEST_PASSWORD } from '../test/helpers/sending.js';

const flag = (flags: string[], name: string, fallback: number): number => {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
};

const CLIENT = `
import poplib, sys, threading, time, json
port, pw, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]); users = sys.argv[4:]
stop = time.time() + secs; lock = threading.Lock(); tot = {"sessions": 0, "retr": 0, "bytes": 0, "errors": 0}
def work(user):
    while time.time() < stop:
        try:
            p = poplib.POP3("127.0.0.1", port, timeout=30); p.user(user); p.pass_(pw)
            n, _ = p.stat(); p.uidl(); b = 0
            for i in range(1, n + 1): b += sum(len(l) + 2 for l in p.retr(i)[1])
            p.quit()
            with lock: tot["sessions"] += 1; tot["retr"] += n; tot["bytes"] += b
        except Exception as e:
            with lock: tot["errors"] += 1
ts = [threading.Thread(target=work, args=(u,)) for u in users]; t0 = time.time()
[t.start() for t in ts]; [t.join() for t in ts]; tot["secs"] = time.time() - t0
print(json.dumps(tot))
`;

export async function run(flags: string[]): Promise<void> {
  const messages = flag(flags, 'messages', 100);
  const sessions = flag(flags, 'sessions', 4);
  const secs = flag(flags, 'secs', 10);
  const app = await startSendingApp({ listeners: ['pop3'] });
  try {
    const ctx = app.running.ctx;
    ctx.directory.addDomain('bench.test');
    const corpus = generateCorpus(messages, 3);
    const users: string[] = [];
    for (let s = 0; s < sessions; s++) {
      const address = `reader${s}@bench.test`;
      const { alias } = await ctx.accounts.createAlias(address, TEST_PASSWORD);
      for (const m of corpus) await ctx.accounts.deliverOrQueue(alias, m.raw, { folder: 'INBOX', receivedAt: m.date });
      // the alias is locked, so the corpus went to the sealed queue: drain it now, outside the measurement
      const session = await ctx.accounts.authenticate(address, TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
      await ctx.accounts.whenDrained(alias.id); // the drain runs behind the login
      session.release();
      users.push(address);
    }
    const mailboxBytes = corpus.reduce((n, m) => n + m.raw.length, 0);
    const out = await promisify(execFile)('python3', ['-c', CLIENT, String(app.port('pop3')), TEST_PASSWORD, String(secs), ...users], { encoding: 'utf8', timeout: (secs + 120) * 1000 });
    const r = JSON.parse(out.stdout) as { sessions: number; retr: number; bytes: number; errors: number; secs: number };
    const result = {
      bench: 'pop3',
      parallelSessions: sessions,
      messagesPerMailbox: messages,
      mailboxBytes,
      secs: Math.round(r.secs * 10) / 10,
      sessions: r.sessions,
      retrPerSec: Math.round(r.retr / r.secs),
      mbPerSec: Math.round((r.bytes / r.secs / 1e6) * 10) / 10,
      sessionsPerSec: Math.round((r.sessions / r.secs) * 10) / 10,
      errors: r.errors,
    };
    console.log(JSON.stringify(result));
    console.log(`pop3: ${result.retrPerSec} RETR/s, ${result.mbPerSec} MB/s, ${result.sessionsPerSec} sessions/s over ${sessions} parallel sessions (${messages} msgs, ${(mailboxBytes / 1e6).toFixed(2)} MB per mailbox, ${result.errors} errors)`);
  } finally {
    await app.stop();
    fs.rmSync(app.dir, { recursive: true, force: true });
  }
}
