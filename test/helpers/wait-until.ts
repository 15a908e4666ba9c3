/**
 * Polls `condition` until it holds, every `intervalMs` (0: every turn of the event loop); throws
 * naming `what` once `deadlineMs` has passed. The deadline is generous on purpose: on a loaded
 * machine the awaited state comes late, not never, and a test asserts on behaviour, not speed.
 */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, options: { deadlineMs?: number; intervalMs?: number } = {}): Promise<void> {
  const { deadlineMs = 30_000, intervalMs = 0 } = options;
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > deadlineMs) throw new Error(`waited ${deadlineMs} ms for ${what}`);
    await new Promise((resolve) => (intervalMs > 0 ? setTimeout(resolve, intervalMs) : setImmediate(resolve)));
  }
}

/**
 * Sends `request` again while it is refused because the tenant's engine is still restarting after a
 * failure (503 SBX_ERR_ENGINE_UNAVAILABLE), as a client honouring Retry-After does; any other answer
 * is returned as it is. On a loaded machine a restart can outlast a short task limit.
 */
export async function afterEngineRestart<R extends { statusCode: number; json(): { code?: string } }>(request: () => Promise<R>, deadlineMs = 30_000): Promise<R> {
  const started = Date.now();
  for (;;) {
    const res = await request();
    const restarting = res.statusCode === 503 && res.json().code === 'SBX_ERR_ENGINE_UNAVAILABLE';
    if (!restarting || Date.now() - started > deadlineMs) return res;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
