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

/** The bastion group's ingress rules for one source, as EC2 has them now. */
async function bastionRulesFrom(cidr: string) {
  const out = await sandbox.ec2().send(new DescribeSecurityGroupRulesCommand({}));
  return (out.SecurityGroupRules ?? []).filter((r) => !r.IsEgress && r.CidrIpv4 === cidr);
}

const ADDRESS = '81.2.69.160';

describe('journey 4: temporary SSH access to the bastion', () => {
  it(
    'grants a /32 for an hour, lists it in /sg-status, and removes it from EC2 when it expires',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);

      await slack.command(`/sg-whitelist bastion ${ADDRESS} for 1h`);
      await slack.ephemeral(new RegExp(`${ADDRESS.replace(/\./g, '\\.')}.*`)).waitFor();
      const granted = await bastionRulesFrom(`${ADDRESS}/32`);
      expect(granted).toHaveLength(1);
      expect(granted[0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 });

      await slack.command('/sg-status');
      await slack
        .ephemeral(/sg-warden status/)
        .getByText(new RegExp(ADDRESS.replace(/\./g, '\\.')))
        .waitFor();

      // An hour passes for the bot (its clock, which the sweeper reads), not for the test.
      await slack.page.getByRole('button', { name: '+1 h' }).click();
      await slack.page.getByText(/clock runs 1 h 0 min ahead/).waitFor();
      for (let i = 0; i < 50 && (await bastionRulesFrom(`${ADDRESS}/32`)).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await bastionRulesFrom(`${ADDRESS}/32`)).toEqual([]);

      await slack.command('/sg-status');
      await slack.ephemeral(/Temporary access: none/).waitFor();
      await slack.screenshot('4-whitelist');
    },
    JOURNEY_TIMEOUT_MS,
  );
});
