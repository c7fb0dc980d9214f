// How the desktop shell starts `serve`: `node bin/sealpost serve` from a checkout (the precompiled server
// when it is fresh, else the sources through tsx), or, when packaged, the precompiled server itself
// (dist/server/cli.js: no TypeScript, no tsx in the package) with the app's own Electron binary in Node mode
// (ELECTRON_RUN_AS_NODE=1). The app key goes in the env.
import path from 'node:path';
import type { ServerCommand } from './server-process.js';

export interface ServerCommandOptions {
  readonly isPackaged: boolean;
  /** app.getAppPath(): the checkout root in dev, …/resources/app.asar when packaged. */
  readonly appPath: string;
  /** process.resourcesPath when packaged (extraResources land there: bin/rclone). */
  readonly resourcesPath: string;
  /** process.execPath: the Electron binary when packaged. */
  readonly execPath: string;
  readonly dataDir: string;
  /** The app key (64 hex) main read from the OS keychain; null leaves the child to find it (env, app.key). */
  readonly appKeyHex: string | null;
  /** The parent's environment; SEALPOST_* settings in it pass through. */
  readonly env: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
}

/** The packaged server's entry, relative to the app root (scripts/build-server.mjs writes it). */
export const PACKAGED_SERVER_ENTRY = ['dist', 'server', 'cli.js'] as const;

export function serverCommand(options: ServerCommandOptions): ServerCommand {
  const platform = options.platform ?? process.platform;
  const exe = platform === 'win32' ? '.exe' : '';
  const env: NodeJS.ProcessEnv = { ...options.env, SEALPOST_DATA: options.dataDir };
  if (options.appKeyHex) env.SEALPOST_APP_KEY = options.appKeyHex;
  // The sign-in token must come from <data>/ui-token (see admin-client.ts), never from an inherited env value.
  delete env.SEALPOST_UI_TOKEN;
  // Electron sets these for itself; the child must not think it is a renderer or inherit our asar switches.
  delete env.ELECTRON_NO_ASAR;
  if (!options.isPackaged) {
    return { command: env.SEALPOST_NODE || 'node', args: [path.join(options.appPath, 'bin', 'sealpost'), 'serve'], env, cwd: options.appPath };
  }
  env.ELECTRON_RUN_AS_NODE = '1';
  // rclone is staged by build/stage-rclone.mjs and shipped as an extraResource next to app.asar.
  env.SEALPOST_RCLONE ||= path.join(options.resourcesPath, 'bin', `rclone${exe}`);
  // The server runs from app.asar.unpacked (build/electron-builder.cjs unpacks dist/server, renderer/dist and
  // node_modules): worker threads cannot read inside asar.
  const unpacked = options.appPath.endsWith('.asar') ? `${options.appPath}.unpacked` : options.appPath;
  return { command: options.execPath, args: [path.join(unpacked, ...PACKAGED_SERVER_ENTRY), 'serve'], env, cwd: unpacked };
}
