// A test double of Electron (not of our stack) implementing main/facade.ts. Windows "load" URLs with real
// HTTP requests like a browser would: the session's onBeforeRequest/onHeadersReceived rules run, cookies are
// kept in a per-session jar, redirects are followed. So a test sees what the window would show.
import type {
  BeforeRequestDetails,
  BrowserWindowInstance,
  BrowserWindowOptions,
  ElectronFacade,
  HeadersReceivedDetails,
  IpcMainInvokeEvent,
  MenuItemOptions,
  NativeImage,
  PreventableEvent,
  Session,
  WebContents,
  WindowOpenDetails,
} from '../../main/facade.js';

type Listener = (...args: never[]) => unknown;

class Emitter {
  private readonly listeners = new Map<string, Listener[]>();
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: string, listener: Listener): this {
    const wrapped = ((...args: never[]) => {
      this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== wrapped));
      return listener(...args);
    }) as Listener;
    return this.on(event, wrapped);
  }
  emit(event: string, ...args: unknown[]): number {
    const list = this.listeners.get(event) ?? [];
    for (const listener of list) (listener as (...a: unknown[]) => unknown)(...args);
    return list.length;
  }
  count(event: string): number {
    return (this.listeners.get(event) ?? []).length;
  }
}

/** The per-user single-instance lock Electron keeps in the OS; shared by the fakes of one "machine". */
export class FakeInstanceLock {
  holder: FakeApp | null = null;
}

export function preventable(): PreventableEvent & { prevented: boolean } {
  const event = { prevented: false, preventDefault: () => (event.prevented = true) };
  return event;
}

export class FakeApp extends Emitter {
  readonly isPackaged = false;
  quitRequests = 0;
  /** True once a quit went through (no before-quit handler prevented it). */
  quitted = false;
  exitCode: number | null = null;
  constructor(private readonly lock: FakeInstanceLock) {
    super();
  }
  requestSingleInstanceLock(): boolean {
    if (this.lock.holder && this.lock.holder !== this && !this.lock.holder.quitted) {
      // Electron tells the first instance about the second launch.
      this.lock.holder.emit('second-instance', preventable(), ['sealpost'], process.cwd());
      return false;
    }
    this.lock.holder = this;
    return true;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  quit(): void {
    this.quitRequests += 1;
    const event = preventable();
    this.emit('before-quit', event);
    if (!event.prevented) this.quitted = true;
  }
  exit(code = 0): void {
    this.exitCode = code;
    this.quitted = true;
  }
  getAppPath(): string {
    return process.cwd();
  }
}

export class FakeSession implements Session {
  beforeRequest: ((details: BeforeRequestDetails, callback: (r: { cancel?: boolean }) => void) => void) | null = null;
  headersReceived: ((details: HeadersReceivedDetails, callback: (r: { responseHeaders?: Record<string, string[]>; cancel?: boolean }) => void) => void) | null = null;
  permissionHandler: ((webContents: unknown, permission: string, callback: (granted: boolean) => void) => void) | null = null;
  /** Cookie jar: name → value (the admin only sets host-only Path=/ cookies). */
  readonly cookies = new Map<string, string>();
  readonly webRequest = {
    onBeforeRequest: (listener: NonNullable<FakeSession['beforeRequest']>) => void (this.beforeRequest = listener),
    onHeadersReceived: (listener: NonNullable<FakeSession['headersReceived']>) => void (this.headersReceived = listener),
  };
  setPermissionRequestHandler(handler: NonNullable<FakeSession['permissionHandler']>): void {
    this.permissionHandler = handler;
  }
  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  /** What a request through this session would be allowed to do. */
  allows(url: string): boolean {
    let cancel = false;
    this.beforeRequest?.({ url }, (r) => (cancel = r.cancel === true));
    return !cancel;
  }
}

export interface LoadedPage {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly body: string;
}

class FakeWebContents extends Emitter implements WebContents {
  openHandler: ((details: WindowOpenDetails) => { action: 'deny' } | { action: 'allow' }) | null = null;
  url = '';
  setWindowOpenHandler(handler: NonNullable<FakeWebContents['openHandler']>): void {
    this.openHandler = handler;
  }
  getURL(): string {
    return this.url;
  }
}

export function createFakeElectron(lock: FakeInstanceLock) {
  const app = new FakeApp(lock);
  const session = new FakeSession();
  const windows: FakeBrowserWindow[] = [];
  const trays: FakeTray[] = [];
  const opened: string[] = [];
  const errors: { title: string; content: string }[] = [];
  const ipc = new Map<string, (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown>>();

  class FakeBrowserWindow extends Emitter implements BrowserWindowInstance {
    readonly webContents = new FakeWebContents();
    readonly loads: string[] = [];
    pages: LoadedPage[] = [];
    shown = 0;
    focused = 0;
    destroyed = false;
    constructor(readonly options: BrowserWindowOptions) {
      super();
      windows.push(this);
    }
    /** Loads like a browser: request rules, cookies, CSP rewriting, redirects followed. */
    async loadURL(url: string): Promise<void> {
      this.loads.push(url);
      let next = url;
      for (let hop = 0; hop < 5; hop++) {
        if (!session.allows(next)) throw new Error(`ERR_BLOCKED_BY_CLIENT ${next}`);
        const response = await fetch(next, { redirect: 'manual', headers: { cookie: session.cookieHeader() } });
        for (const header of response.headers.getSetCookie()) {
          const [pair = ''] = header.split(';');
          const eq = pair.indexOf('=');
          const name = pair.slice(0, eq).trim();
          const value = pair.slice(eq + 1).trim();
          if (/max-age=0/i.test(header) || value === '') session.cookies.delete(name);
          else session.cookies.set(name, value);
        }
        const raw: Record<string, string[]> = {};
        response.headers.forEach((value, name) => (raw[name] = [value]));
        let headers = raw;
        let cancelled = false;
        session.headersReceived?.({ url: next, responseHeaders: raw }, (r) => {
          cancelled = r.cancel === true;
          if (r.responseHeaders) headers = r.responseHeaders;
        });
        if (cancelled) throw new Error(`ERR_BLOCKED_BY_CLIENT ${next}`);
        const body = await response.text();
        this.pages.push({ url: next, status: response.status, headers, body });
        this.webContents.url = next;
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location) {
          next = new URL(location, next).toString();
          const event = preventable();
          this.webContents.emit('will-redirect', event, next);
          if (event.prevented) return;
          continue;
        }
        this.emit('ready-to-show');
        return;
      }
      throw new Error('too many redirects');
    }
    /** Simulates a click on a link in the page (returns whether the window navigated). */
    async navigate(url: string): Promise<boolean> {
      const event = preventable();
      this.webContents.emit('will-navigate', event, url);
      if (event.prevented) return false;
      await this.loadURL(url);
      return true;
    }
    show(): void {
      this.shown += 1;
    }
    focus(): void {
      this.focused += 1;
    }
    restore(): void {}
    isMinimized(): boolean {
      return false;
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    close(): void {
      if (this.destroyed) return;
      this.destroyed = true;
      this.emit('closed');
      if (windows.every((w) => w.destroyed) && app.emit('window-all-closed') === 0) app.quit();
    }
    /** A same-origin API call from the page, with the page's cookies and CSRF header. */
    async api(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: unknown }> {
      const origin = new URL(this.webContents.url).origin;
      const response = await fetch(`${origin}${pathname}`, {
        method,
        headers: { cookie: session.cookieHeader(), 'x-csrf-token': decodeURIComponent(session.cookies.get('sp_csrf') ?? ''), 'content-type': 'application/json', origin },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
    }
  }

  class FakeTray extends Emitter {
    toolTip = '';
    /** Every tooltip shown, in order (the status history a user could have seen). */
    readonly history: string[] = [];
    menu: MenuItemOptions[] = [];
    destroyed = false;
    constructor(readonly image: NativeImage) {
      super();
      trays.push(this);
    }
    setToolTip(text: string): void {
      this.toolTip = text;
      if (this.history.at(-1) !== text) this.history.push(text);
    }
    setContextMenu(menu: object | null): void {
      this.menu = (menu as { template?: MenuItemOptions[] } | null)?.template ?? [];
    }
    destroy(): void {
      this.destroyed = true;
    }
    /** Clicks the menu item with this label; throws when it is absent or disabled. */
    click(label: string): void {
      const item = this.menu.find((i) => i.label === label);
      if (!item) throw new Error(`no tray item "${label}" in ${JSON.stringify(this.menu.map((i) => i.label))}`);
      if (item.enabled === false) throw new Error(`tray item "${label}" is disabled`);
      item.click?.();
    }
  }

  const electron: ElectronFacade = {
    app,
    BrowserWindow: FakeBrowserWindow,
    Tray: FakeTray,
    Menu: { buildFromTemplate: (template) => ({ template }) },
    nativeImage: { createFromPath: (path) => ({ path }) },
    shell: {
      openExternal: async (url) => {
        opened.push(url);
      },
    },
    ipcMain: { handle: (channel, listener) => void ipc.set(channel, listener) },
    dialog: { showErrorBox: (title, content) => void errors.push({ title, content }) },
    session: { defaultSession: session },
  };
  return { electron, app, session, windows, trays, opened, errors, ipc };
}

export type FakeElectron = ReturnType<typeof createFakeElectron>;
export type FakeWindow = FakeElectron['windows'][number];
