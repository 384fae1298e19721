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
  closed?: string;
  closed_by?: string;
  close_note?: string;
}

export interface TenantOverview {
  tenant: string;
  plan: PlanSummary | null;
  sources: SourceView[];
  machines: Machine[];
  alerts: Alert[];
  retention: { frozen: boolean; lock_days: number; storage_immutable: boolean };
  /** Drills at a glance (absent from servers before schema 8). */
  drills?: OverviewDrills;
}

/** A town's drills at a glance: the latest drill of each service of the plan, those never drilled, the queue, the schedule, the runner. */
export interface OverviewDrills {
  latest: { service: string; id: number; result: string; finished: string }[];
  never: string[];
  open_requests: number;
  every_days: number;
  next?: string;
  runner?: string;
  runner_seen?: string;
  runner_stale?: boolean;
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
  created_by?: string;
  note?: string;
  services?: number;
  reviewed_at?: string;
  plan?: { title?: string; services: PlanService[] };
  /** The file as saved (GET plan). */
  yaml?: string;
  /** What it changed from the version before (versions, PUT). */
  changes?: PlanDiff;
  /** PUT saved nothing: the plan is the current version's. */
  unchanged?: boolean;
}

export interface PlanDiff {
  added: string[];
  removed: string[];
  changed: { id: string; fields: string[] }[];
  plan?: string[];
}

/** POST plan/check (internal/server/plan_check_api.go): a draft checked without saving. */
export interface PlanCheck {
  valid: boolean;
  errors: { line?: number; message: string }[];
  current_version: number;
  plan?: { title?: string; services: PlanService[] };
  changes?: PlanDiff;
  waves?: PlanOrder['waves'];
  unordered?: string[];
  problems?: Problem[];
}

// GET drills (internal/server/drill_api.go, internal/drill/record.go).
export interface DrillSource {
  host: string;
  path: string;
  snapshot?: string;
  snapshot_time?: string;
  skipped?: string[];
  files: number;
  bytes: number;
  digest?: string;
  restore_seconds: number;
  verify_seconds: number;
  damaged?: { path: string; reason: string }[];
  damaged_count?: number;
  error?: string;
}

export interface Drill {
  id: number;
  tenant: string;
  recorded_by: string;
  recorded: string;
  alert_id?: number;
  service: string;
  service_name?: string;
  plan_version?: number;
  rto: string;
  result: 'passed' | 'failed' | 'slow';
  reasons?: string[];
  sources: DrillSource[];
  files: number;
  bytes: number;
  damaged: number;
  digest?: string;
  restore_seconds: number;
  verify_seconds: number;
  health_seconds: number;
  recovery_seconds: number;
  health_check?: { command: string; ran: boolean; exit_code: number; timed_out?: boolean; seconds: number; output?: string; error?: string };
  started: string;
  finished: string;
  ran_by: string;
  host: string;
  program?: string;
  sha256: string;
}

// Drills requested from the console, and the schedule (docs/drills.md;
// GET/POST drill-requests, PUT drill-schedule).
export interface DrillRequest {
  id: number;
  tenant: string;
  service: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  requested: string;
  requested_by: string;
  claimed?: string | null;
  claimed_by?: string;
  host?: string;
  progress?: { phase: string; done: number; total: number; updated?: string } | null;
  finished?: string | null;
  drill_id?: number;
  result?: '' | 'passed' | 'failed' | 'slow';
  error?: string;
  cancelled_by?: string;
  /** The drill alert a failed request opened. */
  alert_id?: number;
}

export interface DrillRunner {
  actor: string;
  host: string;
  last_seen: string;
  /** Not heard from for 15 minutes (the server's clock). */
  stale?: boolean;
}

export interface DrillSchedule {
  every_days: number;
  at?: string;
  time_zone?: string;
  next?: string | null;
  last_run?: string | null;
  updated_by?: string;
  updated?: string;
}

export interface DrillRequests {
  requests: DrillRequest[];
  runners: DrillRunner[];
  schedule?: DrillSchedule | null;
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

/** A file the API serves to a bearer token only (so no plain link): fetched, then saved from a blob URL. */
async function fetchBlob(s: Session, path: string, accept: string): Promise<Blob> {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${s.token}`, Accept: accept }, cache: 'no-store' });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const d = (await res.json()) as { error?: unknown };
      if (typeof d.error === 'string') msg = d.error;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) throw new SessionExpired(msg);
    throw new HttpError(res.status, msg);
  }
  return res.blob();
}

// Accounts (internal/server/accounts_api.go, totp.go): who may sign in.

export type Role = 'operator' | 'tenant_admin' | 'auditor' | 'coordinator';

/** An account as the API shows it (never its password or second-factor secret). */
export interface Account {
  username: string;
  role: Role;
  tenant?: string;
  totp_enabled: boolean;
  /** A second-factor set-up was started and not confirmed. */
  totp_pending?: boolean;
  disabled: boolean;
  disabled_at?: string;
  created: string;
  /** Its last sign-in (absent: never, or before the server recorded it). */
  last_login?: string;
}

/** POST /v1/account/totp: the new secret, pending until a code confirms it. */
export interface TotpBegin {
  secret: string;
  otpauth_uri: string;
  issuer: string;
  account: string;
}

const accountPath = (u: string) => `/v1/accounts/${encodeURIComponent(u)}`;

export const accountsApi = {
  list: (s: Session) => request<Account[]>('GET', '/v1/accounts', s.token),
  /** The towns the caller may see (an operator: all). */
  tenants: (s: Session) => request<{ id: number; name: string; created: string }[]>('GET', '/v1/tenants', s.token),
  /** A new account with a generated password, returned this once. */
  create: (s: Session, username: string, role: Role, tenant: string) =>
    request<Account & { password?: string }>('POST', '/v1/accounts', s.token, { username, role, tenant }),
  /** Disables an account and ends its sessions and API tokens. */
  disable: (s: Session, u: string) => request<Account>('POST', `${accountPath(u)}/disable`, s.token, {}),
  /** Enables a disabled account again, with a new generated password (returned this once). */
  enable: (s: Session, u: string) => request<Account & { password: string }>('POST', `${accountPath(u)}/enable`, s.token, {}),
  /** A new generated password (returned this once); the account's sessions end. */
  resetPassword: (s: Session, u: string) =>
    request<{ username: string; password: string; tokens_revoked: number }>('POST', `${accountPath(u)}/password`, s.token, {}),
  /** Turns off another account's second factor (operators only). */
  resetTotp: (s: Session, u: string) => request<Account>('DELETE', `${accountPath(u)}/totp`, s.token),
  /** The caller's own account. */
  me: (s: Session) => request<Account>('GET', '/v1/account', s.token),
  /** Changes one's own password; the other sessions end. */
  changePassword: (s: Session, oldPassword: string, newPassword: string) =>
    request<{ username: string; tokens_revoked: number }>('POST', '/v1/account/password', s.token, { old_password: oldPassword, new_password: newPassword }),
  beginTotp: (s: Session) => request<TotpBegin>('POST', '/v1/account/totp', s.token, {}),
  confirmTotp: (s: Session, code: string) => request<{ username: string; totp_enabled: boolean }>('POST', '/v1/account/totp/confirm', s.token, { code }),
  /** Turns one's own second factor off (or cancels a set-up): the password, and a current code when it is on. */
  disableTotp: (s: Session, password: string, code: string) =>
    request<{ username: string; totp_enabled: boolean }>('DELETE', '/v1/account/totp', s.token, { password, code }),
};

const tenantPath = (t: string) => `/v1/tenants/${encodeURIComponent(t)}`;

export const consoleApi = {
  overview: (s: Session) => request<Overview>('GET', '/v1/overview', s.token),
  plan: (s: Session, t: string) => request<PlanVersion>('GET', `${tenantPath(t)}/plan`, s.token),
  order: (s: Session, t: string) => request<PlanOrder>('GET', `${tenantPath(t)}/plan/order`, s.token),
  alert: (s: Session, id: number) => request<Alert>('GET', `/v1/alerts/${id}`, s.token),
  planVersions: (s: Session, t: string) => request<PlanVersion[]>('GET', `${tenantPath(t)}/plan/versions`, s.token),
  checkPlan: (s: Session, t: string, yaml: string) => request<PlanCheck>('POST', `${tenantPath(t)}/plan/check`, s.token, { yaml }),
  savePlan: (s: Session, t: string, baseVersion: number, yaml: string, note: string) =>
    request<PlanVersion>('PUT', `${tenantPath(t)}/plan`, s.token, { base_version: baseVersion, yaml, note }),
  planExample: (s: Session) => request<{ yaml: string }>('GET', '/v1/plan/example', s.token),
  drills: (s: Session, t: string) => request<Drill[]>('GET', `${tenantPath(t)}/drills?limit=500`, s.token),
  drill: (s: Session, t: string, id: number) => request<Drill>('GET', `${tenantPath(t)}/drills/${id}`, s.token),
  drillRequests: (s: Session, t: string) => request<DrillRequests>('GET', `${tenantPath(t)}/drill-requests?limit=50`, s.token),
  /** Queues a drill of each service, or of every service of the plan; a service with an open request gets that one back. */
  requestDrills: (s: Session, t: string, services: string[] | 'all') =>
    request<unknown>('POST', `${tenantPath(t)}/drill-requests`, s.token, services === 'all' ? { all: true } : { services }),
  cancelDrillRequest: (s: Session, t: string, id: number) => request<unknown>('POST', `${tenantPath(t)}/drill-requests/${id}/cancel`, s.token, {}),
  /** Every service drilled every N days at HH:MM (server time); 0 days: off. */
  setDrillSchedule: (s: Session, t: string, everyDays: number, at: string) =>
    request<DrillSchedule>('PUT', `${tenantPath(t)}/drill-schedule`, s.token, everyDays > 0 ? { every_days: everyDays, at } : { every_days: 0 }),
  /** The printable runbook as a PDF (the API needs the token, so no plain link). */
  runbook: (s: Session, t: string, lang: string) => fetchBlob(s, `${tenantPath(t)}/runbook.pdf?lang=${encodeURIComponent(lang)}`, 'application/pdf'),
  /** The NIS2 evidence report (docs/evidence.md) of a period, as a PDF or a CSV file. */
  evidence: (s: Session, t: string, format: 'pdf' | 'csv', from: string, to: string, lang: string) =>
    fetchBlob(
      s,
      `${tenantPath(t)}/evidence.${format}?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}` +
        (format === 'pdf' ? `&lang=${encodeURIComponent(lang)}` : ''),
      format === 'pdf' ? 'application/pdf' : 'text/csv',
    ),
  /** Closes an alert with a note saying what was done (POST /v1/alerts/{id}/close). */
  closeAlert: (s: Session, id: number, note: string) => request<Alert>('POST', `/v1/alerts/${id}/close`, s.token, { note }),
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
