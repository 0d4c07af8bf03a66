import { DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { type SandboxProcess, startSandboxProcess } from '../support/sandbox-process';
import { WorkspacePage } from '../support/workspace-page';
import { E2E_CONFIG, JOURNEY_TIMEOUT_MS } from './e2e-config';

let sandbox: SandboxProcess;
let browser: Browser;

beforeAll(async () => {
  [sandbox, browser] = await Promise.all([
    // critical: 4s in E2E_CONFIG; the sweeper's schedule fires every second here.
    startSandboxProcess({ config: E2E_CONFIG, sweepEvery: '1s' }),
    launchChromium(),
  ]);
}, JOURNEY_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

describe('journey 3: nobody answers before the deadline', () => {
  it(
    'auto-revokes the rule by timeout and says so on the alert',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      const ruleId = await slack.makeChange({ group: 'db-postgres', protocol: 'all', source: '0.0.0.0/0' });
      const alert = slack.message(ruleId);
      await alert.getByText('CRITICAL: a risky rule on').waitFor();
      await alert.getByText(/Auto-revoke/).waitFor();

      // Nobody clicks: the sweeper's schedule finds the deadline passed.
      await alert.getByText(/Auto-revoked at the deadline by timeout/).waitFor({ timeout: 20_000 });
      expect(await alert.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
      const rules = await sandbox.ec2().send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'security-group-rule-id', Values: [ruleId] }],
        }),
      );
      expect(rules.SecurityGroupRules ?? []).toEqual([]);
      await slack.screenshot('3-auto-revoke');
    },
    JOURNEY_TIMEOUT_MS,
  );
});
