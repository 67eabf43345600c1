// REST client: every call carries the tab's access token and every answer is parsed with the server's zod schema.
import type { z } from 'zod';

const TOKEN_KEY = 'cadflow.token';

/** The token from `/?token=…` (the URL the server prints) is kept for the tab and dropped from the address bar. */
export function initToken(loc: Location = window.location): string | null {
  const url = new URL(loc.href);
  const given = url.searchParams.get('token');
  if (given !== null) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }
  return getToken();
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A non-2xx answer; `body` is the server's JSON (e.g. `{ errors }` for a refused run). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message);
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  json?: unknown;
}

export async function api<S extends z.ZodType>(path: string, schema: S, opts: RequestOptions = {}): Promise<z.infer<S>> {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.json !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const message = (body as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message, body);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(res.status, `unexpected answer from ${path}: ${parsed.error.issues[0]?.message}`, body);
  return parsed.data;
}

/** URL of a stored artifact; an <img> cannot send headers, so the token rides in the query. */
export function artifactUrl(id: string): string {
  const token = getToken();
  return `/api/artifacts/${id}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}
