import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { type SandboxProcess, startSandboxProcess } from '../support/sandbox-process';
import { WorkspacePage } from '../support/workspace-page';
import { E2E_CONFIG, JOURNEY_TIMEOUT_MS } from './e2e-config';

let sandbox: SandboxProcess;
let browser: Browser;

beforeAll(async () => {
  [sandbox, browser] = await Promise.all([
    startSandboxProcess({ config: E2E_CONFIG, sweepEvery: '1s' }),
    launchChromium(),
  ]);
}, JOURNEY_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

describe('journey 5: a runbook that needs a second person', () => {
  it(
    'asks for approval, runs once the approver approves, and posts the output in the thread',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);

      await slack.command('/sg-run restart-web');
      const pending = slack.page.locator('[data-testid=message]', {
        has: slack.page.getByRole('button', { name: 'Approve' }),
      });
      await pending
        .getByText(/restart-web/)
        .first()
        .waitFor();
      const ts = await pending.getAttribute('data-ts');
      const request = slack.page.locator(`[data-testid=message][data-ts="${ts}"]`);
      await slack.ephemeral(/waits for a second person's approval/).waitFor();

      await slack.actAs('Alex Approver');
      await slack.press(request, 'Approve', 'Approve and run');

      // The sweeper polls the command; each instance's output lands in the request's thread.
      const thread = request.locator(`.thread[data-thread="${ts}"]`);
      await thread.getByText(/web-1: Success, exit code 0/).waitFor({ timeout: 30_000 });
      await thread.getByText(/web-2: Success, exit code 0/).waitFor({ timeout: 30_000 });
      await thread.locator('pre', { hasText: 'systemctl is-active nginx' }).first().waitFor();
      await request.getByText(/Succeeded on all 2 instances \(approved by @Alex Approver\)/).waitFor();
      await slack.screenshot('5-run-approval');
    },
    JOURNEY_TIMEOUT_MS,
  );
});
