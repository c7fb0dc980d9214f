// Is the admin UI reachable from other machines without TLS? Shared by the admin service, its status page
// and `sealpost doctor` (kept free of heavy imports so the CLI stays fast).
import net from 'node:net';

export const ADMIN_TLS_SETTING = 'admin.tls';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

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
