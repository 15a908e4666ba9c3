import { z } from 'zod';

/**
 * The service's configuration, from environment variables. The variable names are a contract that
 * outside tools use; every variable is documented in the README's configuration table.
 */
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DurationSchema = z.string().regex(DURATION, 'must be a duration such as 30m, 12h or 7d');
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a duration such as `30m`, `12h` or `7d` (the format of DurationSchema); NaN otherwise. */
export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : Number.NaN;
}

/** A comma-separated list of organization ids, each trimmed, none empty. */
const OrgListSchema = z
  .string()
  .transform((value) => value.split(',').map((org) => org.trim()))
  .pipe(z.array(z.string().min(1, 'an organization id is empty').max(64)).min(1));

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const EnvSchema = z
  .object({
    INDOMAIN_HOST: z.string().min(1).default('127.0.0.1'),
    INDOMAIN_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    INDOMAIN_DATA_DIR: z.string().min(1).default('./data'),
    INDOMAIN_DEMO: z.stringbool().default(true),
    INDOMAIN_AUTH_MODE: z.enum(['development', 'production']).default('development'),
    INDOMAIN_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    INDOMAIN_JWT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
    // SECURITY: https only: whoever can answer the JWKS request in place of the identity provider can mint any token.
    INDOMAIN_JWKS_URL: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
    INDOMAIN_JWT_ISSUER: z.string().min(1).optional(),
    INDOMAIN_JWT_AUDIENCE: z.string().min(1).optional(),
    INDOMAIN_JWT_ALGORITHMS: z
      .string()
      .default('RS256,PS256,ES256,EdDSA')
      .transform((value) => value.split(',').map((alg) => alg.trim()))
      .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1)),
    INDOMAIN_DEV_TOKEN_TTL: DurationSchema.default('12h'),
    INDOMAIN_JWT_MAX_TTL: DurationSchema.refine((text) => durationMs(text) !== 0, 'must be longer than 0').default('12h'),
    INDOMAIN_SUPERVISOR_ORGS: OrgListSchema.optional(),
    INDOMAIN_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai').default('Asia/Shanghai'),
    INDOMAIN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    INDOMAIN_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
    INDOMAIN_MAX_INFLIGHT: z.coerce.number().int().min(1).default(512),
    INDOMAIN_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).default(1000),
    INDOMAIN_AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(1).default(256),
    INDOMAIN_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
    INDOMAIN_ENGINE_MAX_PROCESSES: z.coerce.number().int().min(2).max(1024).default(32),
    INDOMAIN_ENGINE_MEMORY_LIMIT_MB: z.coerce.number().int().min(64).default(1024),
    INDOMAIN_ENGINE_PROCESS_MEMORY_LIMIT_MB: z.coerce.number().int().min(256).default(2048),
    INDOMAIN_ENGINE_TRUSTED_MEMORY_LIMIT_MB: z.coerce.number().int().min(256).default(8192),
    INDOMAIN_ENGINE_KILL_GRACE_MS: z.coerce.number().int().min(100).max(60_000).default(1500),
    INDOMAIN_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    INDOMAIN_TABLE_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    INDOMAIN_QUERY_MAX_BYTES: z.coerce.number().int().min(1024).default(8 * 1024 * 1024),
    INDOMAIN_QUERY_CONCURRENCY_PER_TENANT: z.coerce.number().int().min(1).default(4),
    INDOMAIN_TABLE_CONCURRENCY_PER_TENANT: z.coerce.number().int().min(1).default(2),
    INDOMAIN_WORKSPACE_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(10 * 1024 ** 3),
    INDOMAIN_UPLOAD_MAX_ROWS: z.coerce.number().int().min(1).default(10_000_000),
    INDOMAIN_ENGINE_MAX_QUEUE: z.coerce.number().int().min(1).default(256),
    INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: z.coerce.number().int().min(1).default(30),
    INDOMAIN_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).default(256 * 1024 * 1024),
    INDOMAIN_DATASET_MAX_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024 * 1024),
    INDOMAIN_PII_SAMPLE_ROWS: z.coerce.number().int().min(100).max(1_000_000).default(1_000),
    INDOMAIN_EXPORT_ROW_CAP: z.coerce.number().int().min(1).default(100_000),
    INDOMAIN_EXPORT_MAX_ROWS: z.coerce.number().int().min(1).default(1_000_000),
    INDOMAIN_EXPORT_VALIDITY_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    INDOMAIN_EXPORT_MAX_DOWNLOADS: z.coerce.number().int().min(1).max(100).default(3),
  })
  .superRefine((env, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (env.INDOMAIN_AUTH_MODE === 'production') {
      const sources = [env.INDOMAIN_JWT_PUBLIC_KEY_FILE, env.INDOMAIN_JWKS_URL].filter(Boolean).length;
      if (sources !== 1) issue('INDOMAIN_JWT_PUBLIC_KEY_FILE', 'production needs exactly one of INDOMAIN_JWT_PUBLIC_KEY_FILE or INDOMAIN_JWKS_URL');
      // SECURITY: a shared HS256 secret in production would let anyone holding it mint tokens.
      if (env.INDOMAIN_JWT_SECRET) issue('INDOMAIN_JWT_SECRET', 'HS256 is disabled in production: unset it');
      if (env.INDOMAIN_JWKS_URL && !env.INDOMAIN_JWT_ISSUER) issue('INDOMAIN_JWT_ISSUER', 'required with INDOMAIN_JWKS_URL');
      // SECURITY: without an audience, a token the identity provider issued for any other service is accepted here.
      if (!env.INDOMAIN_JWT_AUDIENCE) issue('INDOMAIN_JWT_AUDIENCE', 'required in production: the aud your identity provider puts in tokens for this service');
      // SECURITY: without the list, anyone the identity provider gives the role supervisor, in any organization, is one.
      if (!env.INDOMAIN_SUPERVISOR_ORGS) issue('INDOMAIN_SUPERVISOR_ORGS', 'required in production: the comma-separated ids of the organizations whose users may act as supervisor');
    } else {
      if (env.INDOMAIN_JWT_PUBLIC_KEY_FILE) issue('INDOMAIN_JWT_PUBLIC_KEY_FILE', 'only used when INDOMAIN_AUTH_MODE=production');
      if (env.INDOMAIN_JWKS_URL) issue('INDOMAIN_JWKS_URL', 'only used when INDOMAIN_AUTH_MODE=production');
      // The server refuses tokens living longer than the maximum, its own printed ones included.
      if (durationMs(env.INDOMAIN_DEV_TOKEN_TTL) > durationMs(env.INDOMAIN_JWT_MAX_TTL)) {
        issue('INDOMAIN_DEV_TOKEN_TTL', `must not exceed INDOMAIN_JWT_MAX_TTL (${env.INDOMAIN_JWT_MAX_TTL})`);
      }
    }
  });

type Env = z.output<typeof EnvSchema>;

/** What every token must satisfy, in both modes. */
interface TokenRules {
  /** Longest lifetime accepted (`exp - iat`), as configured (`12h`) and in milliseconds. */
  maxTokenTtl: string;
  maxTokenTtlMs: number;
  /** Organizations whose tokens may carry the role supervisor; undefined: any (development only). */
  supervisorOrgs: readonly string[] | undefined;
}

type ProductionRules = TokenRules & { mode: 'production'; audience: string; algorithms: Env['INDOMAIN_JWT_ALGORITHMS']; supervisorOrgs: readonly string[] };

export type AuthConfig =
  | (TokenRules & { mode: 'development'; jwtSecret: string | undefined; devTokenTtl: string })
  | (ProductionRules & { publicKeyFile: string; issuer: string | undefined })
  | (ProductionRules & { jwksUrl: string; issuer: string });

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  demo: boolean;
  auth: AuthConfig;
  timeZone: string;
  logLevel: Env['INDOMAIN_LOG_LEVEL'];
  bodyLimitBytes: number;
  uploadMaxBytes: number;
  /** Largest file a supervisor may ingest as a dataset. */
  datasetMaxBytes: number;
  maxInflight: number;
  maxEventLoopDelayMs: number;
  auditCheckpointEvery: number;
  auditCheckpointIntervalMs: number;
  /** Values sampled per column for PII recognition at ingest. */
  piiSampleRows: number;
  exports: {
    /** Rows beyond which an export's output needs review. */
    rowCap: number;
    /** Rows beyond which an export is refused outright. */
    maxRows: number;
    /** Days an approved package may be downloaded. */
    validityDays: number;
    /** Downloads allowed per package. */
    maxDownloads: number;
  };
  engine: {
    /** Engine processes alive at once: one per tenant with recent work, plus the trusted one. */
    maxProcesses: number;
    /** DuckDB's memory_limit in each tenant engine. */
    memoryLimitMb: number;
    /** Resident memory of a tenant's engine process beyond which it is killed. */
    processMemoryLimitMb: number;
    /** The same for the trusted process (ingest, builds). */
    trustedMemoryLimitMb: number;
    /** Past a task's own limit, how long before its engine process is killed. */
    killGraceMs: number;
    queryTimeoutMs: number;
    tableTimeoutMs: number;
    queryMaxBytes: number;
    concurrencyPerTenant: number;
    /** Table builds and uploads one tenant may run at once. */
    tableConcurrencyPerTenant: number;
    /** A tenant's workspace file may not grow past this. */
    workspaceMaxBytes: number;
    /** Rows one upload may bring. */
    uploadMaxRows: number;
    maxQueue: number;
    maxRejectionsPerMinute: number;
  };
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/**
 * Reads the configuration from an environment. Pure and total: it never throws, and when anything
 * is wrong it reports every bad variable at once, including unknown `INDOMAIN_*` names (typos).
 */
export function loadConfig(env: Record<string, string | undefined>): ConfigResult {
  const known = new Set(Object.keys(EnvSchema.shape));
  const unknown = Object.keys(env)
    .filter((key) => key.startsWith('INDOMAIN_') && !known.has(key))
    .map((key) => `${key}: not a known setting`);
  // An empty variable means unset, as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([key, value]) => known.has(key) && value !== undefined && value !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success || unknown.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
    return { ok: false, errors: [...issues, ...unknown] };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      host: e.INDOMAIN_HOST,
      port: e.INDOMAIN_PORT,
      dataDir: e.INDOMAIN_DATA_DIR,
      demo: e.INDOMAIN_DEMO,
      auth: toAuthConfig(e),
      timeZone: e.INDOMAIN_TIMEZONE,
      logLevel: e.INDOMAIN_LOG_LEVEL,
      bodyLimitBytes: e.INDOMAIN_BODY_LIMIT_BYTES,
      uploadMaxBytes: e.INDOMAIN_UPLOAD_MAX_BYTES,
      datasetMaxBytes: e.INDOMAIN_DATASET_MAX_BYTES,
      maxInflight: e.INDOMAIN_MAX_INFLIGHT,
      maxEventLoopDelayMs: e.INDOMAIN_MAX_EVENT_LOOP_DELAY_MS,
      auditCheckpointEvery: e.INDOMAIN_AUDIT_CHECKPOINT_EVERY,
      auditCheckpointIntervalMs: e.INDOMAIN_AUDIT_CHECKPOINT_INTERVAL_MS,
      piiSampleRows: e.INDOMAIN_PII_SAMPLE_ROWS,
      exports: {
        rowCap: e.INDOMAIN_EXPORT_ROW_CAP,
        maxRows: e.INDOMAIN_EXPORT_MAX_ROWS,
        validityDays: e.INDOMAIN_EXPORT_VALIDITY_DAYS,
        maxDownloads: e.INDOMAIN_EXPORT_MAX_DOWNLOADS,
      },
      engine: {
        maxProcesses: e.INDOMAIN_ENGINE_MAX_PROCESSES,
        memoryLimitMb: e.INDOMAIN_ENGINE_MEMORY_LIMIT_MB,
        processMemoryLimitMb: e.INDOMAIN_ENGINE_PROCESS_MEMORY_LIMIT_MB,
        trustedMemoryLimitMb: e.INDOMAIN_ENGINE_TRUSTED_MEMORY_LIMIT_MB,
        killGraceMs: e.INDOMAIN_ENGINE_KILL_GRACE_MS,
        queryTimeoutMs: e.INDOMAIN_QUERY_TIMEOUT_MS,
        tableTimeoutMs: e.INDOMAIN_TABLE_TIMEOUT_MS,
        queryMaxBytes: e.INDOMAIN_QUERY_MAX_BYTES,
        concurrencyPerTenant: e.INDOMAIN_QUERY_CONCURRENCY_PER_TENANT,
        tableConcurrencyPerTenant: e.INDOMAIN_TABLE_CONCURRENCY_PER_TENANT,
        workspaceMaxBytes: e.INDOMAIN_WORKSPACE_MAX_BYTES,
        uploadMaxRows: e.INDOMAIN_UPLOAD_MAX_ROWS,
        maxQueue: e.INDOMAIN_ENGINE_MAX_QUEUE,
        maxRejectionsPerMinute: e.INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE,
      },
    },
  };
}

function toAuthConfig(e: Env): AuthConfig {
  const rules = { maxTokenTtl: e.INDOMAIN_JWT_MAX_TTL, maxTokenTtlMs: durationMs(e.INDOMAIN_JWT_MAX_TTL) };
  if (e.INDOMAIN_AUTH_MODE === 'development') {
    return { mode: 'development', jwtSecret: e.INDOMAIN_JWT_SECRET, devTokenTtl: e.INDOMAIN_DEV_TOKEN_TTL, ...rules, supervisorOrgs: e.INDOMAIN_SUPERVISOR_ORGS };
  }
  // The refinement above guarantees an audience and supervisor organizations, exactly one key source, and an issuer with a JWKS URL.
  const common = { mode: 'production' as const, audience: e.INDOMAIN_JWT_AUDIENCE!, algorithms: e.INDOMAIN_JWT_ALGORITHMS, ...rules, supervisorOrgs: e.INDOMAIN_SUPERVISOR_ORGS! };
  if (e.INDOMAIN_JWKS_URL) return { ...common, jwksUrl: e.INDOMAIN_JWKS_URL, issuer: e.INDOMAIN_JWT_ISSUER! };
  return { ...common, publicKeyFile: e.INDOMAIN_JWT_PUBLIC_KEY_FILE!, issuer: e.INDOMAIN_JWT_ISSUER };
}

/** Every variable name the service reads (for docs and tests). */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape);
