// Shapes of the admin API's answers (see server/admin/routes-*.ts).
export interface AuthState {
  setupRequired: boolean;
  authenticated: boolean;
  totpEnabled: boolean;
  csrfToken: string;
}

export interface Warning {
  code: string;
  message: string;
  aliasId?: string;
}

export interface Status {
  hostname: string;
  host: string;
  services: { name: string; port: number; enabled: boolean; security: string }[];
  connections: { mailSessions: number; unlockedMailboxes: number };
  queues: { sealed: number; outbound: { queued: number; sending: number; delivered: number; bounced: number; messages: number } };
  aliases: { id: string; displayAddress: string; usedBytes: number; fileBytes: number; quotaBytes: number | null; lastBackup: string | null; queued: number; unlocked: boolean }[];
  appKey: { source: string };
  tls: { source: string; fingerprint: string };
  warnings: Warning[];
}

export interface Domain {
  name: string;
  unicodeName: string;
  aliasCount: number;
  created: string;
  /** Catch-all alias address, or null. */
  catchAll: string | null;
  /** DMARC p=reject failures go to Junk instead of being refused. */
  dmarcRejectToJunk: boolean;
  /** Where the domain's DMARC and TLS aggregate reports are received (rua=mailto:). */
  reportAddress: string;
}

export interface DnsRecord {
  purpose: string;
  type: string;
  name: string;
  value: string;
  required: boolean;
  zone: string;
  status?: 'ok' | 'missing' | 'different' | 'error' | 'unchecked';
  found?: string[];
}

/** GET /api/aliases/:id/junk: the junk filter's state; counts null while the mailbox is locked. */
export interface JunkView {
  enabled: boolean;
  aliasOn: boolean;
  offForAll: boolean;
  unlocked: boolean;
  spamMessages: number | null;
  hamMessages: number | null;
  tokens: number | null;
}

export interface Alias {
  id: string;
  address: string;
  displayAddress: string;
  domain: string;
  enabled: boolean;
  unlocked: boolean;
  remember: boolean;
  /** Submission also files a copy of what this alias sends in its Sent folder. */
  saveSentCopy: boolean;
  quotaBytes: number | null;
  usedBytes: number;
  fileBytes: number;
  queued: number;
  /** The sealed queue's drain (see server/accounts/drain.ts). */
  drain: DrainProgress;
  created: string;
  lastBackup: string | null;
  forwards: { id: number; target: string; keepCopy: boolean }[];
  webhooks: { id: number; url: string; secret: string }[];
}

/** An app password as the server lists it (never the password itself). */
export interface AppPassword {
  id: string;
  name: string;
  created: string;
  lastUsed: string | null;
  /** The client address of the last login with it. */
  lastIp: string | null;
}

export interface Generation {
  id: string;
  time: string;
  size: number;
  verified: boolean;
  location: string;
  kind: string;
}

export interface BackupGroup {
  aliasId: string;
  displayAddress: string;
  unlocked: boolean;
  generations: Generation[];
}

/** How the last test or push of a remote ended. */
export interface RemoteActivity {
  at: string;
  ok: boolean;
  summary: string;
}

export interface Remote {
  name: string;
  type: 'r2' | 's3';
  bucket: string;
  prefix: string;
  endpoint: string | null;
  accessKeyId: string;
  lastTest: RemoteActivity | null;
  lastPush: RemoteActivity | null;
}

export interface LogEntry {
  time: string;
  event: string;
  alias: string | null;
  detail: Record<string, string | number | boolean | null> | null;
  source: 'admin' | 'audit';
}

/** Where an alias's sealed queue stands: moving into the mailbox, stopped by a full mailbox or an error, or idle. */
export interface DrainProgress {
  state: 'idle' | 'draining' | 'over-quota' | 'error';
  queued: number;
  drained: number;
  since: string | null;
  error?: string;
}

/** One result of the mail host name check, with one sentence saying what to fix. */
export interface HostnameFinding {
  code: string;
  severity: 'ok' | 'info' | 'warn' | 'error';
  message: string;
}

export interface HostnameReport {
  hostname: string;
  ascii: string | null;
  fqdn: boolean;
  severity: HostnameFinding['severity'];
  findings: HostnameFinding[];
}

/** GET /api/hostname: the name in use, the saved one, what the environment overrides, and the check. */
export interface HostnameView {
  running: string;
  saved: string | null;
  overriddenBy: string | null;
  publicIp: { saved: string | null; overriddenBy: string | null; effective: string[] };
  report: HostnameReport;
}

/** One source IP that sent mail as a domain, summed over the DMARC aggregate reports kept (GET /api/reports). */
export interface DmarcSource {
  sourceIp: string;
  messages: number;
  dkimPass: number;
  spfPass: number;
  dmarcPass: number;
  quarantined: number;
  rejected: number;
  reporters: string[];
}

/** TLS sessions one reporting organization made to our MX, summed over the TLS reports kept. */
export interface TlsReportingOrg {
  org: string;
  successful: number;
  failed: number;
  failureTypes: { type: string; sessions: number }[];
}

export interface ReceivedReport {
  kind: 'dmarc' | 'tls';
  org: string;
  reportId: string;
  policyDomain: string;
  begin: string;
  end: string;
  received: string;
  /** DMARC: messages; TLS: sessions. */
  total: number;
  /** DMARC: messages failing DMARC; TLS: failed sessions. */
  failing: number;
}

export interface DomainReports {
  domain: string;
  unicodeName: string;
  reportAddress: string;
  dmarc: { reports: number; messages: number; dmarcPass: number; sources: DmarcSource[] };
  tls: { reports: number; successful: number; failed: number; orgs: TlsReportingOrg[] };
  recent: ReceivedReport[];
}

export interface ReportsOverview {
  retentionDays: number;
  domains: DomainReports[];
}

/** Where an outgoing message stands (GET /api/outgoing). */
export type OutgoingStatus = 'waiting' | 'sending' | 'delivered' | 'bounced' | 'cancelled' | 'partly delivered';

/** One delivery attempt of one recipient: whom it talked to, how, and what came back. Times in ms since the epoch. */
export interface OutgoingAttempt {
  at: number;
  outcome: 'delivered' | 'deferred' | 'bounced';
  code: number;
  response: string;
  host: string | null;
  address: string | null;
  tlsVersion: string | null;
  tlsCipher: string | null;
  verified: boolean;
  policy: 'dane' | 'mta-sts' | 'relay' | 'opportunistic' | null;
}

export interface OutgoingSummary {
  id: string;
  kind: 'submission' | 'forward' | 'dsn';
  sender: string;
  aliasId: string | null;
  created: number;
  finished: number | null;
  size: number;
  status: OutgoingStatus;
  recipients: number;
  attempts: number;
  nextAttempt: number | null;
}

export interface OutgoingRecipient {
  address: string;
  status: 'waiting' | 'sending' | 'delivered' | 'bounced' | 'cancelled';
  attempts: number;
  nextAttempt: number | null;
  lastCode: number | null;
  lastResponse: string | null;
  history: OutgoingAttempt[];
  olderAttempts: number;
}

export interface OutgoingDetail extends OutgoingSummary {
  recipientList: OutgoingRecipient[];
  moreRecipients: number;
}

export interface OutgoingPage {
  messages: OutgoingSummary[];
  next: string | null;
}

/** One rule of the mail rules form (server/ops/mail-rules-script.ts MailRule). */
export interface MailRule {
  field: 'from' | 'to' | 'subject' | 'header';
  header?: string;
  match: 'contains' | 'is' | 'matches';
  value: string;
  action: 'move' | 'read' | 'flag' | 'delete' | 'forward';
  folder?: string;
  address?: string;
  stop: boolean;
}

export interface VacationForm {
  enabled: boolean;
  subject: string;
  text: string;
  days: number;
}

export interface MailRulesForm {
  rules: MailRule[];
  vacation: VacationForm;
}

/** GET /api/aliases/:id/rules */
export interface MailRulesView {
  scripts: { name: string; active: boolean; size: number }[];
  form: MailRulesForm;
  /** The "sealpost" script was changed by a mail app: saving the form replaces it. */
  foreign: boolean;
  /** The active script when it is not the form's own, shown as text. */
  activeText: { name: string; content: string } | null;
}
