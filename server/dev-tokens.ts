import { createSigner } from 'fast-jwt';
import type { Claims } from '../tenants/index.js';

/** Signs a development token (HS256). Only used when the server runs in development mode. */
export function signDevToken(secret: string, claims: Claims, ttl: string): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttl });
  return sign({ sub: claims.sub, role: claims.role, org: claims.org });
}
