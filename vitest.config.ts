import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share one Redis and spawn real servers: two cores, so keep the fan-out modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});
