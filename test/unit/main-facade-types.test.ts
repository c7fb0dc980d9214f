// The facade (main/facade.ts) against Electron's own type definitions, now that the pinned electron package is
// installed: `npm run typecheck` fails if the real module stops satisfying the slice of it the shell uses
// (a renamed method, a changed argument order). The runtime half checks the narrowing main/index.ts relies on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as Electron from 'electron';
import { asElectronFacade, type BrowserWindowInstance, type BrowserWindowOptions, type ElectronFacade, type TrayInstance } from '../../main/facade.js';

/**
 * Compiles only while the real electron module is assignable to the facade. The facade types images as a
 * plain `object` (tests pass fakes), so the two constructors are compared by what they build and by their
 * options with Electron's own image type; everything else must match as it is.
 */
export function realElectronIsAFacade(electron: typeof Electron): Omit<ElectronFacade, 'BrowserWindow' | 'Tray'> {
  return electron;
}

type WithRealIcon<T> = Omit<T, 'icon'> & { readonly icon?: Electron.NativeImage };
export function realWindowIsAFacadeWindow(options: WithRealIcon<BrowserWindowOptions>): BrowserWindowInstance {
  const real: Electron.BrowserWindowConstructorOptions = options;
  return new (null as unknown as typeof Electron.BrowserWindow)(real);
}
export function realTrayIsAFacadeTray(image: Electron.NativeImage): TrayInstance {
  return new (null as unknown as typeof Electron.Tray)(image);
}

test('the facade narrows a module with every member and names what a plain-Node module lacks', () => {
  assert.throws(() => asElectronFacade({ app: {} }), /lacks BrowserWindow, Tray, Menu, nativeImage, shell, ipcMain, dialog, session/);
  assert.throws(() => asElectronFacade('/path/to/electron'), /did not load/);
  // The type checks above are never called: they exist for `tsc`.
  for (const check of [realElectronIsAFacade, realWindowIsAFacadeWindow, realTrayIsAFacadeTray]) assert.equal(typeof check, 'function');
});
