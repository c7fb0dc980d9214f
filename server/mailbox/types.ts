// Public types of server/mailbox: the encrypted per-alias store. Protocol code sees only these.
// Nothing here mentions SQL; errors crossing the boundary are the classes in ./errors.ts.
import type { SieveStore } from './sieve-store.js';

/** uuid of a mailbox file (mailboxes/<uuid>.sqlite); never derived from an address. */
export type MailboxId = string & { readonly __brand: 'MailboxId' };

export type SpecialUse = '\\Drafts' | '\\Sent' | '\\Junk' | '\\Trash' | '\\Archive' | '\\All' | '\\Flagged';

export interface FolderInfo {
  /** Full path with '/' as hierarchy separator; 'INBOX' is case-insensitive. */
  readonly path: string;
  readonly specialUse: SpecialUse | null;
  /** The folder's path is in the subscription list (see Mailbox.listSubscriptions). */
  readonly subscribed: boolean;
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly highestModseq: number;
  /** A name kept only for its children after DELETE (RFC 3501 \Noselect): holds no messages, cannot be selected. */
  readonly noselect?: boolean;
  /**
   * RFC 8474 MAILBOXID: 'F' + 32 hex digits, random; kept across RENAME, new when a folder is (re-)created.
   * Renaming INBOX moves its messages to a new folder, which gets a new one; INBOX keeps its own.
   */
  readonly mailboxId: string;
}

export interface FolderStatus extends FolderInfo {
  readonly messages: number;
  readonly unseen: number;
  /** Sum of message sizes in bytes. */
  readonly size: number;
  /** RFC 3501 \Recent count: messages with uid >= recentFrom(folder), i.e. not yet claimed by a session. */
  readonly recent: number;
  /** Messages flagged \Deleted (STATUS DELETED, RFC 9051). */
  readonly deleted: number;
}

/** What SELECT, FETCH FLAGS and the update queue need of a message, read without dates or object ids. */
export interface MessageFlags {
  readonly uid: number;
  readonly modseq: number;
  /**
   * System flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`) and keywords, as IMAP spells them.
   * From listFlags() the list is frozen and shared by every message with the same flags.
   */
  readonly flags: readonly string[];
  /** RFC 822 size in bytes of the message as received. */
  readonly size: number;
}

/** A folder's UIDs, ascending, and each message's flags at the same index: what SELECT builds its view from. */
export interface UidFlagListing {
  readonly uids: number[];
  /** Frozen lists, one per flag combination, shared by every message that has it (as from listFlags). */
  readonly flags: (readonly string[])[];
}

/** What the store keeps about one message besides its bytes. */
export interface MessageMeta extends MessageFlags {
  readonly internalDate: Date;
  /** RFC 8514 SAVEDATE: when the message was stored in this folder (append, copy, move); null (NIL) if unknown. */
  readonly saveDate: Date | null;
  /** RFC 8474 EMAILID: 'M' + 12 hex digits; the same for copies and moves of one stored message. */
  readonly emailId: string;
}

/**
 * MessageMeta plus what lives with the stored body (Message-ID, thread). Asked for separately: reading it
 * touches each message's body row (a page of the encrypted file per message), which SELECT and FETCH FLAGS
 * over a large folder must not pay.
 */
export interface ThreadedMessageMeta extends MessageMeta {
  readonly messageId: string | null;
  readonly threadId: number;
  /** RFC 8474 THREADID of `threadId`: 'T' + 12 hex digits. */
  readonly threadObjectId: string;
}

/** A message's metadata with the end of its own header (octets [0, headerEnd) are the header; null: unknown). */
export interface HeaderedMessageMeta extends ThreadedMessageMeta {
  readonly headerEnd: number | null;
}

/** Metadata plus the parsed structure computed at append time (see server/mime). */
export interface MessageRecord extends ThreadedMessageMeta {
  /** Opaque to the store: produced by server/mime at append, returned as-is (Buffers preserved). */
  readonly structure: unknown;
}

export interface AppendOptions {
  readonly flags?: readonly string[];
  readonly internalDate?: Date;
}

export interface AppendResult {
  readonly uid: number;
  readonly uidValidity: number;
  readonly modseq: number;
}

export type StoreMode = 'add' | 'remove' | 'replace';

export interface StoreResult {
  /** Messages whose flags changed, with their new flags and modseq. */
  readonly updated: readonly { uid: number; flags: readonly string[]; modseq: number }[];
  /** UIDs refused because their modseq was above UNCHANGEDSINCE. */
  readonly modified: readonly number[];
}

export interface CopyResult {
  readonly uidValidity: number;
  /** [source uid, destination uid] pairs in source order. */
  readonly mapping: readonly (readonly [number, number])[];
}

/** A change recorded in the journal inside the mailbox file. */
export type ChangeEntry =
  | { readonly kind: 'append'; readonly uid: number; readonly modseq: number }
  | { readonly kind: 'flags'; readonly uid: number; readonly modseq: number; readonly flags: readonly string[] }
  | { readonly kind: 'expunge'; readonly uid: number; readonly modseq: number };

/** Search query tree (RFC 3501 SEARCH keys), compiled to SQL by the store. */
export type SearchQuery =
  | { readonly op: 'all' }
  | { readonly op: 'and'; readonly of: readonly SearchQuery[] }
  | { readonly op: 'or'; readonly of: readonly SearchQuery[] }
  | { readonly op: 'not'; readonly of: SearchQuery }
  | { readonly op: 'uid'; readonly uids: UidSet }
  | { readonly op: 'text' | 'body' | 'subject' | 'from' | 'to' | 'cc' | 'bcc'; readonly value: string }
  | { readonly op: 'header'; readonly name: string; readonly value: string }
  | { readonly op: 'flag'; readonly flag: string; readonly set: boolean }
  | { readonly op: 'before' | 'on' | 'since'; readonly date: string /* YYYY-MM-DD, internal date */ }
  | { readonly op: 'sentbefore' | 'senton' | 'sentsince'; readonly date: string /* YYYY-MM-DD, Date: header */ }
  | { readonly op: 'larger' | 'smaller'; readonly size: number }
  | { readonly op: 'modseq'; readonly modseq: number }
  /** RFC 5032 WITHIN: internal date at least / less than `seconds` before now. */
  | { readonly op: 'older' | 'younger'; readonly seconds: number }
  | { readonly op: 'savedbefore' | 'savedon' | 'savedsince'; readonly date: string /* YYYY-MM-DD, save date (RFC 8514) */ }
  /** RFC 8474 object ids, as FETCH EMAILID / THREADID spell them. */
  | { readonly op: 'emailid' | 'threadid'; readonly id: string };

/** RFC 5256 §3 / RFC 5957 sort criteria; `reverse` reverses that key only. */
export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortKey {
  readonly key: SortKeyName;
  readonly reverse: boolean;
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

/** One node of a THREAD result (RFC 5256 §4); `uid` null is a dummy parent (only ever at the top level). */
export interface ThreadNode {
  readonly uid: number | null;
  readonly children: ThreadNode[];
}

/** Inclusive UID ranges; `end` Infinity means `*`. */
export type UidSet = readonly (readonly [number, number])[];

export interface QuotaUsage {
  readonly usedBytes: number;
  /** null = unlimited. */
  readonly limitBytes: number | null;
  readonly messages: number;
}

export interface StorageReport {
  readonly logicalBytes: number;
  readonly fileBytes: number;
  readonly dedupeSavedBytes: number;
  readonly compressionSavedBytes: number;
}

/** Emitted by the store after a committed write, so live sessions can update. */
export interface MailboxChangeEvent {
  readonly mailboxId: MailboxId;
  readonly folder: string;
  readonly highestModseq: number;
}

export interface CreateFolderOptions {
  /** Add the created names to the subscription list (default true). */
  readonly subscribe?: boolean;
}

export interface RenameFolderOptions {
  /** Leave the subscription list unchanged, as IMAP RENAME does (RFC 9051 §6.3.6); default false. */
  readonly keepSubscriptions?: boolean;
}

/** The junk classifier's counts for scoring one message (see server/junk). */
export interface JunkTrainingCounts {
  readonly spamMessages: number;
  readonly hamMessages: number;
  /** Counts of the tokens asked for that were ever trained. */
  readonly tokens: ReadonlyMap<string, { readonly spam: number; readonly ham: number }>;
}

/** The junk classifier's totals in one mailbox. */
export interface JunkStatus {
  readonly spamMessages: number;
  readonly hamMessages: number;
  /** Distinct tokens stored. */
  readonly tokens: number;
  /** Messages a MOVE or COPY into or out of \Junk queued and not yet trained. */
  readonly pending: number;
}

/** One unlocked mailbox file. All methods run one transaction each; readers see consistent snapshots. */
export interface Mailbox {
  readonly id: MailboxId;
  /** The owner's Sieve scripts and vacation log, stored in this file (sieve-store.ts). */
  readonly sieve: SieveStore;

  /** Lists folders in path order. */
  listFolders(): FolderInfo[];
  /** Counts and sizes of one folder; throws NoSuchFolder. */
  status(path: string): FolderStatus;
  /**
   * Creates a folder (and missing parents); throws FolderExists. The new names are added to the subscription list
   * unless `options.subscribe` is false (IMAP CREATE); a name already in the list stays there either way.
   */
  createFolder(path: string, specialUse?: SpecialUse | null, options?: CreateFolderOptions): FolderInfo;
  /**
   * Renames a folder and all its children; renaming INBOX moves its messages to a new folder (RFC 3501), which may
   * be below INBOX. By default subscriptions follow the folders (the old names leave the list, the new ones join it
   * as their folders were) and created names are subscribed; with `options.keepSubscriptions` the list is left
   * as it is (RFC 9051 §6.3.6).
   */
  renameFolder(from: string, to: string, options?: RenameFolderOptions): void;
  /**
   * Deletes a folder and its messages; INBOX cannot be deleted. With child folders it keeps the name as
   * \Noselect (listFolders: noselect) after removing its messages; an already \Noselect parent is refused.
   */
  deleteFolder(path: string): void;
  /**
   * Adds a folder's name to the subscription list or removes a name from it. Adding needs an existing folder
   * (NoSuchFolder otherwise, unless the name is in the list already); removing needs the folder or the name in
   * the list (NoSuchFolder when neither). The list keeps names whose folder was deleted or renamed away.
   */
  subscribe(path: string, subscribed: boolean): void;
  /** The subscription list (RFC 3501 §6.3.6): names in path order, whether or not a folder has the name. */
  listSubscriptions(): string[];

  /** Stores a message durably and returns its UID; throws OverQuota / NoSuchFolder. */
  append(folder: string, raw: Buffer, options?: AppendOptions): Promise<AppendResult>;
  /**
   * append() that also records `dedupeKey` (e.g. a drained sealed-queue item id) in the same transaction;
   * called again with a delivered key it stores nothing and returns the first result, so a re-drain is idempotent.
   */
  appendOnce(folder: string, raw: Buffer, options: AppendOptions & { readonly dedupeKey: string }): Promise<AppendResult>;
  /**
   * Announces a run of appends (a sealed-queue drain) until the returned function is called: meanwhile a commit
   * waits briefly for more appends, so many messages share one transaction and one fsync. Each append still
   * resolves only once it is durable.
   */
  expectAppends(): () => void;
  /**
   * A view of this mailbox for a session that acknowledges its own writes (an IMAP session: the tagged OK).
   * Writes made through it commit without an fsync on the event loop, so one session's STORE does not stall
   * every other session; `durable()` resolves once all of them are on disk (the WAL fdatasync'ed on the thread
   * pool). The caller must await durable() before it acknowledges anything.
   */
  deferredSync(): DeferredSyncMailbox;
  /** Metadata of every message in a folder (or of the given UIDs), ascending UID (the SELECT index). */
  listMessages(folder: string, uids?: UidSet): MessageMeta[];
  /**
   * UID, MODSEQ, flags and size of the folder's messages (or those of `uids`), ascending by UID: the lean
   * listing for SELECT and FETCH FLAGS on large folders (no Date or object id built per message).
   */
  listFlags(folder: string, uids?: UidSet): MessageFlags[];
  /**
   * Every UID of the folder with its flags, read in one statement that returns one row (no row object per
   * message): SELECT's listing, which on a large folder costs a third of listFlags.
   */
  listUidFlags(folder: string): UidFlagListing;
  /**
   * Adds the bodies stored since the last catch-up to the trigram index now (appends schedule this themselves,
   * in batches or after a pause); resolves with how many it added. SEARCH finds those bodies either way.
   */
  indexSearchBacklog(): Promise<number>;
  /** The same with Message-ID and thread (reads every listed message's body row: slower). */
  listMessages(folder: string, uids: UidSet | undefined, options: { readonly thread: true }): ThreadedMessageMeta[];
  /**
   * Metadata and where each message's own header ends, ascending by UID: what ENVELOPE and BODY[HEADER…] need,
   * without loading and decoding the parsed structure. headerEnd is null for a message stored before the store
   * recorded it; the caller loads the structure (fetch) for those.
   */
  listHeaders(folder: string, uids: UidSet): HeaderedMessageMeta[];
  /** Metadata and parsed structure of the given UIDs, ascending. */
  fetch(folder: string, uids: UidSet): MessageRecord[];
  /** The message bytes exactly as received. */
  readMessage(folder: string, uid: number): Promise<Buffer>;
  /** Bytes [start, end) of the message as received, reading only the chunks that cover them. */
  readRange(folder: string, uid: number, start: number, end: number): Promise<Buffer>;
  /**
   * Bytes [start, end) of several messages of a folder, each clamped to its size; null for a message the folder
   * no longer holds. Reads in a reader thread when the store has them (SEALPOST_MAILBOX_READERS), so a FETCH
   * of many bodies keeps the event loop free; same bytes as readRange either way.
   */
  readMany(folder: string, ranges: readonly { readonly uid: number; readonly start: number; readonly end: number }[]): Promise<(Buffer | null)[]>;
  /** Changes flags; with unchangedSince, messages with a higher modseq are left alone and reported. */
  store(folder: string, uids: UidSet, mode: StoreMode, flags: readonly string[], unchangedSince?: number): StoreResult;
  /** Copies messages to another folder (attachments are shared, not duplicated). */
  copy(folder: string, uids: UidSet, target: string): CopyResult;
  /** Moves messages to another folder; source UIDs are expunged. */
  move(folder: string, uids: UidSet, target: string): CopyResult;
  /** Removes \Deleted messages (all, or only those in uids); returns the expunged UIDs. */
  expunge(folder: string, uids?: UidSet): number[];
  /** UIDs matching the query, ascending. */
  search(folder: string, query: SearchQuery): number[];
  /**
   * UIDs matching the query in RFC 5256 §3 SORT order: by the keys in turn, messages equal on every key in
   * ascending UID (mailbox) order. Strings compare by i;ascii-casemap; DATE is the sent date (Date: header,
   * else the internal date, RFC 5256 §2.2).
   */
  sort(folder: string, keys: readonly SortKey[], query: SearchQuery): number[];
  /** RFC 5256 §4 threads of the messages matching the query. */
  thread(folder: string, algorithm: ThreadAlgorithm, query: SearchQuery): ThreadNode[];
  /**
   * RFC 3501 §2.3.2 \Recent: hands the caller the UIDs [from, to) no session has claimed yet (to = UIDNEXT)
   * and moves the folder's mark to UIDNEXT, in one transaction, so each new message is \Recent in one session.
   */
  claimRecent(folder: string): { from: number; to: number };
  /** The folder's \Recent mark: messages with uid >= it are recent (unclaimed). */
  recentFrom(folder: string): number;
  /** Journal entries with modseq > since for a folder, ascending modseq. */
  changesSince(folder: string, since: number): ChangeEntry[];
  /** Used and allowed bytes. */
  quota(): QuotaUsage;
  /** Logical vs physical size, dedupe and compression savings. */
  storageReport(): StorageReport;
  /** Gives every folder not named in `keep` a new UIDVALIDITY above `above` and above any this file handed out (restore). */
  reissueUidValidity(above: number, keep?: readonly string[]): FolderInfo[];
  /**
   * Makes a restored folder agree with what the live folder (same UIDVALIDITY) handed out: messages whose UID it no longer
   * holds get new UIDs from its UIDNEXT on, its other UIDs are journalled as expunged, changed flags get a MODSEQ above `modseqAbove`.
   */
  renumberAbove(folder: string, live: LiveFolderState, modseqAbove: number): FolderInfo;

  /** Junk classifier counts of the given tokens, with the messages trained per class. */
  junkCounts(tokens: readonly string[]): JunkTrainingCounts;
  /** Junk classifier totals: tokens stored, messages trained per class, trainings queued. */
  junkStatus(): JunkStatus;
  /**
   * Trains the junk classifier with messages of a folder as spam or ham; a message already trained as that class is
   * not counted again, one trained as the other class moves its counts. Returns how many messages changed.
   */
  junkTrain(folder: string, uids: UidSet, asSpam: boolean): Promise<number>;
  /**
   * Trains what MOVE and COPY queued (into the \Junk folder: spam; out of it to a folder other than \Trash: ham).
   * They queue it themselves and this runs soon after on its own; callers may run it to be sure. Returns how many trained.
   */
  trainQueuedJunk(): Promise<number>;
}

/** One message of a live folder, as a restore compares it. */
/** A Mailbox whose writes are acknowledged by its caller only after durable() (Mailbox.deferredSync). */
export interface DeferredSyncMailbox extends Mailbox {
  /** Resolves once every write made through this view is on disk; rejects when the fsync fails. */
  durable(): Promise<void>;
}

export interface LiveMessage {
  readonly flags: readonly string[];
  readonly size: number;
  /** ISO 8601, as stored. */
  readonly internalDate: string;
}

/** A live folder as a restore must not contradict: its UIDNEXT and the messages it holds by UID. */
export interface LiveFolderState {
  readonly uidNext: number;
  readonly messages: ReadonlyMap<number, LiveMessage>;
}

/** What a mailbox file has handed out: read by a restore to never reuse a UID (RFC 3501 §2.3.1.1). */
export interface UidState {
  /** The highest UIDVALIDITY the file ever gave a folder; a new folder gets a greater one. */
  readonly lastUidValidity: number;
  /** The file's MODSEQ counter (every folder's HIGHESTMODSEQ is at most this). */
  readonly modseq: number;
  readonly folders: readonly (FolderInfo & LiveFolderState)[];
}

/** Opens, creates and re-keys mailbox files; one handle per file per process (LRU + idle close). */
export interface MailboxStore {
  /** Creates mailboxes/<id>.sqlite with the default folders; throws if it exists. */
  create(id: MailboxId, mailboxKey: Buffer, quotaBytes?: number | null): Promise<void>;
  /** Opens (or returns the cached handle of) a mailbox; throws WrongKey without modifying the file. */
  open(id: MailboxId, mailboxKey: Buffer): Promise<Mailbox>;
  /** True when a handle for this mailbox is open in this process. */
  isOpen(id: MailboxId): boolean;
  /** Closes the handle (checkpointing the WAL). */
  close(id: MailboxId): Promise<void>;
  /** Re-keys crash-safely: copy, verify, atomic swap under lock; the old key works until the swap. */
  rekey(id: MailboxId, oldKey: Buffer, newKey: Buffer): Promise<void>;
  /** Deletes the file (and -wal/-shm) after closing it. */
  remove(id: MailboxId): Promise<void>;
  /** Sets the quota limit (bytes, null = unlimited) stored in the file. */
  setQuota(id: MailboxId, mailboxKey: Buffer, quotaBytes: number | null): Promise<void>;
  /** Subscribes to committed changes of any open mailbox. Returns an unsubscribe function. */
  onChange(listener: (event: MailboxChangeEvent) => void): () => void;
  /** Closes every handle. */
  closeAll(): Promise<void>;
  /** Starts the reader threads now instead of at the first bulk read (a server at start; closeAll() stops them). */
  startReaders(): void;
}
