// ./scripts/bench.sh dashboard, the browser's side (tests/bench/dashboard_bench.cc starts the
// fleet): loads the dashboard AV_RUNS times in a fresh headless Chromium, signed in already,
// and prints one JSON line per run with figures from Chromium's performance API:
//   fcp_ms            first contentful paint
//   first_render_ms   the first machines drawn (the app's mark av:first-render)
//   interactive_ms    every machine and task loaded and drawn (av:interactive)
//   longest_task_ms   the longest main-thread task until then (PerformanceObserver longtask)
//   tasks_view_ms     a click on Tasks until the list of every task is drawn
//   filter_ms         typing a filter into that list until it is drawn again
import { env, open } from './lib.mjs';

const runs = Number(process.env.AV_RUNS || 5);
for (let i = 0; i < runs; i++) {
  const { browser, page, problems } = await open({ width: 1280, height: 900 });
  await page.addInitScript((token) => {
    sessionStorage.setItem('autovibe.token', token);
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: true });
  }, env.token);
  await page.goto(env.url + '/');
  // Polled with evaluate: waitForFunction evaluates a string, which the page's CSP refuses.
  const deadline = Date.now() + 60000;
  while (!(await page.evaluate(() => performance.getEntriesByName('av:interactive').length))) {
    if (Date.now() > deadline) throw new Error('the dashboard never became interactive');
    await new Promise((r) => setTimeout(r, 50));
  }
  const figures = await page.evaluate(() => {
    const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
    return {
      fcp_ms: at('first-contentful-paint'),
      first_render_ms: at('av:first-render'),
      interactive_ms: at('av:interactive'),
      longest_task_ms: window.__longest,
      machines: document.querySelector('#machines-title .count')?.textContent,
    };
  });
  const t0 = Date.now();
  await page.getByRole('link', { name: 'Tasks' }).click();
  await page.locator('#tasks-title .count').filter({ hasText: /\d{4,}/ }).waitFor();
  await page.locator('.vbody .vrow').first().waitFor();
  figures.tasks_view_ms = Date.now() - t0;
  figures.tasks = await page.locator('#tasks-title .count').textContent();
  const t1 = Date.now();
  await page.getByLabel('Search').fill('t-');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r))));
  figures.filter_ms = Date.now() - t1;
  figures.problems = problems.length;
  console.log(JSON.stringify({ run: i + 1, ...figures }));
  await browser.close();
}
