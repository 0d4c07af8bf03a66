import type { SectionBlock } from '@slack/types';
import { expireException } from '../../../../services/decisions/exceptions';
import { keepViolation } from '../../../../services/decisions/keep';
import { keys } from '../../../../services/kernel/state';
import { ruleFingerprint } from '../../../../services/shared/ids';
import type { ExceptionItem } from '../../../../services/violations/items';
import { alertBlocks } from '../../../../slack/blocks/alert';
import { ALICE, seed, setup, status, T0 } from './fixtures';

describe('decisions: exceptions', () => {
  describe('exception expiry', () => {
    async function keptFor(env: ReturnType<typeof setup>, seconds: number) {
      const v = await seed(env);
      await keepViolation(env.deps, 'v-1', ALICE, 'load test', seconds);
      const ex = (await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      ))!;
      env.setNow(new Date(T0.getTime() + (seconds + 60) * 1000));
      return { v, ex };
    }

    it('re-opens a still-violating rule as a fresh PENDING decision with its own alert and deadline', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      const result = await expireException(env.deps, ex);
      expect(result.outcome).toBe('reopened');
      const again = await env.store.get<ExceptionItem>(keys.exception(ex.fingerprint));
      expect(again).toMatchObject({ status: 'EXPIRED' });
      const fresh = await status(env, result.violationId);
      expect(fresh).toMatchObject({ status: 'PENDING', alertId: result.alertId, dueKind: 'DEADLINE' });
      expect(new Date(fresh.deadline!).getTime()).toBe(T0.getTime() + (3600 + 60 + 900) * 1000);
      expect(env.notifier.posts).toHaveLength(1);
      expect(env.notifier.posts[0]!.alert.reopenedFrom).toBe('v-1');
      expect((await status(env)).status).toBe('KEPT');
      // Who kept it until when goes to the alert as data: it shows the date as every message does.
      expect(fresh.previousKeep).toEqual({ byName: ex.approvedByName, until: ex.expiresAt });
      const section = alertBlocks(env.notifier.posts[0]!).find(
        (b) => b.block_id === `rule:${result.violationId}`,
      ) as SectionBlock | undefined;
      expect(section?.text?.text).toMatch(/kept by .+ until <!date\^\d+\^/);
      expect(section?.text?.text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);

      // Running twice (overlapping sweeps) creates nothing new.
      expect((await expireException(env.deps, ex)).outcome).toBe('not-due');
      expect(env.notifier.posts).toHaveLength(1);
    });

    it('just expires when the rule is gone from EC2', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      env.ec2.rules.clear();
      expect((await expireException(env.deps, ex)).outcome).toBe('expired');
      expect(env.notifier.posts).toHaveLength(0);
    });

    it('lets the re-opened rule be kept again, replacing the expired exception', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      const result = await expireException(env.deps, ex);
      const kept = await keepViolation(env.deps, result.violationId!, ALICE, 'still testing', 86400);
      expect(kept.ok).toBe(true);
      expect(await env.store.get<ExceptionItem>(keys.exception(ex.fingerprint))).toMatchObject({
        status: 'ACTIVE',
        violationId: result.violationId,
      });
    });

    it('is not due before its expiry', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      env.setNow(T0);
      expect((await expireException(env.deps, ex)).outcome).toBe('not-due');
    });
  });
});
