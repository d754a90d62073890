import { test, expect, Page } from '@playwright/test';

const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

async function signUp(page: Page) {
  const email = `pat-${unique()}@example.com`;
  // Registering through the page's own request context shares its cookies.
  const res = await page.request.post('/api/v1/auth/register', {
    data: { email, name: 'Pat Prompter', password: 'correct-horse-battery' },
  });
  expect(res.status()).toBe(201);
}

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test.describe('hydrated', () => {
  test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, 'the editor needs JavaScript');

  test('write, preview, version, diff, restore, label, fetch by label', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signUp(page);
    const name = `writer-${unique()}`;

    await page.goto('/prompts');
    await hydrated(page);
    await page.getByTestId('new-prompt-name').fill(name);
    await page.getByRole('button', { name: 'Create prompt' }).click();
    await expect(page.getByTestId('prompt-title')).toHaveText(name);
    await hydrated(page);

    // Type a template: the variables panel and the preview follow as you type.
    await page.getByTestId('message-0').fill('You write for {{ audience }}.');
    await page.getByTestId('message-1').fill('Write about {{ topic }}.');
    await expect(page.getByTestId('variables').locator('tr')).toHaveCount(2);
    await page.getByTestId('value-audience').fill('engineers');
    await page.getByTestId('value-topic').fill('tides');
    await expect(page.getByTestId('preview')).toContainText('You write for engineers.');
    await expect(page.getByTestId('preview')).toContainText('Write about tides.');

    // Save v1 (with the keyboard), then v2.
    await page.getByTestId('note').fill('first draft');
    await page.keyboard.press('Control+s');
    await expect(page.getByTestId('flash')).toHaveText('Saved version v1');
    await page.getByTestId('message-1').fill('Write a short post about {{ topic }}.');
    await expect(page.getByTestId('preview')).toContainText('Write a short post about tides.');
    await page.getByTestId('note').fill('shorter');
    await page.getByTestId('save').click();
    await expect(page.getByTestId('flash')).toHaveText('Saved version v2');
    await expect(page.getByTestId('history').locator('[data-version]')).toHaveCount(2);

    // Saving again unchanged creates nothing.
    await page.getByTestId('save').click();
    await expect(page.getByTestId('flash')).toHaveText('No changes: nothing to save.');

    // The diff shows the change.
    await page.getByTestId('history').locator('[data-version="2"]').getByRole('link', { name: 'Compare with previous' }).click();
    await expect(page.getByTestId('diff')).toContainText('- Write about {{ topic }}.');
    await expect(page.getByTestId('diff')).toContainText('+ Write a short post about {{ topic }}.');

    // Restore v1: it becomes v3, equal to v1.
    await page.goto(page.url().replace(/\/diff.*$/, '/versions/1'));
    await hydrated(page);
    const v1Hash = await page.locator('code.small').textContent();
    await page.getByTestId('restore').click();
    await expect(page.getByTestId('version-title')).toContainText('v3');
    await expect(page.locator('code.small')).toHaveText(v1Hash ?? '');

    // Label v3 production; the REST API serves it by label.
    await hydrated(page);
    await page.getByTestId('set-label').click();
    await expect(page.getByTestId('version-label')).toHaveText('production');
    const deployed = await page.request.get(`/api/v1/prompts/${name}?label=production`);
    expect(deployed.status()).toBe(200);
    const body = await deployed.json();
    expect(body.version.number).toBe(3);
    expect(body.version.messages[1].content).toBe('Write about {{ topic }}.');
    expect(errors).toEqual([]);
  });
});

// The version page has no island: its forms are plain posts with or without JavaScript.
test('a version page renders and its forms work as plain posts', async ({ page }) => {
  await signUp(page);
  const name = `nojs-${unique()}`;
  const created = await page.request.post('/api/v1/prompts', {
    data: {
      name,
      tags: ['demo'],
      content: { messages: [{ role: 'user', content: 'Translate {{ text }} into French.' }] },
      note: 'first',
    },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();

  await page.goto('/prompts?tag=demo');
  await page.getByRole('link', { name }).click();
  await expect(page.getByTestId('prompt-title')).toHaveText(name);
  await page.getByTestId('history').getByRole('link', { name: 'v1' }).click();
  await expect(page.getByTestId('version-title')).toContainText('v1');
  await expect(page.getByTestId('version-message')).toHaveText('Translate {{ text }} into French.');

  // Plain form posts: label, then restore.
  await page.getByTestId('label-name').fill('staging');
  await page.getByTestId('set-label').click();
  await expect(page.getByTestId('version-label')).toHaveText('staging');
  await page.getByTestId('restore').click();
  // Identical to the latest: nothing new; the page says v1 still.
  await expect(page).toHaveURL(new RegExp(`/prompts/${id}/versions/1$`));
});

test('a prompt name already taken is refused; in the browser, in place', async ({ page, javaScriptEnabled }) => {
  await signUp(page);
  const name = `taken-${unique()}`;
  const created = await page.request.post('/api/v1/prompts', { data: { name } });
  expect(created.status()).toBe(201);
  await page.goto('/prompts');
  if (javaScriptEnabled) await hydrated(page);
  await page.getByTestId('new-prompt-name').fill(name);
  await page.getByLabel('Description').fill('a second one');
  await page.getByRole('button', { name: 'Create prompt' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  if (javaScriptEnabled) {
    // The form is an island: the page stays, and so does what was typed.
    await expect(page).toHaveURL(/\/prompts$/);
    await expect(page.getByTestId('new-prompt-name')).toHaveValue(name);
    await expect(page.getByLabel('Description')).toHaveValue('a second one');
  }
});

// The editor's preview comes from the server, which runs templates in its sandbox; the
// browser runs none. A template with statements is previewed once the editor asks (the
// page says it waits), follows the values typed, without a hydration error, and a memory
// bomb typed into the editor is refused while the tab carries on.
test('templates are previewed by the server', async ({ page, javaScriptEnabled }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Leptos reports a hydration mismatch on the console.
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await signUp(page);
  const created = await page.request.post('/api/v1/prompts', {
    data: {
      name: `statements-${unique()}`,
      content: {
        messages: [{ role: 'user', content: '{% if topic %}About {{ topic | upper }}.{% endif %}' }],
        variables: [{ name: 'topic', kind: 'string', required: true, default: 'waves' }],
      },
    },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await page.goto(`/prompts/${id}`);
  // A page view runs no template with statements on the server (it would hold a sandbox
  // worker per viewer): the page says the preview waits, and the editor asks for it.
  if (!javaScriptEnabled) {
    await expect(page.getByTestId('preview-pending')).toBeVisible();
    return;
  }
  await hydrated(page);
  await expect(page.getByTestId('preview')).toContainText('About WAVES.');
  await expect(page.getByTestId('preview-pending')).toHaveCount(0);
  await page.getByTestId('value-topic').fill('tides');
  await expect(page.getByTestId('preview')).toContainText('About TIDES.');

  // A megabyte doubled twelve times: the server refuses it, the page still answers.
  const bomb = '{% set a = topic * 1000000 %}' + '{% set a = a ~ a %}'.repeat(12) + '{{ a | length }}';
  await page.getByTestId('message-0').fill(bomb);
  await expect(page.getByTestId('preview').locator('[data-reason="template_too_much_memory"]')).toBeVisible();
  await page.getByTestId('message-0').fill('Back to {{ topic }}.');
  await expect(page.getByTestId('preview')).toContainText('Back to tides.');
  expect(errors).toEqual([]);
});

test('a preview lost on the way is asked for again', async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, 'the editor asks for previews');
  await signUp(page);
  const created = await page.request.post('/api/v1/prompts', {
    data: { name: `flaky-${unique()}`, content: { messages: [{ role: 'user', content: 'Hello {{ name }}.' }] } },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await page.goto(`/prompts/${id}`);
  await hydrated(page);
  // The first question after the edit never reaches the server, as when the connection
  // drops; the editor shows the error and asks again by itself, with no further edit.
  // The question asked again is held until the error has been seen.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const asked: string[] = [];
  await page.route('**/api/prompts/preview', async (route) => {
    asked.push(route.request().method());
    if (asked.length === 1) return route.abort('connectionrefused');
    await held;
    await route.continue();
  });
  await page.getByTestId('value-name').fill('Ada');
  await expect(page.getByTestId('preview').getByRole('alert')).toBeVisible();
  await expect(page.getByTestId('preview')).toHaveAttribute('aria-busy', 'true');
  await expect.poll(() => asked.length).toBe(2);
  release();
  await expect(page.getByTestId('preview')).toContainText('Hello Ada.');
  await expect(page.getByTestId('preview').getByRole('alert')).toHaveCount(0);
  await expect(page.getByTestId('preview')).toHaveAttribute('aria-busy', 'false');
  expect(asked.length).toBe(2);
});
