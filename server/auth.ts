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

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The verified caller; set for every non-public route before its handler runs. */
    claims: Claims;
  }
}

/** Registers @fastify/jwt for the configured mode: HS256 in development, public keys in production. */
export async function registerJwt(app: FastifyInstance, auth: AuthConfig, devSecret: string | undefined): Promise<void> {
  let options: FastifyJWTOptions;
  if (auth.mode === 'development') {
    if (!devSecret) throw new Error('development mode needs an HS256 secret');
    // SECURITY: algorithms pinned: `alg: none` and public-key confusion are refused by fast-jwt.
    options = { secret: devSecret, verify: { algorithms: ['HS256'] }, sign: { algorithm: 'HS256' } };
  } else {
    const verify = {
      // SECURITY: only asymmetric algorithms in production: HS256 is disabled.
      algorithms: [...auth.algorithms],
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
}

const JWT_ERRORS: Record<string, { code: 'AUTH_ERR_MISSING_TOKEN' | 'AUTH_ERR_TOKEN_EXPIRED' | 'AUTH_ERR_TOKEN_NOT_ACTIVE'; message: string }> = {
  FST_JWT_NO_AUTHORIZATION_IN_HEADER: { code: 'AUTH_ERR_MISSING_TOKEN', message: 'send a token as "Authorization: Bearer <JWT>"' },
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: { code: 'AUTH_ERR_TOKEN_EXPIRED', message: 'the token has expired: get a new one' },
  FAST_JWT_INACTIVE: { code: 'AUTH_ERR_TOKEN_NOT_ACTIVE', message: 'the token is not valid yet (nbf)' },
};

/**
 * Installs the per-route guard in the API scope: verify the token, validate its claims, check the
 * caller's organization against control-plane state, then the route's roles.
 */
export function installAccessGuard(app: FastifyInstance, controlPlane: ControlPlane): void {
  app.decorateRequest('claims', null as unknown as Claims);

  app.addHook('onRoute', (route) => {
    // SECURITY: fail closed at startup: a route that forgot to say who may call it is a bug, not public.
    if (!route.config?.access) throw new Error(`route ${route.method} ${route.url} declares no access`);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    if (!access) throw new Error('route without access declaration'); // unreachable: onRoute refuses these
    let payload: unknown;
    try {
      payload = await request.jwtVerify();
    } catch (error) {
      const known = JWT_ERRORS[(error as { code?: string }).code ?? ''];
      // SECURITY: bad signature, alg none, malformed, wrong issuer/audience: all one code, no detail.
      throw known ? new DomainError(known.code, known.message) : new DomainError('AUTH_ERR_INVALID_TOKEN', 'the token is not valid');
    }
    const claims = ClaimsSchema.safeParse(payload);
    if (!claims.success) throw new DomainError('AUTH_ERR_BAD_CLAIMS', 'the token must carry sub, role (supervisor, operator or applicant) and org');
    // SECURITY: invariant 6: control-plane state decides on every request, whatever the token says.
    controlPlane.checkAccess(claims.data);
    // SECURITY: role guard.
    if (!access.roles.includes(claims.data.role)) {
      throw new DomainError('AUTH_ERR_ROLE_FORBIDDEN', `this endpoint is for ${access.roles.join(' or ')}; the token's role is ${claims.data.role}`);
    }
    request.claims = claims.data;
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
