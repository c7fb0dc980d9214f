// Preload for the sandboxed admin window (bundled to CommonJS: sandboxed preloads cannot be ES modules).
// It exposes only two calls; the UI does everything else over HTTP like in a browser.
import { contextBridge, ipcRenderer } from 'electron';

contextBridge.exposeInMainWorld('sealpostDesktop', {
  isDesktop: true,
  /** Locks every unlocked mailbox (same as the tray item); resolves with how many were locked. */
  lockAll: (): Promise<number> => ipcRenderer.invoke('sealpost:lock-all') as Promise<number>,
  /** Stops the mail server and quits the app. */
  quit: (): Promise<void> => ipcRenderer.invoke('sealpost:quit') as Promise<void>,
});
