import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Behaviour tests start real servers, SMTP sinks and Chromium: keep the 2-core machine calm.
    maxWorkers: 2,
  },
});
