import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, isDomainError, type ErrorCode } from '../core/errors.js';

/**
 * The one table from error code to HTTP status. Typed over every `ErrorCode`: a code without a
 * status fails the type check.
 */
export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  REQ_ERR_VALIDATION: 400,
  REQ_ERR_BAD_JSON: 400,
  REQ_ERR_BODY_TOO_LARGE: 413,
  REQ_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  REQ_ERR_NOT_FOUND: 404,
  AUTH_ERR_MISSING_TOKEN: 401,
  AUTH_ERR_INVALID_TOKEN: 401,
  AUTH_ERR_TOKEN_EXPIRED: 401,
  AUTH_ERR_TOKEN_NOT_ACTIVE: 401,
  AUTH_ERR_TOKEN_LIFETIME: 401,
  AUTH_ERR_BAD_CLAIMS: 401,
  AUTH_ERR_ROLE_FORBIDDEN: 403,
  AUTH_ERR_SUPERVISOR_ORG: 403,
  AUTH_ERR_ORG_MISMATCH: 403,
  AUTH_ERR_ORG_UNKNOWN: 403,
  AUTH_ERR_TENANT_SUSPENDED: 403,
  AUTH_ERR_TENANT_REVOKED: 403,
  AUTH_ERR_LICENSE_NOT_STARTED: 403,
  AUTH_ERR_LICENSE_EXPIRED: 403,
  TNT_ERR_NOT_FOUND: 404,
  TNT_ERR_ALREADY_EXISTS: 409,
  TNT_ERR_LICENSE_RANGE: 400,
  TNT_ERR_LICENSE_TOO_LONG: 400,
  TNT_ERR_LICENSE_ENDED: 400,
  TNT_ERR_INVALID_TRANSITION: 409,
  APP_ERR_NOT_FOUND: 404,
  APP_ERR_ALREADY_EXISTS: 409,
  SBX_ERR_SQL_EMPTY: 400,
  SBX_ERR_SQL_HIDDEN_TEXT: 400,
  SBX_ERR_SQL_TOO_LONG: 400,
  SBX_ERR_SQL_SYNTAX: 400,
  SBX_ERR_SQL_MULTIPLE_STATEMENTS: 400,
  SBX_ERR_SQL_NOT_SELECT: 400,
  SBX_ERR_SQL_FORBIDDEN_FUNCTION: 400,
  SBX_ERR_SQL_FORBIDDEN_CONSTRUCT: 400,
  SBX_ERR_SQL_FORBIDDEN_TABLE: 400,
  SBX_ERR_SQL_TOO_COMPLEX: 400,
  SBX_ERR_SQL_UNKNOWN_NAME: 400,
  SBX_ERR_QUERY_FAILED: 422,
  SBX_ERR_QUERY_TIMEOUT: 408,
  SBX_ERR_QUERY_CANCELLED: 499,
  SBX_ERR_TENANT_BUSY: 429,
  SBX_ERR_QUEUE_FULL: 503,
  SBX_ERR_REJECTIONS_RATE_LIMITED: 429,
  SBX_ERR_ENGINE_RESTARTED: 503,
  SBX_ERR_ENGINE_UNAVAILABLE: 503,
  SBX_ERR_ENGINE_MEMORY: 422,
  SBX_ERR_REBUILDING: 503,
  DSC_ERR_IDENTIFIERS: 422,
  DSC_ERR_NOT_K_ANONYMOUS: 422,
  DSC_ERR_REPEATED_ROWS: 422,
  DSC_ERR_RUNTIME_ERROR: 422,
  DSC_ERR_UNCHECKABLE: 422,
  TBL_ERR_EXISTS: 409,
  TBL_ERR_NAME_TAKEN: 409,
  TBL_ERR_NOT_FOUND: 404,
  TBL_ERR_WORKSPACE_FULL: 507,
  UPL_ERR_NO_FILE: 400,
  UPL_ERR_TOO_LARGE: 413,
  UPL_ERR_EMPTY: 400,
  UPL_ERR_ENCODING: 400,
  UPL_ERR_BAD_HEADER: 400,
  UPL_ERR_TOO_MANY_COLUMNS: 400,
  UPL_ERR_MALFORMED: 400,
  UPL_ERR_TOO_MANY_ROWS: 413,
  UPL_ERR_XLSX_TOO_LARGE: 413,
  UPL_ERR_SHEET_NOT_FOUND: 400,
  UPL_ERR_UNSUPPORTED_FORMAT: 415,
  CAT_ERR_CORE_DATA: 400,
  CAT_ERR_NOT_FOUND: 404,
  CAT_ERR_BAD_POLICY: 400,
  CAT_ERR_POLICY_MISFIT: 422,
  CAT_ERR_DATASET_WITHDRAWN: 403,
  CAT_ERR_WITHDRAWAL_STATE: 409,
  CAT_ERR_ENTITY_COLUMN: 400,
  CAT_ERR_ENTITY_AMBIGUOUS: 400,
  CAT_ERR_ENTITY_CHANGED: 409,
  GRT_ERR_NOT_SHAREABLE: 409,
  GRT_ERR_BAD_COLUMNS: 400,
  GRT_ERR_BAD_UNTIL: 400,
  GRT_ERR_EXPIRED: 403,
  AUD_ERR_BAD_FILTER: 400,
  EXP_ERR_NOT_FOUND: 404,
  EXP_ERR_RECIPIENT_UNKNOWN: 400,
  EXP_ERR_SOURCE_NOT_FOUND: 404,
  EXP_ERR_SOURCE_NOT_PROD: 409,
  EXP_ERR_TOO_MANY_ROWS: 413,
  EXP_ERR_XLSX_CELL_TOO_LONG: 422,
  EXP_ERR_BAD_COLUMNS: 400,
  EXP_ERR_INVALID_STATE: 409,
  EXP_ERR_VERSION_CHANGED: 409,
  EXP_ERR_JUSTIFICATION_MISSING: 400,
  EXP_ERR_OUTCOME_FAIL: 409,
  EXP_ERR_COMMENT_REQUIRED: 400,
  EXP_ERR_ALREADY_REVIEWED: 409,
  EXP_ERR_OWN_EXPORT: 403,
  EXP_ERR_COLUMN_NAME: 400,
  EXP_ERR_NOT_APPROVED: 409,
  EXP_ERR_VERSION_SUPERSEDED: 409,
  EXP_ERR_EXPIRED: 410,
  EXP_ERR_DOWNLOAD_LIMIT: 410,
  EXP_ERR_BAD_MITIGATION: 400,
  EXP_ERR_MITIGATION_UNAVAILABLE: 422,
  EXP_ERR_PACKAGE_DAMAGED: 500,
  EXP_ERR_CHECKS_STALE: 409,
  EXP_ERR_TRACE_UNREADABLE: 400,
  SRV_ERR_OVERLOADED: 503,
  SRV_ERR_UNAVAILABLE: 503,
  SRV_ERR_INTERNAL: 500,
};

export const ErrorBodySchema = z.object({
  statusCode: z.number().int(),
  code: z.string(),
  error: z.string(),
  message: z.string(),
  requestId: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Response schemas for the error statuses a route can produce (every route declares its codes). */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof ErrorBodySchema> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBodySchema])) as Record<S, typeof ErrorBodySchema>;
}

/** Statuses every authenticated route can answer before its handler runs. */
export const AUTH_ERROR_STATUSES = [400, 401, 403, 503] as const;

/** Thrown by load shedding; a class with a no-argument constructor, as under-pressure wants. */
export class OverloadedError extends DomainError {
  constructor() {
    super('SRV_ERR_OVERLOADED', 'the service is overloaded: retry after the number of seconds in Retry-After');
  }
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 507: 'Insufficient Storage',
  408: 'Request Timeout', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 499: 'Client Closed Request',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Fastify's own request errors, by their code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'REQ_ERR_BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'REQ_ERR_BAD_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'REQ_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'REQ_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'REQ_ERR_VALIDATION',
  FST_ERR_VALIDATION: 'REQ_ERR_VALIDATION',
  FST_ERR_BAD_URL: 'REQ_ERR_VALIDATION',
  FST_ERR_MAX_PARAM_LENGTH: 'REQ_ERR_VALIDATION',
  // @fastify/multipart
  FST_REQ_FILE_TOO_LARGE: 'UPL_ERR_TOO_LARGE',
  FST_FILES_LIMIT: 'REQ_ERR_VALIDATION',
  FST_PARTS_LIMIT: 'REQ_ERR_VALIDATION',
  FST_FIELDS_LIMIT: 'REQ_ERR_VALIDATION',
  FST_PROTO_VIOLATION: 'REQ_ERR_VALIDATION',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'REQ_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/** REQ_ERR_VALIDATION naming every bad field: `field: problem; …`, with the list in details. */
export function validationError(problems: { field: string; problem: string }[]): DomainError {
  return new DomainError('REQ_ERR_VALIDATION', problems.map((p) => `${p.field}: ${p.problem}`).join('; '), { problems });
}

/** Turns any error into the public error body. Messages are exposed only below 500. */
export function toErrorBody(error: unknown, requestId: string): ErrorBody {
  let code: ErrorCode = 'SRV_ERR_INTERNAL';
  let message = 'internal error: quote the requestId when reporting it';
  let details: Record<string, unknown> | undefined;
  if (isDomainError(error)) {
    code = error.code;
    message = error.message;
    details = error.details;
  } else if (hasZodFastifySchemaValidationErrors(error)) {
    const problems = error.validation.map((issue) => {
      const where = [error.validationContext, issue.instancePath.replace(/^\//, '').replaceAll('/', '.')].filter(Boolean).join('.');
      return { field: where, problem: issue.message ?? 'invalid' };
    });
    return toErrorBody(validationError(problems), requestId);
  } else {
    const fastifyCode = FASTIFY_CODES[(error as FastifyError).code ?? ''];
    if (fastifyCode) {
      code = fastifyCode;
      message = (error as Error).message;
    }
  }
  const statusCode = HTTP_STATUS_BY_CODE[code];
  return { statusCode, code, error: REASON_PHRASES[statusCode] ?? 'Error', message, requestId, ...(details ? { details } : {}) };
}

/**
 * Errors Fastify raises while routing, before any hook runs (a malformed URL, an over-long path
 * parameter). Passed as the `frameworkErrors` server option so they get the same body as the rest.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body = toErrorBody(error, request.id);
  void reply.status(body.statusCode).header('x-request-id', request.id).send(body);
}

/** Installs the single error handler and the not-found handler on the root instance. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(error, request.id);
    if (body.statusCode >= 500 && body.code === 'SRV_ERR_INTERNAL') request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code, statusCode: body.statusCode }, 'request refused');
    // Refusals for load or rate say when to come back.
    if ((body.statusCode === 429 || body.statusCode === 503) && !reply.hasHeader('Retry-After')) {
      const seconds = typeof body.details?.retryAfterSeconds === 'number' ? body.details.retryAfterSeconds : 1;
      void reply.header('Retry-After', String(seconds));
    }
    return reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body = toErrorBody(new DomainError('REQ_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`), request.id);
    return reply.status(404).send(body);
  });
}
