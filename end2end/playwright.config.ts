import { defineConfig } from '@playwright/test';

// The server under test: a debug build of promptlab-server (scripts/test.sh passes the one
// its Rust tests built) serving the site cargo-leptos built, on its own port and a
// throwaway SQLite database (scripts/test.sh sets these). Chromium is Debian's; nothing
// downloads.
const port = Number(process.env.E2E_PORT ?? 3117);
const baseURL = `http://127.0.0.1:${port}`;
const root = process.env.PROMPTLAB_ROOT ?? '..';
const server = process.env.PROMPTLAB_SERVER_BIN ?? `${root}/target/debug/promptlab-server`;

export default defineConfig({
  testDir: './tests',
  // Generous waits: they bound how long a test may wait for the page to reach a state, not
  // how fast it must (speed is measured in bench/). Machines of this project's kind differ
  // up to about 3x in build speed, and on a slow one the debug bundle took over 10 s to
  // hydrate while a compile shared the two cores; the longest test takes ~20 s there.
  timeout: 90_000,
  expect: { timeout: 25_000 },
  fullyParallel: true,
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'hydrated', use: { javaScriptEnabled: true } },
    { name: 'no-js', use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: server,
    cwd: root,
    url: `${baseURL}/health/ready`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: process.env.PROMPTLAB_E2E_DB ?? 'sqlite://target/e2e.db?mode=rwc',
      JWT_SECRET: 'end-to-end-test-secret-0123456789abcdef',
      AUTH_RATE_BURST: '200',
      RUST_LOG: 'warn',
    },
  },
});
