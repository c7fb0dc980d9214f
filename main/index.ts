// Electron main entry: binds the real `electron` module to the facade and starts the desktop shell.
// Everything else in main/ is plain TypeScript tested under Node; this file only runs inside Electron
// (build/bundle-main.mjs bundles it to dist/app/main.mjs, the packaged app's entry; preload.cjs beside it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDesktop } from './desktop.js';
import { asElectronFacade } from './facade.js';

// A variable specifier keeps TypeScript (and plain Node) from needing the electron package installed.
const electronModule = 'electron';
const electron = asElectronFacade(await import(electronModule));
const { app } = electron;
// The bundle sits at dist/app/main.mjs: two levels below the app root.
const here = path.dirname(fileURLToPath(import.meta.url));
const appPath = app.isPackaged ? app.getAppPath() : path.resolve(here, '..', '..');
const icons = path.join(appPath, 'resources', 'icons');
// Electron adds process.resourcesPath (the folder holding app.asar and extraResources).
const resourcesPath = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath ?? path.dirname(appPath);

const desktop = startDesktop({
  electron,
  appPath,
  resourcesPath: app.isPackaged ? resourcesPath : path.join(appPath, 'resources'),
  execPath: process.execPath,
  preloadPath: path.join(here, 'preload.cjs'),
  windowIconPath: path.join(icons, '512x512.png'),
  trayIconPath: path.join(icons, process.platform === 'darwin' ? 'trayTemplate.png' : 'tray.png'),
});
desktop?.started.catch(() => app.exit(1));
