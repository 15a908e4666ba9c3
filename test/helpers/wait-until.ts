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
