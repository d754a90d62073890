import { test, expect, Page } from '@playwright/test';

// Every test runs twice: hydrated (JavaScript on) and as plain server-rendered HTML
// (JavaScript off), proving the pages and forms work either way.

// A panic or hydration mismatch in the wasm fails the test, even if the page looks fine.
const browserErrors = new WeakMap<Page, string[]>();
test.beforeEach(async ({ page }) => {
  const errors: string[] = [];
  browserErrors.set(page, errors);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydration|unreachable/i.test(m.text())) errors.push(m.text());
  });
});
test.afterEach(async ({ page }) => {
  expect(browserErrors.get(page) ?? [], 'errors in the browser').toEqual([]);
});

const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

async function ready(page: Page, javaScriptEnabled: boolean) {
  // With JavaScript, wait until the wasm has hydrated the page before interacting.
  if (javaScriptEnabled) await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('register, stay signed in, switch to Portuguese, sign out', async ({ page, javaScriptEnabled }) => {
  const email = `ada-${unique()}@example.com`;
  const prefRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/prefs/')) prefRequests.push(r.url());
  });

  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await ready(page, javaScriptEnabled);
  await page.getByRole('link', { name: 'Create one' }).click();
  await expect(page).toHaveURL(/\/register$/);
  await ready(page, javaScriptEnabled);

  await page.getByLabel('Name').fill('Ada Lovelace');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('welcome')).toContainText('Ada Lovelace');
  await expect(page.getByRole('heading', { name: 'Your projects' })).toBeVisible();

  await page.reload();
  await expect(page.getByTestId('welcome')).toContainText('Ada Lovelace');
  await ready(page, javaScriptEnabled);

  await page.locator('a[data-locale="pt-BR"]').click();
  await expect(page.getByRole('heading', { name: 'Seus projetos' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'pt-BR');
  // The page's text is the server's (only islands run in the browser), so the switch goes
  // through the server, which renders the page again in the new language.
  expect(prefRequests.length, 'the switch goes through the server').toBeGreaterThan(0);

  // The choice sticks across a reload.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Seus projetos' })).toBeVisible();
  await ready(page, javaScriptEnabled);

  await page.getByTestId('user-menu').click();
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Entrar' })).toBeVisible();

  // Signed out for real.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('a wrong password is refused, the right one signs in', async ({ page, request, javaScriptEnabled }) => {
  const email = `grace-${unique()}@example.com`;
  const created = await request.post('/api/v1/auth/register', {
    data: { email, name: 'Grace Hopper', password: 'correct-horse-battery' },
  });
  expect(created.status()).toBe(201);

  await page.goto('/login');
  await ready(page, javaScriptEnabled);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid email or password.');
  await expect(page).toHaveURL(/\/login/);

  await ready(page, javaScriptEnabled);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('welcome')).toContainText('Grace Hopper');
});

test('registration errors are shown in place', async ({ page, request, javaScriptEnabled }) => {
  const email = `taken-${unique()}@example.com`;
  await request.post('/api/v1/auth/register', { data: { email, name: 'First', password: 'correct-horse-battery' } });

  await page.goto('/register');
  await ready(page, javaScriptEnabled);
  await page.getByLabel('Name').fill('Second');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('another-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('An account with this email already exists.');
  if (javaScriptEnabled) {
    // The form is an island: the error comes in place, and what was typed stays.
    await expect(page).toHaveURL(/\/register$/);
    await expect(page.getByLabel('Name')).toHaveValue('Second');
    await expect(page.getByLabel('Email')).toHaveValue(email);
  }
});

test('the theme follows the system until chosen, then sticks', async ({ page, javaScriptEnabled }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/login');
  await ready(page, javaScriptEnabled);
  const html = page.locator('html');
  await expect(html).not.toHaveAttribute('data-theme', /.+/);

  await page.getByTestId('theme-toggle').click();
  // Hydrated, the toggle knows the system is dark and picks light; without JavaScript the
  // server cannot know and picks dark.
  const chosen = javaScriptEnabled ? 'light' : 'dark';
  await expect(html).toHaveAttribute('data-theme', chosen);
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', chosen);
});
