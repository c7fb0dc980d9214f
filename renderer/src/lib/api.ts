// The one way the UI talks to the server: same-origin fetch with the session cookie, the CSRF header on
// every non-GET, JSON in and out, and one error type carrying the server's sentence.
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => undefined;

/** Called when a request comes back 401 (the session expired): the app shows the login page. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function csrfToken(): string {
  const match = document.cookie.split('; ').find((c) => c.startsWith('sp_csrf='));
  return match ? decodeURIComponent(match.slice('sp_csrf='.length)) : '';
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken();
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError('The server cannot be reached. Is Sealpost running?', 0, 'NETWORK');
  }
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  const data: unknown = isJson ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized();
    const error = data && typeof data === 'object' ? (data as { error?: unknown; code?: unknown }) : {};
    throw new ApiError(typeof error.error === 'string' ? error.error : `The server answered ${response.status}.`, response.status, typeof error.code === 'string' ? error.code : null);
  }
  return data as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => api<T>('POST', path, body);
export const put = <T>(path: string, body: unknown): Promise<T> => api<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown): Promise<T> => api<T>('PATCH', path, body);
export const del = <T>(path: string, body?: unknown): Promise<T> => api<T>('DELETE', path, body);

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface JobProgress {
  phase: string;
  done: number;
  total: number;
}

export interface JobView {
  id: string;
  kind: string;
  state: 'running' | 'done' | 'failed';
  progress: JobProgress;
  result: unknown;
  error: string | null;
  secret?: Record<string, string>;
}

/** Polls a job until it finishes, reporting each view; throws the job's error when it failed. */
export async function followJob(id: string, onUpdate: (job: JobView) => void, intervalMs = 250): Promise<JobView> {
  for (;;) {
    const job = await get<JobView>(`/api/jobs/${id}`);
    onUpdate(job);
    if (job.state === 'failed') throw new ApiError(job.error ?? 'The job failed.', 500, 'JOB_FAILED');
    if (job.state === 'done') return job;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
