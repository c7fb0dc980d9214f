// The window's security posture in one place: sandboxed renderer, strict CSP added to every admin
// response, no navigation or requests outside the admin origin, links to elsewhere open in the browser.
import type { BrowserWindowOptions, ElectronFacade, NativeImage, Session, WebContents } from './facade.js';

/**
 * Added to every response from the admin origin (on top of whatever the server sends; browsers enforce
 * both). Styles allow 'unsafe-inline' because Svelte transitions inject <style> elements; scripts do not.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
].join('; ');

export function windowOptions(preload: string | undefined, icon: NativeImage | undefined): BrowserWindowOptions {
  return {
    width: 1200,
    height: 820,
    minWidth: 720,
    minHeight: 480,
    title: 'Sealpost',
    show: false,
    autoHideMenuBar: true,
    backgroundColor: '#f6f7f9',
    icon,
    webPreferences: {
      preload,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** True when url is on exactly this origin (scheme, host and port). */
export function isSameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

/** Only web links leave the app, and only through the user's browser. */
export function isExternalWebLink(url: string): boolean {
  try {
    const protocol = new URL(url).protocol;
    return protocol === 'https:' || protocol === 'http:' || protocol === 'mailto:';
  } catch {
    return false;
  }
}

/** Keeps a window on the admin origin; `origin()` is read per event because a restart may move the port. */
export function guardNavigation(webContents: WebContents, origin: () => string | null, shell: ElectronFacade['shell']): void {
  const leave = (url: string): void => {
    if (isExternalWebLink(url)) void shell.openExternal(url).catch(() => undefined);
  };
  const onNavigate = (event: { preventDefault(): void }, url: string): void => {
    const current = origin();
    if (current && isSameOrigin(url, current)) return;
    event.preventDefault();
    leave(url);
  };
  webContents.on('will-navigate', onNavigate);
  webContents.on('will-redirect', onNavigate);
  webContents.on('will-attach-webview', (event) => event.preventDefault());
  webContents.setWindowOpenHandler(({ url }) => {
    const current = origin();
    // No second app window ever: it would escape this guard's lifecycle. Links elsewhere go to the browser;
    // same-origin popups are refused (the browser would not have the session cookie anyway).
    if (!current || !isSameOrigin(url, current)) leave(url);
    return { action: 'deny' };
  });
}

/**
 * Session-wide rules: CSP on admin responses, every request to another origin cancelled (the UI needs
 * nothing from the internet), every permission (camera, notifications, geolocation…) refused.
 */
export function hardenSession(session: Session, origin: () => string | null): void {
  session.webRequest.onBeforeRequest((details, callback) => {
    const current = origin();
    const allowed = details.url.startsWith('devtools://') || (current !== null && isSameOrigin(details.url, current));
    callback({ cancel: !allowed });
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    const current = origin();
    if (!current || !isSameOrigin(details.url, current)) return callback({ cancel: true });
    const headers: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    const serverPolicy = Object.entries(details.responseHeaders ?? {}).find(([name]) => name.toLowerCase() === 'content-security-policy')?.[1] ?? [];
    // Both policies apply when both are sent: ours can only tighten what the server allows.
    headers['Content-Security-Policy'] = [...serverPolicy, CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
  session.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
}
