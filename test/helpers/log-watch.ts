/**
 * A log stream for startTestApp that a test can wait on: `next` resolves with the first line,
 * written after the call, that holds every given part (a tenant id and "build failed", say).
 */
export function logWatch(): { stream: { write(line: string): void }; next(...parts: string[]): Promise<string> } {
  const listeners = new Set<(line: string) => void>();
  return {
    stream: { write: (line) => { for (const listener of listeners) listener(line); } },
    next: (...parts) => new Promise<string>((resolve) => {
      const listener = (line: string): void => {
        if (!parts.every((part) => line.includes(part))) return;
        listeners.delete(listener);
        resolve(line);
      };
      listeners.add(listener);
    }),
  };
}
