// The console's client of the administration API (docs/server.md): the
// same /v1/login as `rempart login`, then bearer-token calls. The session
// lives in sessionStorage (this tab only, gone when it closes), under the
// crisis room's key, so that "Open the crisis room" needs no second
// sign-in.

export interface Session {
  token: string;
  user: string;
  tenant?: string;
  role?: string;
  expires?: string;
}

const KEY = 'rempart-session';

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    if (typeof s?.token !== 'string' || !s.token) return undefined;
    if (s.expires && Date.parse(s.expires) <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

export function saveSession(s: Session | undefined): void {
  try {
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage refused: the session lasts this page only */
  }
}

/** An answer of the server other than 2xx. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The token was refused (expired, revoked, account disabled). */
export class SessionExpired extends Error {}

async function request<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const msg =
      typeof data === 'object' && data !== null && typeof (data as { error?: unknown }).error === 'string'
        ? (data as { error: string }).error
        : `${res.status} ${res.statusText}`;
    if (res.status === 401 && token) throw new SessionExpired(msg);
    throw new HttpError(res.status, msg);
  }
  return data as T;
}

export interface LoginAnswer {
  token: string;
  expires?: string;
  role?: string;
  tenant?: string;
}

export function login(username: string, password: string, totp: string): Promise<LoginAnswer> {
  return request<LoginAnswer>('POST', '/v1/login', undefined, { username, password, totp });
}

// GET /v1/overview (internal/server/overview_api.go).

export interface Problem {
  kind: string;
  severity: 'error' | 'warning';
  service?: string;
  cycle?: string[];
  dependency?: string;
  source?: { host: string; path: string };
  message: string;
}

export interface PlanSummary {
  version: number;
  saved: string;
  services: number;
  waves: number;
  reviewed_at?: string;
  errors: number;
  warnings: number;
  problems: Problem[];
}

export interface SourceView {
  service: string;
  host: string;
  path: string;
  latest?: string;
  age_seconds: number;
  rpo_seconds: number;
  status: 'ok' | 'stale' | 'missing';
}

export interface Machine {
  agent_id: number;
  host: string;
  revoked?: boolean;
  snapshots: number;
  latest?: string;
  verdict?: string;
  latest_clean?: string;
  locked_until?: string;
}

export interface Alert {
  id: number;
  tenant: string;
  state: string;
  verdict: string;
  kind?: string;
  snapshot: string;
  source: string;
  source_host?: string;
  opened: string;
  clean_snapshot?: string;
  clean_received?: string;
  detail?: string;
}

export interface TenantOverview {
  tenant: string;
  plan: PlanSummary | null;
  sources: SourceView[];
  machines: Machine[];
  alerts: Alert[];
  retention: { frozen: boolean; lock_days: number; storage_immutable: boolean };
}

export interface Overview {
  at: string;
  tenants: TenantOverview[];
}

export interface Step {
  position: number;
  id: string;
  name: string;
  criticality: string;
  rto: string;
  rpo: string;
  depends_on?: string[];
}

export interface PlanOrder {
  tenant: string;
  version: number;
  waves: { number: number; services: Step[] }[];
  unordered?: string[];
  problems: Problem[];
}

export interface PlanService {
  id: string;
  name?: string;
  depends_on?: string[];
}

export interface PlanVersion {
  version: number;
  created: string;
  reviewed_at?: string;
  plan?: { title?: string; services: PlanService[] };
}

export interface AuditRecord {
  id: number;
  time: string;
  actor: string;
  action: string;
  tenant?: string;
}

interface AuditList {
  records: AuditRecord[];
  chain: { intact: boolean; records: number };
  more: boolean;
}

const tenantPath = (t: string) => `/v1/tenants/${encodeURIComponent(t)}`;

export const consoleApi = {
  overview: (s: Session) => request<Overview>('GET', '/v1/overview', s.token),
  plan: (s: Session, t: string) => request<PlanVersion>('GET', `${tenantPath(t)}/plan`, s.token),
  order: (s: Session, t: string) => request<PlanOrder>('GET', `${tenantPath(t)}/plan/order`, s.token),
  alert: (s: Session, id: number) => request<Alert>('GET', `/v1/alerts/${id}`, s.token),
  /**
   * The latest n records of a tenant's audit trail, newest first. The API
   * pages forwards from a record ID; the chain's head (the newest ID of
   * the whole trail) says where to start.
   */
  async latestAudit(s: Session, t: string, n = 20): Promise<AuditRecord[]> {
    const q = (after: number, limit: number) =>
      request<AuditList>('GET', `/v1/audit?tenant=${encodeURIComponent(t)}&after=${after}&limit=${limit}`, s.token);
    const head = (await q(0, 1)).chain.records;
    let got: AuditRecord[] = [];
    for (const back of [500, 5000, 50000, Infinity]) {
      const start = Math.max(0, head - back);
      got = [];
      for (let after = start, more = true; more; ) {
        const page = await q(after, 1000);
        got = got.concat(page.records).slice(-n);
        more = page.more && page.records.length > 0;
        if (more) after = page.records[page.records.length - 1].id;
      }
      if (got.length >= n || start === 0) break;
    }
    return got.slice(-n).reverse();
  },
};
