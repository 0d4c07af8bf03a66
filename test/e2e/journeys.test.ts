import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
} from '@aws-sdk/client-ec2';
import type { Browser } from 'playwright-core';
import { repoRoot } from '../../local/shared/moto-server';
import { launchChromium } from '../support/browser';
import { runSandboxStart, type SandboxProcess, startSandboxProcess } from '../support/sandbox-process';
import { WorkspacePage } from '../support/workspace-page';

/**
 * The config overlay the journeys run with (merged over the sandbox's own): a deadline short enough
 * to wait out for critical rules only, so that there is time to click on the others.
 */
const E2E_CONFIG = `
policy:
  timeouts: { critical: 4s, high: 10m, medium: 30m, low: null }
`;
const JOURNEY_MS = 60_000;

// One sandbox for all journeys (start-up is most of the time); they run in order and the clock skip
// comes last, since it moves the bot an hour ahead.
let sandbox: SandboxProcess;
let browser: Browser;

beforeAll(async () => {
  [sandbox, browser] = await Promise.all([
    startSandboxProcess({ config: E2E_CONFIG, sweepEvery: '1s' }),
    launchChromium(),
  ]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

/** The rule, if EC2 still has it. */
async function liveRule(ruleId: string) {
  const out = await sandbox.ec2().send(
    new DescribeSecurityGroupRulesCommand({
      Filters: [{ Name: 'security-group-rule-id', Values: [ruleId] }],
    }),
  );
  return out.SecurityGroupRules ?? [];
}

/** Ingress rules from one source, as EC2 has them now. */
async function rulesFrom(cidr: string) {
  const out = await sandbox.ec2().send(new DescribeSecurityGroupRulesCommand({}));
  return (out.SecurityGroupRules ?? []).filter((r) => !r.IsEgress && r.CidrIpv4 === cidr);
}

const revoked: { ruleId?: string } = {};
const longInputs: { ruleId?: string } = {};

/** Waits until `condition` holds (checked every 200 ms), failing after `timeoutMs`. */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not so within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True when something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The ports of a sandbox that was stopped: none may still be listening. */
async function expectNothingListening(ports: number[]): Promise<void> {
  expect(ports.length).toBeGreaterThanOrEqual(6);
  const open = [];
  for (const port of ports) if (await listening(port)) open.push(port);
  expect(open).toEqual([]);
}

/**
 * The page holds any input: no message is wider than the channel's column or overflows its own box, the
 * page is no wider than the window, and the message box, Send and the AWS panel stay on screen.
 */
async function expectLayoutHolds(slack: WorkspacePage): Promise<void> {
  const layout = await slack.page.evaluate(() => {
    const box = (selector: string) => document.querySelector(selector)!.getBoundingClientRect();
    return {
      viewport: window.innerWidth,
      pageWidth: document.documentElement.scrollWidth,
      column: box('main.channel').right,
      messages: [...document.querySelectorAll<HTMLElement>('[data-testid=message]')].map((m) => ({
        overflow: m.scrollWidth - m.clientWidth,
        right: m.getBoundingClientRect().right,
      })),
      box: box('#command').right,
      send: box('#composer button[type=submit]').right,
      aws: box('aside.aws').right,
    };
  });
  expect(layout.messages.length).toBeGreaterThan(0);
  expect(layout.pageWidth).toBeLessThanOrEqual(layout.viewport);
  expect(layout.column).toBeLessThanOrEqual(layout.viewport);
  for (const message of layout.messages) {
    expect(message.overflow).toBeLessThanOrEqual(1);
    expect(message.right).toBeLessThanOrEqual(layout.column + 1);
  }
  expect(layout.box).toBeLessThan(layout.send);
  expect(layout.send).toBeLessThanOrEqual(layout.column);
  expect(layout.aws).toBeLessThanOrEqual(layout.viewport + 1);
}

/** README's copy-paste AWS CLI line (two rules in one call), pointed at this sandbox's endpoint. */
function readmeCliLine(awsUrl: string): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.includes('authorize-security-group-ingress') && b.includes('ASIASANDBOXERIN00001'));
  if (!block) throw new Error('README has no AWS CLI example for the sandbox');
  return block.replaceAll('http://127.0.0.1:3001', awsUrl);
}

/** The AWS CLI on this machine, if any (CI images may lack it: the same call then goes through the SDK). */
function awsCli(): boolean {
  return spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;
}

describe('npm start in a browser, as a person uses it', () => {
  it(
    '1. a world-open SSH rule: the alert appears, Revoke removes it from EC2 and the message says who',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      const ruleId = await slack.makeChange({ group: 'web-public', ports: '22', source: '0.0.0.0/0' });
      const alert = slack.message(ruleId);
      await alert.getByText('HIGH: a risky rule on').waitFor();
      await alert.getByText(/22 \(SSH\) open: 0\.0\.0\.0\/0 is the whole internet/).waitFor();
      expect(await liveRule(ruleId)).toHaveLength(1);

      await slack.press(alert, 'Revoke', 'Revoke');

      await alert.getByText(/Revoked by @Erin Engineer/).waitFor();
      expect(await alert.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
      expect(await liveRule(ruleId)).toEqual([]);
      await slack.page.locator(`#groups tr[data-rule-id="${ruleId}"]`).waitFor({ state: 'detached' });
      revoked.ruleId = ruleId;
      await slack.screenshot('1-revoke');
    },
    JOURNEY_MS,
  );

  it(
    '2. the approver keeps a rule for an hour with a justification; /sg-status lists the exception',
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
      expect(await liveRule(ruleId)).toHaveLength(1);

      await slack.command('/sg-status');
      const status = slack.ephemeral(/Kept rules \(1\)/);
      await status.waitFor();
      expect(await status.textContent()).toMatch(
        /TCP 3389 \(RDP\) from 0\.0\.0\.0\/0.*kept by @Alex Approver/,
      );
      await slack.screenshot('2-keep');
    },
    JOURNEY_MS,
  );

  it(
    '3. nobody answers: the rule is auto-revoked by timeout at the (shortened) deadline',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      const ruleId = await slack.makeChange({ group: 'db-postgres', protocol: 'all', source: '0.0.0.0/0' });
      const alert = slack.message(ruleId);
      await alert.getByText('CRITICAL: a risky rule on').waitFor();
      await alert.getByText(/Auto-revoke/).waitFor();

      // Nobody clicks: the sweeper's schedule finds the deadline passed.
      await alert.getByText(/Auto-revoked at the deadline by timeout/).waitFor({ timeout: 20_000 });
      expect(await alert.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
      expect(await liveRule(ruleId)).toEqual([]);
      await slack.screenshot('3-auto-revoke');
    },
    JOURNEY_MS,
  );

  it(
    '5. a runbook that needs a second person runs once approved, with its output in the thread',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');
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
    JOURNEY_MS,
  );

  describe('routes and asking the change’s author (#21)', () => {
    it(
      '9. a change to a team’s group: the alert is in the team’s channel, its author answers in a DM, an approver decides',
      async () => {
        const slack = await WorkspacePage.open(browser, sandbox.url);
        await slack.actAs('Erin Engineer');
        // payments-api carries the tag team=payments in EC2: slack.routes sends it to #team-payments.
        const ruleId = await slack.makeChange({ group: 'payments-api', ports: '22', source: '0.0.0.0/0' });
        const channels = slack.page.getByRole('navigation', { name: 'Channels' });
        await channels.getByRole('button', { name: '# team-payments' }).click();
        await slack.page.getByRole('heading', { name: '# team-payments' }).waitFor();
        const alert = slack.message(ruleId);
        await alert.getByText('HIGH: a risky rule on').waitFor();
        await alert.getByText(/route payments/).waitFor();

        // Erin made it with her SSO session: she is asked in the app's direct messages.
        await channels.getByRole('button', { name: /^sg-warden( \d+)?$/ }).click();
        const dm = slack.message(ruleId);
        await dm.getByText(/Your change .* added a rule that sg-warden flagged/).waitFor();
        await dm.getByRole('button', { name: 'Revoke it now' }).waitFor();
        await slack.press(dm, 'I need it');
        const dialog = slack.dialog('I need it');
        await dialog.getByLabel('Why do you need it?').fill('Card-terminal vendor session, CHG-3107');
        await dialog.getByRole('button', { name: 'Send to approvers' }).click();
        await dialog.waitFor({ state: 'detached' });
        await dm.getByText(/You told the approvers why you need it/).waitFor();
        expect(await dm.getByRole('button', { name: 'I need it' }).count()).toBe(0);

        // Her answer shows on the team channel's alert, and in its thread for the approvers.
        await channels.getByRole('button', { name: '# team-payments' }).click();
        await alert
          .getByText(/made this change and says they need it/)
          .first()
          .waitFor();
        await alert.getByText('Card-terminal vendor session, CHG-3107').first().waitFor();
        await alert
          .locator('.thread')
          .getByText(/@security-approvers/)
          .waitFor();

        // She cannot keep it herself; Alex, an approver, does.
        await slack.actAs('Alex Approver');
        // The rule's own Keep… (the alert's first actions block), not a button further down its thread.
        await alert.locator('[data-action-id=violation_keep]').first().click();
        const keep = slack.dialog('Keep rule');
        await keep.getByLabel('Why must it stay open?').fill('Vendor session confirmed with Erin, CHG-3107');
        await keep.getByLabel('Keep it for').selectOption({ label: '1 hour' });
        await keep.getByRole('button', { name: 'Keep' }).click();
        await keep.waitFor({ state: 'detached' });
        await alert.getByText(/Kept by @Alex Approver/).waitFor();
        expect(await liveRule(ruleId)).toHaveLength(1);
        await slack.screenshot('9-routed-alert');

        // Nothing about it in #security-alerts.
        await channels.getByRole('button', { name: '# security-alerts' }).click();
        await slack.page.getByRole('heading', { name: '# security-alerts' }).waitFor();
        expect(await slack.page.locator('[data-testid=message]', { hasText: ruleId }).count()).toBe(0);
      },
      JOURNEY_MS,
    );
  });

  describe('the Home tab', () => {
    it(
      'H. the approver opens the Home tab, sees the alert they may decide, revokes it there, and the tab is rebuilt',
      async () => {
        const slack = await WorkspacePage.open(browser, sandbox.url);
        await slack.actAs('Erin Engineer');
        const ruleId = await slack.makeChange({ group: 'bastion-ssh', ports: '5900', source: '0.0.0.0/0' });
        await slack
          .message(ruleId)
          .getByText(/Auto-revoke/)
          .waitFor();

        await slack.actAs('Alex Approver');
        await slack.page.getByRole('button', { name: 'sg-warden · Home' }).click();
        const home = slack.page.getByRole('region', { name: 'Home tab' });
        await home.getByText('Alerts you may decide').waitFor();
        const rule = home.locator('.b-section', { hasText: ruleId });
        await rule.waitFor();
        const violationId = (await rule.getAttribute('data-block-id'))!.replace(/^rule:/, '');
        const buttons = home.locator(`[data-block-id="actions:${violationId}"]`);
        await slack.press(buttons, 'Revoke', 'Revoke');

        // The Home is published again without the rule's buttons, and says what Alex did.
        await buttons.waitFor({ state: 'detached' });
        await home
          .getByText(/revoke violation/)
          .first()
          .waitFor();
        expect(await liveRule(ruleId)).toEqual([]);
        await slack.screenshot('H-home-tab');
        await slack.page.getByRole('button', { name: /security-alerts/ }).click();
        await slack
          .message(ruleId)
          .getByText(/Revoked by @Alex Approver/)
          .waitFor();
      },
      JOURNEY_MS,
    );
  });

  it(
    '6. the AWS CLI at the sandbox endpoint: two rules in one call make one alert, and Revoke all removes both',
    async () => {
      let ruleIds: string[];
      if (awsCli()) {
        // Exactly README's line, in a shell, with nothing of this machine's AWS set-up.
        const out = execFileSync('bash', ['-c', readmeCliLine(sandbox.awsUrl)], {
          env: {
            PATH: process.env.PATH,
            HOME: sandbox.stateDir,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
            AWS_PAGER: '',
          },
          encoding: 'utf8',
          timeout: 60_000,
        });
        ruleIds = (
          JSON.parse(out) as { SecurityGroupRules: { SecurityGroupRuleId: string }[] }
        ).SecurityGroupRules.map((r) => r.SecurityGroupRuleId);
      } else {
        const ec2 = sandbox.ec2('erin');
        const groups = await ec2.send(
          new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['web-public'] }] }),
        );
        const out = await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groups.SecurityGroups![0]!.GroupId!,
            IpPermissions: [22, 3389].map((port) => ({
              IpProtocol: 'tcp',
              FromPort: port,
              ToPort: port,
              IpRanges: [{ CidrIp: '0.0.0.0/0' }],
            })),
          }),
        );
        ruleIds = out.SecurityGroupRules!.map((r) => r.SecurityGroupRuleId!);
      }
      expect(ruleIds).toHaveLength(2);

      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');
      const alert = slack.message(ruleIds[0]!);
      await alert.getByText('HIGH: 2 risky rules on').waitFor();
      await alert.getByText(ruleIds[1]!).waitFor();
      // The caller is the persona of the access key: Erin's SSO session.
      await alert
        .getByText(/assumed-role\/AWSReservedSSO_PowerUser_5f3c\/erin\.engineer@example\.com/)
        .waitFor();

      await slack.press(alert, 'Revoke all 2', 'Revoke');
      await waitUntil(async () => (await alert.getByText(/Revoked by @Erin Engineer/).count()) === 2);
      for (const ruleId of ruleIds) expect(await liveRule(ruleId)).toEqual([]);
      await slack.screenshot('6-aws-cli-revoke-all');
    },
    JOURNEY_MS,
  );

  it(
    '7. 10,000-character inputs keep the layout; the alert keeps its deadline and buttons',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');
      const ruleId = await slack.makeChange({
        group: 'db-postgres',
        ports: '9200',
        source: '0.0.0.0/0',
        description: 'x'.repeat(10_000),
      });
      longInputs.ruleId = ruleId;
      const alert = slack.message(ruleId);
      await alert.getByText(/Auto-revoke/).waitFor();
      await alert.getByText(/more characters\)/).waitFor();
      expect(await alert.getByRole('button', { name: 'Revoke' }).count()).toBe(1);

      const before = await slack.page.locator('[data-testid=message].ephemeral').count();
      await slack.command(`/sg-status ${'y'.repeat(10_000)}`);
      await waitUntil(
        async () => (await slack.page.locator('[data-testid=message].ephemeral').count()) > before,
      );

      await slack.actAs('Alex Approver');
      await slack.press(alert, 'Keep…');
      const dialog = slack.dialog('Keep rule');
      await dialog.getByLabel('Why must it stay open?').fill('z'.repeat(10_000));
      // A day: the restart journey finds it still kept after later journeys move the bot's clock ahead.
      await dialog.getByLabel('Keep it for').selectOption({ label: '1 day' });
      await dialog.getByRole('button', { name: 'Keep' }).click();
      await dialog.waitFor({ state: 'detached' });
      await alert.getByText(/Kept by @Alex Approver/).waitFor();

      await expectLayoutHolds(slack);
      await slack.screenshot('7-long-inputs');
    },
    JOURNEY_MS,
  );

  // The burst keeps the channel's poster busy for a while: after the journeys that wait for one alert,
  // and before the clock skip (its rules' deadlines count on the bot's clock).
  describe('digests', () => {
    it('a burst of 50 changes comes as digests; one line decided alone updates in place', async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');
      const panel = slack.page.getByRole('complementary', { name: 'Emulated AWS account' });
      await panel.getByRole('button', { name: 'Make 50 changes at once' }).click();
      await panel.getByText(/Opened 50 rules on sg-/).waitFor({ timeout: 60_000 });

      // More alerts waited than Slack lets out in a few seconds: they come as digests, lines worst first.
      const first = slack.page
        .locator('[data-testid=message]', { hasText: /risky rules in a burst/ })
        .first();
      await first.waitFor({ timeout: 90_000 });
      const ts = await first.getAttribute('data-ts');
      const digest = slack.page.locator(`[data-testid=message][data-ts="${ts}"]`);
      const header = digest.getByText(
        /^[A-Z]+: \d+ pending · 0 revoked · 0 kept — \d+ risky rules in a burst/,
      );
      await header.waitFor();
      const pending = Number(/(\d+) pending/.exec((await header.textContent()) ?? '')![1]);
      expect(pending).toBeGreaterThan(1);
      expect(await digest.getByRole('button', { name: 'Keep…', exact: true }).count()).toBe(pending);
      await digest.getByRole('button', { name: `Revoke all ${pending}` }).waitFor();

      // One line decided alone: its line says so and loses its buttons; the header counts it.
      await slack.press(digest, 'Revoke', 'Revoke');
      await digest.getByText(/Revoked by @Erin Engineer/).waitFor({ timeout: 60_000 });
      await digest.getByText(`${pending - 1} pending · 1 revoked · 0 kept`).waitFor();
      expect(await digest.getByRole('button', { name: 'Keep…', exact: true }).count()).toBe(pending - 1);
      await digest.getByRole('button', { name: `Revoke all ${pending - 1}` }).waitFor();
      await slack.screenshot('9-digest');
    }, 180_000);
  });

  // The clock skip: from here on the bot's clock (which the sweeper reads) is ahead of the worker's.
  it(
    '4. /sg-whitelist grants a /32 for an hour, /sg-status lists it, and it leaves EC2 when it expires',
    async () => {
      const address = '81.2.69.160';
      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');

      await slack.command(`/sg-whitelist bastion ${address} for 1h`);
      await slack.ephemeral(/Granted g-/).waitFor();
      const granted = await rulesFrom(`${address}/32`);
      expect(granted).toHaveLength(1);
      expect(granted[0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 });

      await slack.command('/sg-status');
      await slack
        .ephemeral(/Temporary access \(1\)/)
        .getByText(`${address}/32`)
        .waitFor();

      // An hour passes for the bot (its clock, which the sweeper reads), not for the test.
      await slack.page.getByRole('button', { name: '+1 h' }).click();
      // The skip answers once the sweep at the new time is done: after the burst journey that sweep revokes
      // and updates its digests at Slack's pace, which takes a while.
      await slack.page.getByText(/clock runs 1 h 0 min ahead/).waitFor({ timeout: 90_000 });
      for (let i = 0; i < 50 && (await rulesFrom(`${address}/32`)).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await rulesFrom(`${address}/32`)).toEqual([]);

      await slack.command('/sg-status');
      await slack.ephemeral(/Temporary access: none/).waitFor();
      await slack.screenshot('4-whitelist');
    },
    JOURNEY_MS,
  );

  it(
    '8. /sg-whitelist … me: open the link, Confirm, the grant is in /sg-status; a second Confirm gets a page; Not me revokes it',
    async () => {
      const slack = await WorkspacePage.open(browser, sandbox.url);
      await slack.actAs('Erin Engineer');
      await slack.command('/sg-whitelist bastion me');
      const answer = slack.ephemeral(/Open this link/);
      const href = await answer.getByRole('link', { name: 'Open this link' }).getAttribute('href');
      expect(href).toMatch(/\/ip\/[A-Za-z0-9_-]{43}$/);

      // The link opened twice (two tabs), as a person who clicked it twice would have it.
      const [first, second] = [await browser.newPage(), await browser.newPage()];
      for (const tab of [first, second]) {
        tab.setDefaultTimeout(15_000);
        await tab.goto(href!);
        await tab.getByRole('heading', { name: 'Confirm your address' }).waitFor();
      }
      const address = (await first.locator('.ip').textContent())!.trim();
      await first.getByText('The link works once, for 5 minutes').waitFor();

      // Chromium sends `Origin: null` with this form (the page's referrer policy): it must still work.
      await first.getByRole('button', { name: `Confirm: allow ${address}` }).click();
      await first.getByRole('heading', { name: 'Access granted' }).waitFor();
      expect(await rulesFrom(`${address}/32`)).toHaveLength(1);

      await second.getByRole('button', { name: `Confirm: allow ${address}` }).click();
      await second.getByRole('heading', { name: 'This link has already been used' }).waitFor();
      expect(await second.locator('body').textContent()).toContain('Each link works once.');
      expect(await second.locator('body').textContent()).not.toContain('"ok"');
      expect(await rulesFrom(`${address}/32`)).toHaveLength(1);

      await slack.command('/sg-status');
      await slack
        .ephemeral(/Temporary access \(1\)/)
        .getByText(`${address}/32`)
        .waitFor();

      // The owner is told which address was granted, and can say it was not them.
      const notice = slack.ephemeral(new RegExp(`link was confirmed from ${address.replace(/\./g, '\\.')}`));
      await slack.press(notice, 'Not me — revoke');
      await slack.ephemeral(/Revoked g-/).waitFor();
      await slack.message(/was not theirs/).waitFor();
      expect(await rulesFrom(`${address}/32`)).toEqual([]);
      await first.close();
      await second.close();
      await slack.screenshot('8-me-link');
    },
    JOURNEY_MS,
  );

  // The backstop journey stops the sweeper and moves the clock again: last of the journeys in one sandbox.
  describe('the backstop (#22)', () => {
    it(
      'with the sweeper stopped from the page, the backstop still closes an expired grant’s rule',
      async () => {
        const address = '81.2.69.161';
        const slack = await WorkspacePage.open(browser, sandbox.url);
        await slack.actAs('Erin Engineer');
        // As a bad deploy would: sg-warden's clock stops; AWS's schedule does not. (Stopped first: the
        // bot's clock is already an hour ahead after journey 4.)
        await slack.page.getByRole('button', { name: 'Stop the sweeper' }).click();
        await slack.page.getByText('the sweeper is stopped: only the backstop closes due rules').waitFor();
        await slack.command(`/sg-whitelist bastion ${address} for 30m`);
        // This grant's answer (journey 4 left one of its own in the channel).
        await slack
          .ephemeral(`${address}/32`)
          .getByText(/Granted g-/)
          .waitFor();
        expect(await rulesFrom(`${address}/32`)).toHaveLength(1);
        await slack.page.getByRole('button', { name: '+1 h' }).click();
        await waitUntil(async () => (await rulesFrom(`${address}/32`)).length === 0);

        // Its own CloudTrail event reaches detection, which records the grant's end as the backstop's.
        await waitUntil(async () =>
          sandbox.logs.some((l) => l.msg === 'backstop revoked a grant the sweeper had not ended'),
        );
        await slack.command('/sg-status');
        await slack.ephemeral(/Temporary access: none/).waitFor();
        await slack.page.getByRole('button', { name: 'Start the sweeper again' }).click();
        await slack.page.getByText('the sweeper runs by itself').waitFor();
        await slack.screenshot('backstop');
      },
      JOURNEY_MS,
    );
  });

  it('a second npm start resumes the same account and workspace from the state folder', async () => {
    // A closed terminal (SIGHUP to the whole process group) stops it as Ctrl-C does: every port freed.
    const ports = sandbox.ports;
    await sandbox.stop({ keepState: true, signal: 'SIGHUP' });
    await expectNothingListening(ports);
    sandbox = await startSandboxProcess({ resume: sandbox.stateDir, sweepEvery: '1s' });
    expect(sandbox.logs.find((l) => l.msg === 'aws state restored from the mutation log')).toMatchObject({
      differed: 0,
      // The saved state, not the history: nothing to replay after a clean stop.
      fromSnapshot: true,
      replayed: 0,
    });

    const slack = await WorkspacePage.open(browser, sandbox.url);
    // The long inputs were saved with the workspace; they still wrap.
    await slack
      .message(longInputs.ruleId!)
      .getByText(/Kept by @Alex Approver/)
      .waitFor();
    await expectLayoutHolds(slack);
    const alert = slack.message(revoked.ruleId!);
    await alert.getByText(/Revoked by @Erin Engineer/).waitFor();
    expect(await liveRule(revoked.ruleId!)).toEqual([]);
    // The bot still knows the alert: the buttons of a new change work against the restored table.
    const ruleId = await slack.makeChange({ group: 'bastion-ssh', ports: '3306', source: '0.0.0.0/0' });
    await slack.press(slack.message(ruleId), 'Revoke', 'Revoke');
    await slack
      .message(ruleId)
      .getByText(/Revoked by @Erin Engineer/)
      .waitFor();
    await slack.screenshot('6-resumed');
  }, 90_000);
  it('a second npm start on the same state folder refuses, and the first keeps running', async () => {
    const lock = join(sandbox.stateDir, 'sandbox.lock');
    const holder = readFileSync(lock, 'utf8');
    const second = await runSandboxStart(['--port', '0', '--state-dir', sandbox.stateDir, '--json']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/will not start: another sandbox \(PID \d+\) is running on /);
    expect(readFileSync(lock, 'utf8')).toBe(holder);
    const slack = await WorkspacePage.open(browser, sandbox.url);
    await slack.command('/sg-status');
    await slack.ephemeral(/Temporary access/).waitFor();
    for (const port of sandbox.ports) expect(await listening(port)).toBe(true);
  }, 60_000);

  it('SIGTERM to npm start stops the sandbox and moto: no process and no port left', async () => {
    const ports = sandbox.ports;
    const stateDir = sandbox.stateDir;
    await sandbox.stop({ keepState: true, signal: 'SIGTERM' });
    await expectNothingListening(ports);
    // Stopped cleanly: the lock released, the account saved whole (nothing left to replay).
    expect(existsSync(join(stateDir, 'sandbox.lock'))).toBe(false);
    expect(existsSync(join(stateDir, 'aws-state.pickle'))).toBe(true);
    expect(readFileSync(join(stateDir, 'aws-mutations.jsonl'), 'utf8')).toBe('');
  }, 60_000);
});
