import { DomainError, type ErrorCode } from '../../core/errors.js';

/** A gate refusal: a stable code and a message that tells the operator what to change. */
export function reject(code: Extract<ErrorCode, `SBX_ERR_SQL_${string}`>, message: string, details?: Record<string, unknown>): never {
  throw new DomainError(code, message, details);
}
