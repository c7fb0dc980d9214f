// server/ops: every owner operation once. The CLI (control socket), the admin API and the scheduler call
// these and only map arguments and format replies. Each runs as (ctx, input, call) and writes one audit line.
export type { OpsContext, OpsCall, OpsCaller, OpsProgress } from './context.js';
export { SCHEDULER_CALL } from './context.js';
export { requireAliasKey } from './key.js';
export { assertCanChangePassword, changePassword, type ChangePasswordInput, type ChangePasswordResult } from './password.js'; // passwd
export { removeAlias } from './remove.js'; // remove
export { lockAliases, setRemember, setQuota, setEnabled, type RememberResult } from './alias-state.js'; // lock, remember, quota, enabled
export { backupNow, verifyBackup, type BackupNowInput, type BackupNowResult, type BackupRow } from './backup.js'; // backup, verify
export { restoreBackup, type RestoreInput, type RestoreOutcome } from './restore.js'; // restore
export { exportMailbox, importMailbox, type ExportInput, type ExportOutcome, type ImportInput, type ImportOutcome } from './transfer.js'; // export, import
export { pushBackups, type PushInput, type PushOutcome, type PushRow } from './push.js'; // push
export { listOutgoing, showOutgoing, retryOutgoing, cancelOutgoing, parseOutgoingId, DEFAULT_OUTGOING_PAGE, type OutgoingOpsContext } from './outgoing.js'; // queue list/show/retry/cancel
export { addAppPassword, listAppPasswords, revokeAppPassword, type AddAppPasswordInput, type AppPasswordRow } from './app-passwords.js'; // app-password add/list/revoke
export { listMailLimits, listMailOptions, requireMailOption, requireSetting, setMailLimit, setMailOption, setSaveSentCopy, restartServer, type MailLimitState, type MailOptionState, type RestartPlan } from './settings.js'; // settings, sent copy, restart
export { junkStatus, setJunkFilter, trainJunk, type JunkTrainInput, type JunkTrainOutcome } from './junk.js'; // junk status, junk train, junk on/off
export { mailRulesView, getMailScript, putMailScript, activateMailScript, deleteMailScript, saveMailRulesForm, type MailRulesView, type MailScriptRow } from './mail-rules.js'; // alias rules
export { generateScript, readForm, RULES_SCRIPT_NAME, type MailRulesForm, type MailRule, type VacationForm } from './mail-rules-script.js';
