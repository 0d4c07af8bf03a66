import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { repoRoot } from '../../local/shared/moto-server';

/** Where each browser test leaves a screenshot of its final page (git-ignored). */
export const SCREENSHOT_DIR = join(repoRoot, '.cache', 'e2e-screenshots');

/**
 * A person on the sandbox's local Slack page: each method does what they would do with the mouse
 * and keyboard, and waits for what they would wait to see.
 */
export class WorkspacePage {
  private constructor(readonly page: Page) {}

  static async open(browser: Browser, url: string): Promise<WorkspacePage> {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(url);
    await page.getByText('connected to the local bot').waitFor();
    return new WorkspacePage(page);
  }

  /** Switches who is clicking (the user switcher at the top right). */
  async actAs(name: 'Erin Engineer' | 'Alex Approver'): Promise<void> {
    const id = name === 'Erin Engineer' ? 'U0ENGINEER' : 'U0APPROVER';
    await this.page.getByLabel('Acting user').selectOption(id);
    await this.page.locator('#people li.current', { hasText: name }).waitFor();
  }

  /** The "make a change" panel: AuthorizeSecurityGroupIngress for real; returns the new rule's ID. */
  async makeChange(change: {
    group: string;
    protocol?: string;
    ports?: string;
    source?: string;
    description?: string;
  }): Promise<string> {
    const panel = this.page.getByRole('complementary', { name: 'Emulated AWS account' });
    const group = panel.getByLabel('Security group');
    const value = await group
      .locator('option', { hasText: change.group })
      .first()
      .getAttribute('value', { timeout: 10_000 });
    await group.selectOption(value!);
    await panel.getByLabel('Protocol').selectOption(change.protocol ?? 'tcp');
    if (change.ports !== undefined) await panel.getByLabel('Port(s)').fill(change.ports);
    await panel.getByLabel('Source').fill(change.source ?? '0.0.0.0/0');
    await panel.getByLabel('Description').fill(change.description ?? '');
    await panel.getByRole('button', { name: 'AuthorizeSecurityGroupIngress' }).click();
    const result = panel.getByRole('status');
    await result.getByText(/Authorized|refused|not/).waitFor();
    const text = (await result.textContent()) ?? '';
    const ruleId = /sgr-[0-9a-f]+/.exec(text)?.[0];
    if (!ruleId) throw new Error(`the change was not made: ${text}`);
    return ruleId;
  }

  /** The channel message that mentions `text` (an alert names its rule ID). */
  message(text: string | RegExp): Locator {
    return this.page.locator('[data-testid=message]', { hasText: text }).last();
  }

  /** Presses a message button; answers its confirm dialog when it has one. */
  async press(message: Locator, button: string | RegExp, confirm?: string): Promise<void> {
    await message.getByRole('button', { name: button }).first().click();
    if (confirm) {
      await this.page.getByRole('alertdialog').getByRole('button', { name: confirm, exact: true }).click();
    }
  }

  /** The modal that is open now. */
  dialog(title: string | RegExp): Locator {
    return this.page.getByRole('dialog', { name: title });
  }

  /** Types a slash command in the message box and sends it. */
  async command(line: string): Promise<void> {
    const box = this.page.getByLabel('Message or slash command');
    await box.fill(line);
    await box.press('Enter');
  }

  /** Messages only the current user sees (answers to commands, refusals). */
  ephemeral(text: string | RegExp): Locator {
    return this.page.locator('[data-testid=message].ephemeral', { hasText: text }).last();
  }

  /** Saves the final page for the test's record. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = join(SCREENSHOT_DIR, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }
}
