// Is the admin UI reachable from other machines without TLS? Shared by the admin service, its status page
// and `sealpost doctor` (kept free of heavy imports so the CLI stays fast).
import { isLoopbackHost } from '../net.js';

export const ADMIN_TLS_SETTING = 'admin.tls';

/** A listen host naming this machine only (one rule for the whole server: net.ts isLoopbackHost). */
export const isLoopback = isLoopbackHost;

/** Admin TLS: SEALPOST_ADMIN_TLS (on/off) over the saved setting; default off (loopback + a reverse proxy). */
export function adminTlsEnabled(env: Readonly<Record<string, string | undefined>>, settings: { getSetting(key: string): unknown }): boolean {
  const fromEnv = env.SEALPOST_ADMIN_TLS;
  if (fromEnv !== undefined && fromEnv !== '') return /^(1|true|on|yes)$/i.test(fromEnv);
  return settings.getSetting(ADMIN_TLS_SETTING) === true;
}

/** The warning the UI and `doctor` show when the admin listener is reachable from other machines without TLS. */
export function adminExposureWarning(host: string, port: number, https: boolean): string | null {
  if (port === 0 || https || isLoopback(host)) return null;
  return `The admin UI listens on ${host}:${port} without TLS: passwords and session cookies cross the network in clear. Bind it to 127.0.0.1 behind an HTTPS reverse proxy, or turn on admin TLS (SEALPOST_ADMIN_TLS=on).`;
}
