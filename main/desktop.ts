// The desktop shell: one instance per user, the mail server as a supervised child, a sandboxed window on
// the admin UI (signed in with the one-time local token), and a tray icon. Closing the window keeps the
// server (and so mail delivery) running; only Quit stops it. All Electron access goes through the facade.
import path from 'node:path';
import { resolveDataDir } from '../server/config/index.js';
import { loadAppKey } from '../server/keychain/index.js';
import { AdminClient } from './admin-client.js';
import type { BrowserWindowInstance, ElectronFacade, IpcMainInvokeEvent, MenuItemOptions, TrayInstance } from './facade.js';
import { guardNavigation, hardenSession, isSameOrigin, windowOptions } from './security.js';
import { serverCommand } from './server-command.js';
import { ServerSupervisor, type ServerState, type SupervisorOptions } from './server-process.js';

export const IPC_LOCK_ALL = 'sealpost:lock-all';
export const IPC_QUIT = 'sealpost:quit';

export interface DesktopOptions {
  readonly electron: ElectronFacade;
  readonly env?: NodeJS.ProcessEnv;
  /** Where `serve` keeps its data; default SEALPOST_DATA or the server's OS user-data dir (shared with the CLI). */
  readonly dataDir?: string;
  /** The checkout root in dev, app.asar when packaged (bin/sealpost lives under it). */
  readonly appPath: string;
  readonly resourcesPath?: string;
  readonly execPath?: string;
  readonly preloadPath?: string;
  readonly windowIconPath?: string;
  readonly trayIconPath?: string;
  /** Child output (pino JSON lines); default: copied to our stdout/stderr. */
  readonly onServerOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Timeouts and backoff of the supervisor (tests shorten them). */
  readonly supervisor?: Pick<SupervisorOptions, 'readyTimeoutMs' | 'stopTimeoutMs' | 'initialBackoffMs' | 'maxBackoffMs' | 'stableMs' | 'maxRestarts'>;
}

export interface Desktop {
  readonly supervisor: ServerSupervisor;
  readonly dataDir: string;
  /** Resolves when the app is ready and the first window is open (rejects when the server cannot start). */
  readonly started: Promise<void>;
  /** The open window, if any. */
  window(): BrowserWindowInstance | null;
  /** What the tray says now (first line of its menu and its tooltip). */
  status(): string;
  /** Shows (or re-creates) the window and focuses it. */
  openWindow(): Promise<BrowserWindowInstance>;
  /** Locks every unlocked mailbox through the admin API (the tray's "Lock all mailboxes"). */
  lockAll(): Promise<number>;
  /** Resolves with the server's exit code once Quit has stopped it. */
  readonly stopped: Promise<number | null>;
}

/** Starts the desktop shell; returns null when another instance already runs (this one quits). */
export function startDesktop(options: DesktopOptions): Desktop | null {
  const { app, BrowserWindow, Tray, Menu, nativeImage, shell, ipcMain, dialog, session } = options.electron;
  if (!app.requestSingleInstanceLock()) {
    // The first instance gets 'second-instance' and focuses its window.
    app.quit();
    return null;
  }
  const env = options.env ?? process.env;
  const dataDir = options.dataDir ?? resolveDataDir(env);
  let tray: TrayInstance | null = null;
  let window: BrowserWindowInstance | null = null;
  let opening: Promise<BrowserWindowInstance> | null = null;
  let origin: string | null = null;
  let notice = '';
  let quitting = false;
  let resolveStopped: (code: number | null) => void = () => undefined;
  const stopped = new Promise<number | null>((resolve) => (resolveStopped = resolve));

  const supervisor = new ServerSupervisor({
    ...options.supervisor,
    command: async () => {
      // Read here, in the app's own process, so the OS asks about keychain access once, for the app.
      // Only a keychain key is handed down: a key from the env is inherited anyway, and one from the
      // app.key fallback file is left for the server to read itself, so its dashboard still warns about it.
      const appKey = await loadAppKey(dataDir, { ...env });
      const appKeyHex = appKey.source === 'keychain' ? appKey.key.toString('hex') : null;
      appKey.key.fill(0);
      return serverCommand({
        isPackaged: app.isPackaged,
        appPath: options.appPath,
        resourcesPath: options.resourcesPath ?? path.dirname(options.appPath),
        execPath: options.execPath ?? process.execPath,
        dataDir,
        appKeyHex,
        env,
      });
    },
    onState: (state) => onServerState(state),
    onOutput: options.onServerOutput ?? ((line, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(`${line}\n`)),
  });
  const admin = new AdminClient({ dataDir, origin: async () => (await supervisor.ready()).adminOrigin });

  function onServerState(state: ServerState): void {
    if (state.kind === 'running') {
      const previous = origin;
      origin = state.server.adminOrigin;
      // Sessions live in the server's memory: after a restart the window must sign in again.
      if (previous !== null && window && !window.isDestroyed()) void signIn(window).catch(() => undefined);
    }
    updateTray();
  }

  function status(): string {
    const state = supervisor.state;
    switch (state.kind) {
      case 'starting':
        return 'Sealpost: starting…';
      case 'running':
        return `Sealpost: running (admin on ${new URL(state.server.adminOrigin).host})`;
      case 'restarting':
        return `Sealpost: restarting after a crash (attempt ${state.attempt}, ${state.reason})`;
      case 'stopping':
        return 'Sealpost: stopping…';
      case 'stopped':
        return 'Sealpost: stopped';
      case 'failed':
        return `Sealpost: stopped — ${state.reason}`.slice(0, 200);
    }
  }

  function updateTray(): void {
    if (!tray) return;
    const running = supervisor.state.kind === 'running';
    const template: MenuItemOptions[] = [{ label: status(), enabled: false }];
    if (notice) template.push({ label: notice, enabled: false });
    template.push(
      { type: 'separator' },
      { label: 'Open', enabled: running, click: () => void openWindow().catch(showError('The window could not open')) },
      { label: 'Lock all mailboxes', enabled: running, click: () => void lockAll().catch(showError('Locking failed')) },
    );
    if (supervisor.state.kind === 'failed') {
      template.push({ label: 'Try again', click: () => void supervisor.start().then(() => openWindow()).catch(showError('Sealpost could not start')) });
    }
    template.push({ type: 'separator' }, { label: 'Quit', click: () => app.quit() });
    tray.setToolTip(status());
    tray.setContextMenu(Menu.buildFromTemplate(template));
  }

  function showError(title: string): (error: unknown) => void {
    return (error) => dialog.showErrorBox(title, error instanceof Error ? error.message : String(error));
  }

  async function signIn(target: BrowserWindowInstance): Promise<void> {
    await admin.withSignInUrl((url) => target.loadURL(url));
  }

  function openWindow(): Promise<BrowserWindowInstance> {
    if (window && !window.isDestroyed()) {
      if (window.isMinimized()) window.restore();
      window.show();
      window.focus();
      return Promise.resolve(window);
    }
    opening ??= (async () => {
      await supervisor.ready();
      const icon = options.windowIconPath ? nativeImage.createFromPath(options.windowIconPath) : undefined;
      const created = new BrowserWindow(windowOptions(options.preloadPath, icon));
      guardNavigation(created.webContents, () => origin, shell);
      created.once('ready-to-show', () => created.show());
      created.on('closed', () => {
        if (window === created) window = null;
      });
      window = created;
      await signIn(created);
      return created;
    })().finally(() => (opening = null));
    return opening;
  }

  async function lockAll(): Promise<number> {
    const count = await admin.lockAll();
    notice = count === 0 ? 'No mailbox was unlocked' : `Locked ${count} mailbox${count === 1 ? '' : 'es'}`;
    updateTray();
    return count;
  }

  /** Only the admin page itself may use the preload's channels. */
  function fromAdmin(event: IpcMainInvokeEvent): boolean {
    return origin !== null && event.senderFrame !== null && isSameOrigin(event.senderFrame.url, origin);
  }

  app.on('second-instance', () => void openWindow().catch(() => undefined));
  app.on('activate', () => void openWindow().catch(() => undefined));
  // Listening is what keeps Electron from quitting when the last window closes: mail keeps flowing.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', (event) => {
    if (supervisor.state.kind === 'stopped' && quitting) return;
    event.preventDefault();
    if (quitting) return;
    quitting = true;
    void supervisor
      .stop()
      .then((code) => {
        resolveStopped(code);
        tray?.destroy();
        tray = null;
        app.quit();
      })
      .catch((error: unknown) => {
        resolveStopped(null);
        showError('Stopping the server failed')(error);
        app.exit(1);
      });
  });

  const started = (async () => {
    await app.whenReady();
    hardenSession(session.defaultSession, () => origin);
    ipcMain.handle(IPC_LOCK_ALL, async (event) => (fromAdmin(event) ? lockAll() : Promise.reject(new Error('refused'))));
    ipcMain.handle(IPC_QUIT, async (event) => {
      if (fromAdmin(event)) app.quit();
    });
    if (options.trayIconPath) tray = new Tray(nativeImage.createFromPath(options.trayIconPath));
    tray?.on('click', () => void openWindow().catch(() => undefined));
    updateTray();
    try {
      await supervisor.start();
    } catch (error) {
      showError('Sealpost could not start')(error);
      throw error;
    }
    await openWindow();
  })();
  started.catch(() => undefined);

  return {
    supervisor,
    dataDir,
    started,
    window: () => (window && !window.isDestroyed() ? window : null),
    status,
    openWindow,
    lockAll,
    stopped,
  };
}
