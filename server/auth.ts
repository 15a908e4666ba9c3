import fs from 'node:fs';
import fastifyJwt, { type FastifyJWTOptions } from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import buildGetJwks from 'get-jwks';
import { DomainError } from '../core/errors.js';
import { ClaimsSchema, type AuditActor, type Claims, type ControlPlane, type Role } from '../tenants/index.js';
import type { AuthConfig } from './config.js';

/**
 * Who may call a route. Every route in the API scope must declare one; a route without it fails at
 * registration, so no route is public by omission.
 */
export type RouteAccess = 'public' | { roles: readonly Role[] };

/** Route config for the endpoints only the supervisor (主管部门) may call. */
export const SUPERVISOR_ONLY = { access: { roles: ['supervisor'] } } as const;
/** Route config for an operating entity's own sandbox (its tenant is always the caller's org). */
export const OPERATOR_ONLY = { access: { roles: ['operator'] } } as const;
/** Route config for what every role may call. */
export const ALL_ROLES = { access: { roles: ['supervisor', 'operator', 'applicant'] } } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The verified caller; set for every non-public route before its handler runs. */
    claims: Claims;
  }
}

/**
 * fast-jwt's cache of verified tokens (keyed by a hash of the token; an entry never outlives the
 * token's own `exp`). Safe because verification only says who signed the token: whether that caller
 * may act is decided afresh on every request from control-plane state.
 */
const VERIFY_CACHE = { cache: 10_000, cacheTTL: 60_000 } as const;

/** Verifies a request's bearer token and returns its payload, or throws a DomainError. */
export type TokenVerifier = (request: FastifyRequest) => Promise<unknown>;

/**
 * Registers @fastify/jwt for the configured mode (HS256 in development, public keys in production)
 * and returns the verifier the access guard uses. With a static key the token is verified
 * synchronously by `app.jwt.verify`; only JWKS needs the asynchronous per-request key lookup.
 */
export async function registerJwt(app: FastifyInstance, auth: AuthConfig, devSecret: string | undefined): Promise<TokenVerifier> {
  let options: FastifyJWTOptions;
  if (auth.mode === 'development') {
    if (!devSecret) throw new Error('development mode needs an HS256 secret');
    // SECURITY: algorithms pinned: `alg: none` and public-key confusion are refused by fast-jwt.
    options = { secret: devSecret, verify: { algorithms: ['HS256'], ...VERIFY_CACHE }, sign: { algorithm: 'HS256' } };
  } else {
    const verify = {
      // SECURITY: only asymmetric algorithms in production: HS256 is disabled.
      algorithms: [...auth.algorithms],
      ...VERIFY_CACHE,
      ...(auth.issuer ? { allowedIss: auth.issuer } : {}),
      ...(auth.audience ? { allowedAud: auth.audience } : {}),
    };
    if ('publicKeyFile' in auth) {
      options = { secret: { public: fs.readFileSync(auth.publicKeyFile, 'utf8') }, verify };
    } else {
      const url = new URL(auth.jwksUrl);
      const getJwks = buildGetJwks({ jwksPath: url.pathname, max: 100, ttl: 10 * 60_000 });
      options = {
        decode: { complete: true },
        verify,
        // Keys are fetched from the configured JWKS only, never from a URL found in the token.
        secret: (_request: FastifyRequest, token: unknown) => {
          const header = (token as { header?: { kid?: string; alg?: string } }).header ?? {};
          return getJwks.getPublicKey({ domain: url.origin, kid: header.kid ?? '', alg: header.alg ?? '' });
        },
      } as FastifyJWTOptions;
    }
  }
  await app.register(fastifyJwt, options);
  const usesJwks = auth.mode === 'production' && 'jwksUrl' in auth;
  return async (request) => {
    let payload: unknown;
    try {
      payload = usesJwks ? await request.jwtVerify() : app.jwt.verify(bearerToken(request));
    } catch (error) {
      throw toAuthError(error);
    }
    checkTokenLifetime(payload, auth, Date.now());
    return payload;
  };
}

/** Clock skew allowed between the identity provider and this server when `iat` is in the future. */
const IAT_SKEW_S = 60;

/**
 * Refuses a verified token that does not expire, or lives longer than `INDOMAIN_JWT_MAX_TTL`
 * (`exp - iat`, or `exp - now` without an `iat`). Exported for tests.
 */
export function checkTokenLifetime(payload: unknown, auth: Pick<AuthConfig, 'maxTokenTtl' | 'maxTokenTtlMs'>, nowMs: number): void {
  const { exp, iat } = (payload ?? {}) as { exp?: unknown; iat?: unknown };
  // SECURITY: access is decided afresh on every request, but a token that never expires cannot be taken back from
  // whoever copied it: every token must expire, and soon.
  if (typeof exp !== 'number') throw new DomainError('AUTH_ERR_TOKEN_LIFETIME', `the token has no exp: tokens must expire within ${auth.maxTokenTtl} of issue`);
  const nowS = nowMs / 1000;
  // An iat in the future (beyond clock skew) does not buy a longer life from now.
  const issuedS = typeof iat === 'number' ? Math.min(iat, nowS + IAT_SKEW_S) : nowS;
  // SECURITY: a long-lived token outlives the decisions it was issued under; the identity provider must reissue.
  if ((exp - issuedS) * 1000 > auth.maxTokenTtlMs) {
    throw new DomainError('AUTH_ERR_TOKEN_LIFETIME', `the token lives longer than ${auth.maxTokenTtl} (exp - iat): get one with a shorter lifetime`);
  }
}

const MISSING_TOKEN = new DomainError('AUTH_ERR_MISSING_TOKEN', 'send a token as "Authorization: Bearer <JWT>"');

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw MISSING_TOKEN;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new DomainError('AUTH_ERR_INVALID_TOKEN', 'the token is not valid');
  return match[1]!;
}

/** @fastify/jwt's and fast-jwt's errors, by code, as ours. */
function toAuthError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  switch ((error as { code?: string }).code) {
    case 'FST_JWT_NO_AUTHORIZATION_IN_HEADER':
      return MISSING_TOKEN;
    case 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED':
    case 'FAST_JWT_EXPIRED':
      return new DomainError('AUTH_ERR_TOKEN_EXPIRED', 'the token has expired: get a new one');
    case 'FAST_JWT_INACTIVE':
      return new DomainError('AUTH_ERR_TOKEN_NOT_ACTIVE', 'the token is not valid yet (nbf)');
    default:
      // SECURITY: bad signature, alg none, malformed, wrong issuer or audience: one code, no detail.
      return new DomainError('AUTH_ERR_INVALID_TOKEN', 'the token is not valid');
  }
}

/**
 * Installs the per-route guard in the API scope: verify the token, validate its claims, check the
 * caller's organization against control-plane state, then the route's roles.
 */
export function installAccessGuard(
  app: FastifyInstance,
  controlPlane: ControlPlane,
  verifyToken: TokenVerifier,
  options: { supervisorOrgs?: readonly string[] | undefined } = {},
): void {
  const supervisorOrgs = options.supervisorOrgs ? new Set(options.supervisorOrgs) : undefined;
  app.decorateRequest('claims', null as unknown as Claims);

  app.addHook('onRoute', (route) => {
    // SECURITY: fail closed at startup: a route that forgot to say who may call it is a bug, not public.
    if (!route.config?.access) throw new Error(`route ${route.method} ${route.url} declares no access`);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    if (!access) throw new Error('route without access declaration'); // unreachable: onRoute refuses these
    const payload = await verifyToken(request);
    const claims = ClaimsSchema.safeParse(payload);
    if (!claims.success) throw new DomainError('AUTH_ERR_BAD_CLAIMS', 'the token must carry sub, role (supervisor, operator or applicant) and org');
    // SECURITY: the role supervisor counts only from a configured supervisor organization (INDOMAIN_SUPERVISOR_ORGS): an
    // identity provider that also serves other organizations cannot make one of their users a supervisor here.
    if (claims.data.role === 'supervisor' && supervisorOrgs && !supervisorOrgs.has(claims.data.org)) {
      throw new DomainError('AUTH_ERR_SUPERVISOR_ORG', `organization ${claims.data.org} is not a supervisor organization`);
    }
    // SECURITY: invariant 6: control-plane state decides on every request, whatever the token says.
    controlPlane.checkAccess(claims.data);
    // A verified caller, known before the role guard so that routes can audit whom it refused (onError).
    request.claims = claims.data;
    // SECURITY: role guard.
    if (!access.roles.includes(claims.data.role)) {
      throw new DomainError('AUTH_ERR_ROLE_FORBIDDEN', `this endpoint is for ${access.roles.join(' or ')}; the token's role is ${claims.data.role}`);
    }
  });
}

/** The caller as an audit actor. */
export function actorOf(request: FastifyRequest): AuditActor {
  return { sub: request.claims.sub, role: request.claims.role, org: request.claims.org };
}

/** Operators act only on their own tenant; supervisors on any. */
export function assertOwnTenant(request: FastifyRequest, tenantId: string): void {
  // SECURITY: tenant isolation at the API: an operator's org must name the tenant addressed.
  if (request.claims.role === 'operator' && request.claims.org !== tenantId) {
    throw new DomainError('AUTH_ERR_ORG_MISMATCH', 'operators may only address their own tenant');
  }
}
