// Child process for the kill -9 restore test: runs one restore (it pauses at SEALPOST_TEST_RESTORE_PAUSE).
import { restoreReplace } from '../../server/backup/index.js';

const [dataDir, mailboxId, generationId] = process.argv.slice(2) as [string, string, string];
const key = Buffer.from(process.env.TEST_MAILBOX_KEY ?? '', 'hex');
await restoreReplace({ dataDir, mailboxId, generationId, key });
process.stdout.write('restore-done\n');
