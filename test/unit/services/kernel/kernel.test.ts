import { SYSTEM_ACTOR } from '../../../../services/kernel/audit';
import { RefusedError, recordRefusal, refusalOf } from '../../../../services/kernel/refusal';
import { keys } from '../../../../services/kernel/state';
import { step, subjectOf } from '../../../../services/kernel/step';
import { sweep } from '../../../../services/kernel/sweep';
import { backoffSeconds, plusSeconds } from '../../../../services/kernel/time';
import { BadInputError } from '../../../../services/shared/errors';
import { createLogger } from '../../../../services/shared/logger';
import { MemoryStateStore } from '../../../support/memory-store';

const AT = '2026-11-23T10:00:00.000Z';
const grant = {
  ...keys.grant('g-1'),
  type: 'grant' as const,
  status: 'ACTIVE',
  version: 3,
  grantId: 'g-1',
};

describe('state kernel', () => {
  describe('time', () => {
    it('adds and subtracts seconds from a Date or an ISO time', () => {
      expect(plusSeconds(new Date(AT), 90)).toBe('2026-11-23T10:01:30.000Z');
      expect(plusSeconds(AT, -60)).toBe('2026-11-23T09:59:00.000Z');
    });

    it('doubles the wait from the base after each failure and never passes the cap', () => {
      expect([1, 2, 3, 4, 5, 6].map((n) => backoffSeconds(n, 30, 900))).toEqual([30, 60, 120, 240, 480, 900]);
      expect(backoffSeconds(0, 30, 900)).toBe(30);
    });
  });

  describe('step', () => {
    it('derives the key, the from-state, the version and the audit entry from the item it moves', () => {
      const t = step(grant, {
        to: 'REVOKING',
        action: 'revoke',
        by: SYSTEM_ACTOR,
        at: AT,
        due: { kind: 'GRANT_EXPIRY', at: AT },
        set: { endAs: 'REVOKED' },
        details: { why: 'test' },
      });
      expect(t).toEqual({
        key: { pk: 'GRANT#g-1', sk: 'GRANT' },
        from: ['ACTIVE'],
        to: 'REVOKING',
        expectVersion: 3,
        // The item as read: the store answers the item after the move from it (no read back).
        basis: grant,
        set: { endAs: 'REVOKED' },
        due: { kind: 'GRANT_EXPIRY', at: AT },
        audit: {
          subjectId: 'g-1',
          subjectType: 'grant',
          action: 'revoke',
          fromState: 'ACTIVE',
          toState: 'REVOKING',
          actorType: 'system',
          actorId: 'sg-warden',
          actorName: 'sg-warden',
          result: 'ok',
          at: AT,
          details: { why: 'test' },
        },
      });
    });

    it('moves from any of several states without a version check only when asked, and can skip the audit', () => {
      const t = step(grant, {
        to: 'EXPIRED',
        action: 'expire',
        by: SYSTEM_ACTOR,
        at: AT,
        due: null,
        from: ['ACTIVE', 'REVOKE_FAILED'],
        anyVersion: true,
        unaudited: true,
      });
      expect(t.from).toEqual(['ACTIVE', 'REVOKE_FAILED']);
      expect(t.expectVersion).toBeUndefined();
      expect(t.audit).toBeNull();
    });

    it('names each kind of item by its own ID in the audit trail', () => {
      expect(
        subjectOf({ ...keys.run('r-1'), type: 'run', status: 'RUNNING', version: 1, runId: 'r-1' }),
      ).toEqual({ id: 'r-1', type: 'run' });
    });
  });

  describe('sweep', () => {
    const logger = createLogger('silent');
    /** `n` items due DEADLINE by AT, each with its own key. */
    async function dueItems(store: MemoryStateStore, n: number): Promise<void> {
      const items = Array.from({ length: n }, (_, i) => ({
        ...keys.violation(`v-${i}`),
        type: 'violation',
        status: 'PENDING',
        version: 1,
        dueKind: 'DEADLINE',
        dueAt: plusSeconds(AT, -n + i),
      }));
      await store.createAll(items, []);
    }
    /** A handler that takes each item off the due index, except the ones named (they stay due: failed). */
    const handlerFor =
      (store: MemoryStateStore, seen: string[], stuck: Set<string> = new Set()) =>
      async (item: { pk: string; sk: string; status: string }) => {
        seen.push(item.pk);
        if (stuck.has(item.pk)) throw new Error('EC2 said no');
        await store.transition({
          key: { pk: item.pk, sk: item.sk },
          from: ['PENDING'],
          to: 'AUTO_REVOKED',
          due: null,
          audit: null,
        });
      };

    it('reads one page per kind by default, and page after page for a drained kind, each item once', async () => {
      const store = new MemoryStateStore();
      await dueItems(store, 25);
      const once: string[] = [];
      const one = await sweep({ store, logger }, { DEADLINE: handlerFor(store, once) }, new Date(AT), {
        limit: 10,
      });
      expect(one.DEADLINE).toMatchObject({ due: 10, ok: 10, failed: 0 });

      const drained: string[] = [];
      const all = await sweep({ store, logger }, { DEADLINE: handlerFor(store, drained) }, new Date(AT), {
        limit: 10,
        drain: { kinds: ['DEADLINE'], budgetMs: 60_000 },
      });
      expect(all.DEADLINE).toMatchObject({ due: 15, ok: 15, failed: 0 });
      expect(new Set([...once, ...drained]).size).toBe(25);
      expect(once.length + drained.length).toBe(25);
      expect(await store.queryDue('DEADLINE', AT, 100)).toEqual([]);
    });

    it('hands each page to the handler’s page reads before its items, and handles them when those reads fail', async () => {
      const store = new MemoryStateStore();
      await dueItems(store, 15);
      const order: string[] = [];
      const seen: string[] = [];
      const handle = Object.assign(
        async (item: { pk: string; sk: string; status: string }) => {
          order.push('item');
          await handlerFor(store, seen)(item);
        },
        {
          page: async (items: { pk: string }[]) => {
            order.push(`page of ${items.length}`);
            if (items.length < 10) throw new Error('BatchGetItem throttled');
          },
        },
      );
      const summary = await sweep({ store, logger }, { DEADLINE: handle }, new Date(AT), {
        limit: 10,
        drain: { kinds: ['DEADLINE'], budgetMs: 60_000 },
      });
      expect(summary.DEADLINE).toMatchObject({ due: 15, ok: 15, failed: 0 });
      expect(order).toEqual(['page of 10', ...Array(10).fill('item'), 'page of 5', ...Array(5).fill('item')]);
      expect(new Set(seen).size).toBe(15);
    });

    it('stops draining at a page of nothing new (items that stay due are not tried twice) and at its budget', async () => {
      const drain = { kinds: ['DEADLINE'] as const, budgetMs: 60_000 };
      const store = new MemoryStateStore();
      await dueItems(store, 30);
      const stuck = new Set(Array.from({ length: 5 }, (_, i) => `VIOLATION#v-${i}`));
      const seen: string[] = [];
      const summary = await sweep(
        { store, logger },
        { DEADLINE: handlerFor(store, seen, stuck) },
        new Date(AT),
        { limit: 10, drain },
      );
      // The five that failed lead every page, but the twenty-five behind them are reached, each once.
      expect(summary.DEADLINE).toMatchObject({ due: 30, ok: 25, failed: 5 });
      expect(new Set(seen).size).toBe(30);
      expect(seen).toHaveLength(30);

      // A whole page that stays due ends the draining (as a sweep without it would stop after one page).
      const full = new MemoryStateStore();
      await dueItems(full, 30);
      const fullStuck = new Set(Array.from({ length: 10 }, (_, i) => `VIOLATION#v-${i}`));
      const tried: string[] = [];
      const stopped = await sweep(
        { store: full, logger },
        { DEADLINE: handlerFor(full, tried, fullStuck) },
        new Date(AT),
        { limit: 10, drain },
      );
      expect(stopped.DEADLINE).toMatchObject({ due: 10, ok: 0, failed: 10 });
      expect(tried).toHaveLength(10);

      const later = new MemoryStateStore();
      await dueItems(later, 30);
      let ms = 0;
      const budgeted = await sweep(
        { store: later, logger },
        {
          DEADLINE: async (item) => {
            ms += 1000;
            await handlerFor(later, [])(item);
          },
        },
        new Date(AT),
        { limit: 10, drain: { kinds: ['DEADLINE'], budgetMs: 15_000, nowMs: () => ms } },
      );
      // The first page took 10 s (within the 15 s budget), the second 10 s more: no third page.
      expect(budgeted.DEADLINE).toMatchObject({ due: 20, ok: 20, failed: 0 });
      expect(await later.queryDue('DEADLINE', AT, 100)).toHaveLength(10);
    });
  });

  describe('refusals', () => {
    it('puts a refusal on the audit trail with its code and returns it', async () => {
      const store = new MemoryStateStore();
      const refusal = { code: 'NOT_AUTHORISED', message: 'You may not.' };
      const deps = { store, clock: () => new Date(AT), logger: createLogger('silent') };
      const by = { type: 'slack-user' as const, id: 'U1', name: 'erin' };
      await expect(
        recordRefusal(deps, { subject: { id: 'g-1', type: 'grant' }, action: 'extend', by, refusal }),
      ).resolves.toEqual(refusal);
      expect(await store.auditFor('g-1')).toEqual([
        expect.objectContaining({
          action: 'extend',
          result: 'refused',
          error: 'You may not.',
          details: { code: 'NOT_AUTHORISED' },
          actorId: 'U1',
        }),
      ]);
    });

    it('carries a refusal as an error, and reads one back from any error sg-warden raises on purpose', () => {
      const error = new RefusedError({ code: 'BAD_DURATION', message: 'Too long.' });
      expect(error.refusal).toEqual({ code: 'BAD_DURATION', message: 'Too long.' });
      expect(refusalOf(new BadInputError('Nope.'))).toEqual({ code: 'BAD_INPUT', message: 'Nope.' });
      expect(refusalOf(new Error('boom'))).toBeNull();
    });
  });
});
