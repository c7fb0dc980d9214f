// The slice of Electron the desktop shell uses, as plain interfaces. main/index.ts binds the real `electron`
// module to it; tests pass a fake. Shapes follow Electron's own API (same names, same argument order), so
// the real objects satisfy them structurally — keep it that way when adding a member.

/** Electron's preventable events (before-quit, will-navigate…). */
export interface PreventableEvent {
  preventDefault(): void;
}

export interface ElectronApp {
  /** False when another instance already holds the lock (this one should quit at once). */
  requestSingleInstanceLock(): boolean;
  on(event: 'second-instance', listener: (event: PreventableEvent, argv: string[], workingDirectory: string) => void): unknown;
  on(event: 'window-all-closed', listener: () => void): unknown;
  on(event: 'before-quit', listener: (event: PreventableEvent) => void): unknown;
  on(event: 'activate', listener: () => void): unknown;
  whenReady(): Promise<unknown>;
  quit(): void;
  exit(code?: number): void;
  getAppPath(): string;
  readonly isPackaged: boolean;
}

export interface WebPreferences {
  readonly preload?: string;
  readonly contextIsolation: boolean;
  readonly nodeIntegration: boolean;
  readonly nodeIntegrationInWorker: boolean;
  readonly nodeIntegrationInSubFrames: boolean;
  readonly sandbox: boolean;
  readonly webSecurity: boolean;
  readonly allowRunningInsecureContent: boolean;
  readonly webviewTag: boolean;
  readonly navigateOnDragDrop: boolean;
  readonly spellcheck: boolean;
}

export interface BrowserWindowOptions {
  readonly width: number;
  readonly height: number;
  readonly minWidth: number;
  readonly minHeight: number;
  readonly title: string;
  readonly show: boolean;
  readonly autoHideMenuBar: boolean;
  readonly backgroundColor: string;
  readonly icon?: NativeImage;
  readonly webPreferences: WebPreferences;
}

export interface WindowOpenDetails {
  readonly url: string;
}

export interface WebContents {
  setWindowOpenHandler(handler: (details: WindowOpenDetails) => { action: 'deny' } | { action: 'allow' }): void;
  on(event: 'will-navigate' | 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  getURL(): string;
}

export interface BrowserWindowInstance {
  readonly webContents: WebContents;
  loadURL(url: string): Promise<void>;
  show(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  isDestroyed(): boolean;
  close(): void;
  once(event: 'ready-to-show', listener: () => void): unknown;
  on(event: 'closed', listener: () => void): unknown;
}

export type BrowserWindowConstructor = new (options: BrowserWindowOptions) => BrowserWindowInstance;

export interface MenuItemOptions {
  readonly label?: string;
  readonly type?: 'normal' | 'separator';
  readonly enabled?: boolean;
  readonly click?: () => void;
}

export type MenuInstance = object;

export interface MenuStatic {
  buildFromTemplate(template: MenuItemOptions[]): MenuInstance;
}

export interface TrayInstance {
  setToolTip(toolTip: string): void;
  setContextMenu(menu: MenuInstance | null): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export type TrayConstructor = new (image: NativeImage) => TrayInstance;

export type NativeImage = object;

export interface NativeImageStatic {
  createFromPath(path: string): NativeImage;
}

export interface Shell {
  openExternal(url: string): Promise<void>;
}

export interface IpcMainInvokeEvent {
  readonly senderFrame: { readonly url: string } | null;
}

export interface IpcMain {
  handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown>): void;
}

export interface Dialog {
  showErrorBox(title: string, content: string): void;
}

export interface HeadersReceivedDetails {
  readonly url: string;
  readonly responseHeaders?: Record<string, string[]>;
}

export interface BeforeRequestDetails {
  readonly url: string;
}

export interface Session {
  readonly webRequest: {
    onHeadersReceived(listener: (details: HeadersReceivedDetails, callback: (response: { responseHeaders?: Record<string, string[]>; cancel?: boolean }) => void) => void): void;
    onBeforeRequest(listener: (details: BeforeRequestDetails, callback: (response: { cancel?: boolean }) => void) => void): void;
  };
  setPermissionRequestHandler(handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
}

export interface ElectronFacade {
  readonly app: ElectronApp;
  readonly BrowserWindow: BrowserWindowConstructor;
  readonly Tray: TrayConstructor;
  readonly Menu: MenuStatic;
  readonly nativeImage: NativeImageStatic;
  readonly shell: Shell;
  readonly ipcMain: IpcMain;
  readonly dialog: Dialog;
  readonly session: { readonly defaultSession: Session };
}

const REQUIRED: readonly (keyof ElectronFacade)[] = ['app', 'BrowserWindow', 'Tray', 'Menu', 'nativeImage', 'shell', 'ipcMain', 'dialog', 'session'];

/** Narrows the dynamically imported `electron` module to the facade; throws naming what is missing. */
export function asElectronFacade(module: unknown): ElectronFacade {
  const candidate = (module as { default?: unknown } | null)?.default ?? module;
  if (typeof candidate !== 'object' || candidate === null) throw new Error('The electron module did not load (are we running under Electron, not plain Node?).');
  const missing = REQUIRED.filter((name) => !(name in candidate));
  if (missing.length > 0) throw new Error(`The electron module lacks ${missing.join(', ')} (are we running under Electron, not plain Node?).`);
  return candidate as ElectronFacade;
}
