// What every service receives from the composition root (server/app.ts). No module keeps global state.
import type { Accounts, SealedQueuePort } from './accounts/index.js';
import type { DataLayout, SealpostConfig } from './config/index.js';
import type { TlsMaterial } from './config/tls.js';
import type { KeyRing } from './crypto/index.js';
import type { Directory } from './directory/index.js';
import type { Logger } from './log.js';
import type { MailboxStore } from './mailbox/types.js';
import type { Listener } from './net.js';
import type { OutboundPort, OutboundService, RestartPort } from './ports.js';

/** Where the app key came from; 'file' is the headless fallback that doctor warns about. */
export interface AppKeyInfo {
  readonly source: 'keychain' | 'env' | 'file';
  readonly warning?: string;
}

export type { Listener, ListenerSecurity } from './net.js';

export interface AppContext {
  readonly config: SealpostConfig;
  readonly logger: Logger;
  /** Paths inside the data dir (sealpost.db, mailboxes/, queue/, outbound.sqlite, backups/, tls/). */
  readonly paths: DataLayout;
  /** The app key itself (encrypts sealpost.db, queue and outbound files, stored secrets). Never log it. */
  readonly appKey: Buffer;
  readonly appKeyInfo: AppKeyInfo;
  readonly directory: Directory;
  readonly accounts: Accounts;
  readonly mailboxes: MailboxStore;
  readonly queue: SealedQueuePort;
  readonly keyRing: KeyRing;
  readonly tls: TlsMaterial;
  /** outbound.sqlite: submission and forwarding enqueue here; the worker runs only under `serve`. */
  readonly outbound: OutboundService;
  /** Queue a message for sending; what an engine that sends mail uses (never the queue itself). */
  readonly outboundPort: OutboundPort;
  /** Restarting in this process; present only under `sealpost serve`. */
  readonly restart?: RestartPort;
}

/** A long-running part of the appliance (IMAP, POP3, MX, submission, admin, jobs). */
export interface Service {
  readonly name: string;
  /** Opens its listeners (none for background jobs); rejects if a port cannot be bound. */
  start(): Promise<Listener[]>;
  /** Stops accepting, closes sessions, releases mailboxes. Must resolve even if start() failed half-way. */
  stop(): Promise<void>;
}

export function formatListener(listener: Listener): string {
  const host = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
  return `${listener.name} listening on ${host}:${listener.port} (${listener.security})`;
}
