import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { type SandboxProcess, startSandboxProcess } from '../support/sandbox-process';
import { WorkspacePage } from '../support/workspace-page';
import { E2E_CONFIG, JOURNEY_TIMEOUT_MS } from './e2e-config';

let sandbox: SandboxProcess;
let browser: Browser;

beforeAll(async () => {
  [sandbox, browser] = await Promise.all([startSandboxProcess({ config: E2E_CONFIG }), launchChromium()]);
}, JOURNEY_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

describe('journey 2: a risky rule kept by the approver for an hour', () => {
  it(
    'keeps the rule with a justification, shows it on the alert, and /sg-status lists the exception',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      const ruleId = await slack.makeChange({ group: 'app-private', ports: '3389', source: '0.0.0.0/0' });
      const alert = slack.message(ruleId);
      await alert.getByText('HIGH: a risky rule on').waitFor();

      await slack.actAs('Alex Approver');
      await slack.press(alert, 'Keep…');
      const dialog = slack.dialog('Keep rule');
      await dialog.getByText(/3389/).first().waitFor();
      // Submitting without a reason is refused inside the dialog, as Slack shows a view's errors.
      await dialog.getByRole('button', { name: 'Keep' }).click();
      await dialog.getByRole('alert').waitFor();
      await dialog
        .getByLabel('Why must it stay open?')
        .fill('Vendor remote session for the migration, CHG-2041');
      await dialog.getByLabel('Keep it for').selectOption({ label: '1 hour' });
      await dialog.getByRole('button', { name: 'Keep' }).click();
      await dialog.waitFor({ state: 'detached' });

      await alert.getByText(/Kept by @Alex Approver/).waitFor();
      await alert.getByText('Vendor remote session for the migration, CHG-2041').waitFor();

      await slack.command('/sg-status');
      const status = slack.ephemeral(/CHG-2041|3389/);
      await status.waitFor();
      expect(await status.textContent()).toContain('3389');
      await slack.screenshot('2-keep');
    },
    JOURNEY_TIMEOUT_MS,
  );
});
