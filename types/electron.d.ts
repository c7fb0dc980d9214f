// The electron package is not installed (its binary cannot be downloaded here); main/ reaches Electron
// through main/facade.ts. Only the preload imports it directly, and only these two members.
declare module 'electron' {
  export const contextBridge: { exposeInMainWorld(key: string, api: Record<string, unknown>): void };
  export const ipcRenderer: { invoke(channel: string, ...args: unknown[]): Promise<unknown> };
}
