import { randomUUID } from 'node:crypto';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { DEFAULT_ENGINE_OPTIONS, EngineClient, type AnswerPairsEvent, type EngineStopped } from '../sandbox/index.js';
import { DEFAULT_EXPORT_LIMITS, DEFAULT_QUERY_LIMITS, ensureControlPlaneSecrets, openControlPlane, seedDemoDomain, type ControlPlane } from '../tenants/index.js';
import { installAccessGuard, registerJwt } from './auth.js';
import type { Config } from './config.js';
import { restrictDataDir } from './data-dir.js';
import { answerFrameworkError, installErrorHandling } from './errors.js';
import { installLoadShedding } from './load-shedding.js';
import { documentMultipartForms } from './multipart.js';
import { applicantRoutes } from './routes/applicants.js';
import { auditRoutes } from './routes/audit.js';
import { datasetRoutes } from './routes/datasets.js';
import { exportRoutes } from './routes/exports.js';
import { grantRoutes } from './routes/grants.js';
import { healthRoutes } from './routes/health.js';
import { meRoutes } from './routes/me.js';
import { queryRoutes } from './routes/query.js';
import { schemaRoutes } from './routes/schema.js';
import { tableRoutes } from './routes/tables.js';
import { uploadRoutes } from './routes/uploads.js';
import { tenantRoutes } from './routes/tenants.js';
import { resolveDevJwtSecret } from './secrets.js';
import { zodSerializerCompiler } from './serializer.js';

export interface AppOptions {
  /** Overrides the system clock (tests of license expiry). */
  clock?: () => Date;
  /** Overrides the pino logger options; `false` silences it. */
  logger?: FastifyServerOptions['logger'];
  /** Where the default logger writes instead of stdout (tests read the log); unused with `logger`. */
  logStream?: { write(line: string): void };
  /** Node flags for the engine host process (profiling). */
  engineExecArgv?: string[];
  /** Build every table of a tenant's files from the domain on each publish (the bench's anchor). */
  fullRebuilds?: boolean;
  /** Receives one line per step of the demo domain's generation on a first start (`npm start` prints them). */
  onSeedProgress?: (line: string) => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    controlPlane: ControlPlane;
    engine: EngineClient;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * One log line per request, when it completes (method, url, status, time), instead of Fastify's
 * two: the log write is a system call on the hot path, and the first line says nothing the second
 * cannot.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * Builds the whole service as a Fastify instance (not listening). Opens the control plane over the
 * configured data dir and seeds the demo domain on a first start. `app.close()` closes everything.
 * Plugins load in a fixed order: error handling, load shedding, identity, docs, then routes.
 */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  // SECURITY: before any engine process starts or any file is created: the data dir is owner-only (see restrictDataDir).
  const formerDataDirMode = restrictDataDir(config.dataDir);
  // A bad secret stops the start here, with its one-line SecretFileError, before anything is started.
  ensureControlPlaneSecrets(config.dataDir);
  const devSecret = config.auth.mode === 'development' ? resolveDevJwtSecret(config) : undefined;
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      // SECURITY: tokens never reach the logs.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    logController: new OneLinePerRequest(),
    bodyLimit: config.bodyLimitBytes,
    frameworkErrors: answerFrameworkError,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);
  installErrorHandling(app);
  if (formerDataDirMode !== undefined) app.log.warn({ dataDir: config.dataDir, mode: formerDataDirMode.toString(8) }, 'the data dir was open to group or others; it is now 0700');
  // Set before anything can answer, so every response, errors included, carries the id.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  // The control plane is told of engine failures and of too-close answer pairs once it exists (it audits them).
  let onEngineStopped: ((event: EngineStopped) => void) | undefined;
  let onAnswerPairs: ((tenantId: string, event: AnswerPairsEvent) => void) | undefined;
  const engine = new EngineClient({
    ...DEFAULT_ENGINE_OPTIONS,
    dataDir: config.dataDir,
    maxProcesses: config.engine.maxProcesses,
    engine: { ...DEFAULT_ENGINE_OPTIONS.engine, memoryLimitMb: config.engine.memoryLimitMb, workspaceMaxBytes: config.engine.workspaceMaxBytes, uploadMaxRows: config.engine.uploadMaxRows },
    maxConcurrentPerTenant: config.engine.concurrencyPerTenant,
    maxTableTasksPerTenant: config.engine.tableConcurrencyPerTenant,
    maxQueued: config.engine.maxQueue,
    processMemoryLimitMb: config.engine.processMemoryLimitMb,
    trustedMemoryLimitMb: config.engine.trustedMemoryLimitMb,
    killGraceMs: config.engine.killGraceMs,
    waitForHostMs: 3_000,
    log: app.log,
    onEngineStopped: (event) => onEngineStopped?.(event),
    onAnswerPairs: (tenantId, event) => onAnswerPairs?.(tenantId, event),
    ...(options.engineExecArgv ? { hostExecArgv: options.engineExecArgv } : {}),
  });
  await engine.start();
  app.decorate('engine', engine);
  let controlPlane: ControlPlane;
  try {
    controlPlane = await openControlPlane({
      dataDir: config.dataDir,
      timeZone: config.timeZone,
      auditCheckpointEvery: config.auditCheckpointEvery,
      auditCheckpointIntervalMs: config.auditCheckpointIntervalMs,
      piiSampleRows: config.piiSampleRows,
      tableTimeoutMs: config.engine.tableTimeoutMs,
      log: app.log,
      engine,
      queryLimits: {
        ...DEFAULT_QUERY_LIMITS,
        timeoutMs: config.engine.queryTimeoutMs,
        maxBytes: config.engine.queryMaxBytes,
        maxRejectionsPerMinute: config.engine.maxRejectionsPerMinute,
      },
      exportLimits: { ...DEFAULT_EXPORT_LIMITS, ...config.exports, timeoutMs: config.engine.tableTimeoutMs },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.fullRebuilds ? { incrementalBuilds: false } : {}),
    });
  } catch (error) {
    await engine.close();
    throw error;
  }
  app.decorate('controlPlane', controlPlane);
  onEngineStopped = (event) => controlPlane.engineStopped(event);
  onAnswerPairs = (tenantId, event) => controlPlane.answerPairs(tenantId, event);
  // Hooks run in reverse order on close: the control plane (final checkpoint) first, then the engine.
  app.addHook('onClose', async () => engine.close());
  app.addHook('onClose', async () => controlPlane.close());
  try {
    if (config.demo && controlPlane.firstStart) await seedDemoDomain(controlPlane, options.onSeedProgress);

    await installLoadShedding(app, { maxInflight: config.maxInflight, maxEventLoopDelayMs: config.maxEventLoopDelayMs });
    const verifyToken = await registerJwt(app, config.auth, devSecret);
    await app.register(fastifySwagger, {
      openapi: {
        info: { title: 'indomain', version: '1', description: 'Privacy-preserving data operation sandbox: 原始数据不出域、数据可用不可见' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
      },
      // Multipart routes document their forms (server/multipart.ts) so /docs can upload a file.
      transform: documentMultipartForms(jsonSchemaTransform),
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
    await app.register(fastifyMultipart, { limits: { fileSize: config.uploadMaxBytes, files: 1, fields: 4, parts: 6, fieldSize: 16 * 1024 } });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    // The API scope: every route here declares its access; the guard runs before each handler.
    await app.register(async (api) => {
      installAccessGuard(api, controlPlane, verifyToken, { supervisorOrgs: config.auth.supervisorOrgs });
      await api.register(healthRoutes(controlPlane, engine));
      await api.register(queryRoutes(controlPlane));
      await api.register(schemaRoutes(controlPlane));
      await api.register(tableRoutes(controlPlane));
      await api.register(uploadRoutes(controlPlane, config.dataDir, config.uploadMaxBytes, config.engine.tableConcurrencyPerTenant));
      await api.register(datasetRoutes(controlPlane, config.dataDir, config.datasetMaxBytes));
      await api.register(grantRoutes(controlPlane));
      await api.register(meRoutes());
      await api.register(tenantRoutes(controlPlane));
      await api.register(applicantRoutes(controlPlane));
      await api.register(auditRoutes(controlPlane, config.timeZone));
      await api.register(exportRoutes(controlPlane));
    });
    await app.ready();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}
