// What the dashboard's browser tests share: Debian's Chromium driven by playwright-core (from
// controller/dashboard/web/node_modules, installed by scripts/install-deps.sh; Playwright's own
// browser download cannot work here), signing in, screenshots, and calls to the API.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = await import(
  join(root, 'controller/dashboard/web/node_modules/playwright-core/index.mjs'));

export const env = {
  url: process.env.AV_URL,
  token: process.env.AV_TOKEN,
  shots: process.env.AV_SHOTS || '/tmp',
  chromium: process.env.AV_CHROMIUM || '/usr/bin/chromium',
};

// Launches Chromium headless; `width` 1280 (desktop) or 390 (a phone).
export async function open({ width = 1280, height = 900 } = {}) {
  const browser = await chromium.launch({
    executablePath: env.chromium,
    headless: true,
    // As root the sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width, height } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.setDefaultTimeout(30000);
  return { browser, page, problems };
}

export async function signIn(page, token = env.token) {
  await page.goto(env.url + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function shot(page, name) {
  mkdirSync(env.shots, { recursive: true });
  const path = join(env.shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(JSON.stringify({ screenshot: path }));
}

// `method path` on the API with the test's token: the JSON answer.
export async function api(method, path, body) {
  const r = await fetch(env.url + path, {
    method,
    headers: { Authorization: `Bearer ${env.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Runs `scenario({page, ...})` with a fresh browser; exits 0 when it passed, 1 with the reason
// (and a screenshot of the failure) when it did not.
export async function run(name, scenario, options) {
  const { browser, page, problems } = await open(options);
  let status = 0;
  try {
    await scenario({ page });
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(JSON.stringify({ scenario: name, passed: true }));
  } catch (e) {
    status = 1;
    console.log(JSON.stringify({ scenario: name, passed: false, error: String(e.stack || e),
                                 problems }));
    await shot(page, `${name}-failed`).catch(() => {});
  } finally {
    await browser.close();
  }
  process.exit(status);
}
