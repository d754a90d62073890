import { test, expect, Page } from '@playwright/test';

// Pages are rendered on the server; only their islands run in the browser. The wasm is
// split (built with `cargo leptos --split`): every page downloads the main module, which
// holds the small islands, and each lazy island (the sign-in, sign-up and new-prompt forms,
// the editor, a live run, the live run list) brings its own chunks with the page that
// shows it. A page with none (home, a version, a diff) downloads the main module only.

const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Every `.wasm` file the page fetched, by file name. */
function wasmFetches(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) seen.push(path.split('/').pop() ?? path);
  });
  return seen;
}

/** The wasm files the splitter's manifest lists for a lazy island's loader. */
async function manifestChunks(page: Page, loader: string): Promise<string[]> {
  const res = await page.request.get('/pkg/__wasm_split_manifest.json');
  expect(res.status(), 'the site is built with --split').toBe(200);
  const manifest: Record<string, string[]> = await res.json();
  const key = Object.keys(manifest).find((k) => k.startsWith(`${loader}_`));
  expect(key, `${loader} in the manifest`).toBeTruthy();
  return manifest[key!].map((c) => `${c}.wasm`);
}

/** What a load fetched: exactly the main module and the chunks of `loaders`. */
async function expectFetched(page: Page, seen: string[], loaders: string[]) {
  const chunks = (await Promise.all(loaders.map((l) => manifestChunks(page, l)))).flat();
  expect([...new Set(seen)].sort()).toEqual([...new Set(['promptlab.wasm', ...chunks])].sort());
}

test.describe('hydrated', () => {
  test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'chunks are only loaded with JavaScript');

  test('each page downloads the main module and the chunks of its own lazy islands', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const seen = wasmFetches(page);

    await page.goto('/login');
    await hydrated(page);
    await expectFetched(page, seen, ['sign_in_form_loader']);

    const res = await page.request.post('/api/v1/auth/register', {
      data: { email: `split-${unique()}@example.com`, name: 'Sam Split', password: 'correct-horse-battery' },
    });
    expect(res.status()).toBe(201);
    const created = await page.request.post('/api/v1/prompts', {
      data: {
        name: `split-${unique()}`,
        content: {
          messages: [{ role: 'user', content: 'Summarise {{ topic }}.' }],
          params: { provider: 'mock', model: 'mock-1' },
          variables: [{ name: 'topic', kind: 'string', required: true }],
        },
      },
    });
    expect(created.status()).toBe(201);
    const prompt = (await created.json()).id;

    // The editor: its chunks come with it, and the live preview (which the server renders)
    // follows the values typed.
    seen.length = 0;
    await page.goto(`/prompts/${prompt}`);
    await hydrated(page);
    await expectFetched(page, seen, ['prompt_workspace_loader']);
    await page.getByTestId('value-topic').fill('the tides');
    await expect(page.getByTestId('preview')).toContainText('Summarise the tides.');

    // A link is a page load; the run list's live part brings its chunks.
    seen.length = 0;
    await page.getByTestId('nav-runs').click();
    await expect(page).toHaveURL(/\/runs$/);
    await hydrated(page);
    await expect(page.getByTestId('runs-empty')).toBeVisible();
    await expectFetched(page, seen, ['run_results_loader']);

    // A run's page while the run streams (the mock takes 1.5 s): the live run's chunks.
    const run = await page.request.post('/api/v1/runs', { data: { prompt_id: prompt, variables: { topic: 'otters' } } });
    expect(run.status()).toBe(201);
    const runId = (await run.json()).run.id;
    seen.length = 0;
    await page.goto(`/runs/${runId}`);
    await hydrated(page);
    await expectFetched(page, seen, ['live_run_loader']);
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'succeeded');

    // Once it is over, its page is plain HTML: the main module only.
    seen.length = 0;
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'succeeded');
    await expect(page.getByTestId('run-output')).toContainText('otters');
    await expectFetched(page, seen, []);

    // A page with no lazy island (the diff) fetches the main module only; the prompt list
    // brings its form's chunks.
    seen.length = 0;
    await page.goto(`/prompts/${prompt}/diff?from=1&to=1`);
    await hydrated(page);
    await expect(page.getByTestId('identical')).toBeVisible();
    await expectFetched(page, seen, []);
    seen.length = 0;
    await page.getByTestId('nav-prompts').click();
    await expect(page.getByTestId('new-prompt-name')).toBeVisible();
    await hydrated(page);
    await expectFetched(page, seen, ['new_prompt_form_loader']);
    expect(errors).toEqual([]);
  });

  test('a live part whose code cannot be loaded says so and offers a reload', async ({ page }) => {
    const res = await page.request.post('/api/v1/auth/register', {
      data: { email: `stopped-${unique()}@example.com`, name: 'Sam Stopped', password: 'correct-horse-battery' },
    });
    expect(res.status()).toBe(201);
    await page.goto('/');
    await hydrated(page);
    await expect(page.getByTestId('app-stopped')).toBeHidden();

    // The run list's chunk cannot be fetched (as when the server was redeployed between the
    // page and its chunk): the page says the app stopped.
    const chunk = /\/pkg\/split_run_results_loader_[^/]*\.wasm$/;
    await page.route(chunk, (route) => route.fulfill({ status: 404, body: 'gone' }));
    await page.getByTestId('nav-runs').click();
    await expect(page).toHaveURL(/\/runs$/);
    await expect(page.getByTestId('app-stopped')).toBeVisible();
    await expect(page.getByTestId('app-stopped')).toContainText('PromptLab was updated');

    // The link reloads the page, and with the chunk back the page works.
    await page.unroute(chunk);
    await page.getByTestId('app-stopped-reload').click();
    await hydrated(page);
    await expect(page.getByTestId('runs-empty')).toBeVisible();
    await expect(page.getByTestId('app-stopped')).toBeHidden();
  });
});

test.describe('announced', () => {
  // The HTML of a page names the chunks its lazy islands need (app/src/lib.rs,
  // announce_lazy_island), so the browser fetches them while the main module loads. The links are written after the page's
  // render has awaited, from that request's own reactive owner (server/src/layers/
  // owner_scope.rs); before that fix, a render resumed on another worker thread found
  // another request's owner, or none, and wrote no links, in about half of the loads.
  test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'one run is enough: the HTML is the same');

  test('every direct load of a lazy page preloads its chunks, under concurrent loads', async ({ page }) => {
    const res = await page.request.post('/api/v1/auth/register', {
      data: { email: `announced-${unique()}@example.com`, name: 'Sam Announced', password: 'correct-horse-battery' },
    });
    expect(res.status()).toBe(201);
    const chunks = await manifestChunks(page, 'run_results_loader');
    expect(chunks.length).toBeGreaterThan(0);

    const loads = await Promise.all(
      Array.from({ length: 24 }, async () => {
        const r = await page.request.get('/runs');
        expect(r.status()).toBe(200);
        return r.text();
      }),
    );
    // The files each page's head asks the browser to preload (attributes in any order).
    const preloaded = (html: string) =>
      (html.match(/<link\b[^>]*>/g) ?? [])
        .filter((tag) => /\brel="preload"/.test(tag))
        .map((tag) => tag.match(/\bhref="\/pkg\/([^"]+)"/)?.[1]);
    const missing = loads.map((html) => chunks.filter((c) => !preloaded(html).includes(c)));
    expect(missing, 'each load announces every chunk of /runs').toEqual(loads.map(() => []));
  });
});
