// The dashboard's browser tests, one scenario per run, against a real fleet started by
// tests/integration/dashboard_browser_test.cc (which passes AV_URL, AV_TOKEN, AV_SHOTS and
// what each scenario needs in AV_* variables, and checks the fleet's side of each outcome):
//   node tests/browser/dashboard.mjs SCENARIO
// Prints JSON lines; exits 0 when the scenario passed. Each scenario saves a screenshot.
import { api, env, run, shot, signIn } from './lib.mjs';

const scenarios = {
  // A wrong token is refused with a clear message; the right one shows the fleet's two machines.
  async sign_in({ page }) {
    await signIn(page, 'not-a-token');
    await page.getByRole('alert').filter({ hasText: 'This token was refused' }).waitFor();
    await shot(page, 'sign_in-refused');
    await signIn(page);
    for (const name of ['agent-1', 'agent-2']) {
      await page.getByRole('row').filter({ hasText: name }).filter({ hasText: 'ready' }).waitFor();
    }
    // The token stays with the tab: a reload needs no new sign-in.
    await page.reload();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await shot(page, 'sign_in-fleet');
  },

  // A task submitted from the Tasks view; its log streams in line by line.
  async task_log({ page }) {
    await signIn(page);
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByLabel('Project').first().selectOption(process.env.AV_PROJECT);
    await page.getByLabel('Command (sh -c)').fill(
      'for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.5; done');
    await page.getByRole('button', { name: 'Submit' }).click();
    const log = page.getByLabel('Task log');
    await log.filter({ hasText: 'line-1' }).waitFor();
    // Seen before the task ended: the log is live, not loaded at the end.
    const early = await log.textContent();
    if (early.includes('line-6')) throw new Error('the whole log arrived at once: ' + early);
    await log.filter({ hasText: 'line-6' }).waitFor();
    await page.locator('h1 .badge', { hasText: 'succeeded' }).waitFor();
    console.log(JSON.stringify({ task: page.url().split('/').pop() }));
    await shot(page, 'task_log');
  },

  // The emergency stop of a project, confirmed in its dialog: every task of it is stopped
  // (paused: tools killed, workspaces kept) and none runs.
  async emergency_stop({ page }) {
    const project = process.env.AV_PROJECT;
    await signIn(page);
    await page.getByRole('link', { name: 'Budgets' }).click();
    const card = page.locator('section.project', { has: page.getByRole('heading', { name: project }) });
    await card.getByRole('button', { name: 'Emergency stop' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`Every running task of ${project} is stopped now`).waitFor();
    await shot(page, 'emergency_stop-confirm');
    await dialog.getByRole('button', { name: 'Emergency stop' }).click();
    await card.getByText('stopped', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByLabel('Project').last().selectOption(project);
    await page.getByLabel('State').selectOption('running');
    await page.getByText('Nothing to show.').waitFor();
    await page.getByLabel('State').selectOption('paused');
    await page.getByRole('row').filter({ hasText: 'paused' }).first().waitFor();
    await shot(page, 'emergency_stop');
  },

  // A workspace's checkpoint tree; restoring one of its nodes.
  async checkpoint_restore({ page }) {
    const child = process.env.AV_CHECKPOINT;
    const parent = process.env.AV_PARENT;
    await signIn(page);
    await page.getByRole('link', { name: 'Checkpoints' }).click();
    const node = page.locator(`#cp-${child}`);
    await node.waitFor();
    // Parent to child: the child sits inside its parent's tree item.
    await page.locator(`#cp-${parent} #cp-${child}`).waitFor();
    await node.locator('.node').first().getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('status').filter({ hasText: `Restored ${child}` }).waitFor();
    await shot(page, 'checkpoint_restore');
  },

  // An event arrives live in the Events view (and a task's row appears without a reload).
  async live_event({ page }) {
    await signIn(page);
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByText('Stream: live').waitFor();
    const t = await api('POST', '/v1/tasks', { project: process.env.AV_PROJECT, tool: 'shell',
                                               command: ['true'] });
    await page.getByRole('row').filter({ hasText: t.id }).first().waitFor();
    await shot(page, 'live_event');
  },

  // A viewer sees no action buttons; a token scoped to a project is told plainly that it may
  // not see the fleet, and sees only its project. At 390 px wide.
  async roles({ page }) {
    await signIn(page, process.env.AV_VIEWER_TOKEN);
    await page.getByRole('row').filter({ hasText: 'agent-1' }).waitFor();
    await page.getByRole('link', { name: 'Budgets' }).click();
    await page.getByRole('heading', { name: process.env.AV_PROJECT }).waitFor();
    const buttons = await page.getByRole('button', { name: /Emergency stop|Drain|Terminate|Submit/ }).count();
    if (buttons !== 0) throw new Error(`a viewer sees ${buttons} action buttons`);
    await shot(page, 'roles-viewer');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, process.env.AV_SCOPED_TOKEN);
    await page.getByText('This token may not see the fleet').waitFor();
    await page.getByRole('link', { name: 'Budgets' }).click();
    await page.getByRole('heading', { name: process.env.AV_SCOPED_PROJECT }).waitFor();
    if (await page.getByRole('heading', { name: process.env.AV_PROJECT, exact: true }).count()) {
      throw new Error('a scoped token sees another project');
    }
    await shot(page, 'roles-scoped');
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: dashboard.mjs ${Object.keys(scenarios).join('|')}`);
  process.exit(2);
}
await run(name, scenarios[name], { width: name === 'roles' ? 390 : 1280 });
