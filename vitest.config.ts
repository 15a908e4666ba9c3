import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file builds its own temp data dir; files run in parallel processes.
    pool: 'forks',
    // Bounds for a hang, not speed targets (those live in bench/): generous, because on a busy
    // machine a file that starts an app and its engine host takes several times as long.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
