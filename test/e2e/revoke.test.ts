import { DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
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

describe('journey 1: a world-open SSH rule, revoked by the engineer', () => {
  it(
    'shows the alert, revokes it on the button, and EC2 no longer has the rule',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);

      const ruleId = await slack.makeChange({ group: 'web-public', ports: '22', source: '0.0.0.0/0' });
      const alert = slack.message(ruleId);
      await alert.getByText('HIGH: a risky rule on').waitFor();
      await alert.getByText(/22 \(SSH\) open: 0\.0\.0\.0\/0 is the whole internet/).waitFor();

      await slack.press(alert, 'Revoke', 'Revoke');

      await alert.getByText(/Revoked by @Erin Engineer/).waitFor();
      expect(await alert.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
      const rules = await sandbox.ec2().send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'security-group-rule-id', Values: [ruleId] }],
        }),
      );
      expect(rules.SecurityGroupRules ?? []).toEqual([]);
      await slack.page.locator(`#groups tr[data-rule-id="${ruleId}"]`).waitFor({ state: 'detached' });
      await slack.screenshot('1-revoke');
    },
    JOURNEY_TIMEOUT_MS,
  );
});
