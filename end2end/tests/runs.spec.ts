import { test, expect, Page } from '@playwright/test';

const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

async function signUp(page: Page) {
  const res = await page.request.post('/api/v1/auth/register', {
    data: { email: `runner-${unique()}@example.com`, name: 'Rita Runner', password: 'correct-horse-battery' },
  });
  expect(res.status()).toBe(201);
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** A prompt with one saved version that runs on the built-in mock. */
async function createPrompt(page: Page): Promise<{ id: string; name: string }> {
  const name = `runnable-${unique()}`;
  const res = await page.request.post('/api/v1/prompts', {
    data: {
      name,
      content: {
        messages: [
          { role: 'system', content: 'You are concise.' },
          { role: 'user', content: 'Tell me about {{ topic }}.' },
        ],
        params: { provider: 'mock', model: 'mock-1' },
        variables: [{ name: 'topic', kind: 'string', required: true }],
      },
    },
  });
  expect(res.status()).toBe(201);
  return { id: (await res.json()).id, name };
}

test.describe('hydrated', () => {
  test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'the run panel needs JavaScript');

  test('run a version on the mock, watch it stream, see cost and latency, find it in /runs', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signUp(page);
    const prompt = await createPrompt(page);

    await page.goto(`/prompts/${prompt.id}`);
    await hydrated(page);
    await expect(page.getByTestId('mock-notice')).toBeVisible();
    // Model output is untrusted: markup in it must arrive as text.
    await page.getByTestId('value-topic').fill('<b>otters</b>');
    await page.keyboard.press('Control+Enter');

    // Watch the tokens arrive: the output grows while the run is running.
    const output = page.getByTestId('run-output');
    const status = page.getByTestId('run-panel').getByTestId('run-status');
    const lengths = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const s = await status.getAttribute('data-status').catch(() => null);
      const text = (await output.textContent().catch(() => '')) ?? '';
      if (s === 'running' && text.length > 0) lengths.add(text.length);
      if (s === 'succeeded') break;
      await page.waitForTimeout(25);
    }
    expect(lengths.size, 'several partial outputs seen while running').toBeGreaterThan(2);
    await expect(status).toHaveAttribute('data-status', 'succeeded');
    await expect(output).toContainText('(mock) Tell me about <b>otters</b>.');
    await expect(output.locator('b')).toHaveCount(0);
    await expect(page.getByTestId('run-panel').getByTestId('mock-badge')).toBeVisible();
    await expect(page.getByTestId('run-cost')).toHaveText('$0');
    await expect(page.getByTestId('run-latency')).toHaveText(/\d+(\.\d)? m?s/);
    await expect(page.getByTestId('run-output-tokens')).toHaveText(/^\d+$/);

    // The prompt page lists it.
    await expect(page.getByTestId('recent-runs').getByTestId('run-row')).toHaveCount(1);

    // Run again from the cache: recorded at once, marked cached, free.
    await page.getByTestId('run').click();
    await expect(page.getByTestId('run-panel').getByTestId('cached-badge')).toBeVisible();
    await expect(page.getByTestId('recent-runs').getByTestId('run-row')).toHaveCount(2);

    // Rerun (skips the cache) and cancel it mid-stream: the partial output stays.
    await page.getByTestId('rerun').click();
    await expect(status).toHaveAttribute('data-status', 'running');
    await expect(output).not.toBeEmpty();
    await page.getByTestId('run-cancel').click();
    await expect(status).toHaveAttribute('data-status', 'canceled');
    await expect(output).toContainText('(mock)');

    // /runs has all three; filters and search narrow them.
    await page.getByTestId('nav-runs').click();
    await hydrated(page);
    const rows = page.getByTestId('runs-table').getByTestId('run-row');
    await expect(rows).toHaveCount(3);
    await expect(rows.first()).toContainText(prompt.name);
    await page.getByTestId('filter-status').selectOption('canceled');
    await page.getByTestId('filter-apply').click();
    await expect(rows).toHaveCount(1);
    await page.goto('/runs?q=otters&status=succeeded');
    await expect(rows).toHaveCount(2);

    // The detail page.
    await rows.first().getByRole('link').first().click();
    await expect(page.getByTestId('run-title')).toContainText(prompt.name);
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'succeeded');
    await expect(page.getByTestId('run-output')).toContainText('<b>otters</b>');
    expect(errors).toEqual([]);
  });
});

test.describe('no-js', () => {
  test.skip(({ javaScriptEnabled }) => javaScriptEnabled, 'checks the server-rendered pages');

  test('run history and detail render without JavaScript', async ({ page }) => {
    await signUp(page);
    const prompt = await createPrompt(page);
    const res = await page.request.post('/api/v1/runs', {
      data: { prompt_id: prompt.id, variables: { topic: 'herons' } },
    });
    expect(res.status()).toBe(201);
    const run = (await res.json()).run;
    await expect
      .poll(async () => (await (await page.request.get(`/api/v1/runs/${run.id}`)).json()).status)
      .toBe('succeeded');

    await page.goto('/runs?status=succeeded');
    const rows = page.getByTestId('runs-table').getByTestId('run-row');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText(prompt.name);
    await expect(rows.first().getByTestId('mock-badge')).toBeVisible();

    await page.goto(`/runs/${run.id}`);
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'succeeded');
    await expect(page.getByTestId('run-output')).toContainText('(mock) Tell me about herons.');
    await expect(page.getByTestId('run-cost')).toHaveText('$0');
  });
});
