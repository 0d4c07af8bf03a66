import { HomeChanges } from '../../../../services/home/refresh';
import type { AuditEntry } from '../../../../services/kernel/audit';

function entry(subjectId: string, subjectType = 'violation'): AuditEntry {
  return {
    subjectType,
    subjectId,
    action: 'revoke',
    at: '2026-12-05T00:00:00.000Z',
    actor: 'U1',
    result: 'ok',
  } as unknown as AuditEntry;
}

describe('HomeChanges', () => {
  it('keeps each collecting run its own changes: a nested run (a job the door runs in-process) is not the outer one’s', async () => {
    const changes = new HomeChanges();
    let inner: string[] = [];
    let outer: string[] = [];
    await changes.collect(async () => {
      changes.note(entry('v-door'));
      const job = changes.collect(async () => {
        changes.note(entry('v-job'));
        await new Promise((r) => setTimeout(r, 5));
        inner = changes.take().map((c) => c.entry.subjectId);
      });
      outer = changes.take().map((c) => c.entry.subjectId);
      await job;
    });
    expect(outer).toEqual(['v-door']);
    expect(inner).toEqual(['v-job']);
  });

  it('keeps nothing outside a run and nothing about subjects no Home shows', async () => {
    const changes = new HomeChanges();
    changes.note(entry('v-outside'));
    expect(changes.take()).toEqual([]);
    await changes.collect(async () => {
      changes.note(entry('r-1', 'request'));
      changes.note(entry('g-1', 'grant'));
      expect(changes.take().map((c) => c.entry.subjectId)).toEqual(['g-1']);
      expect(changes.take()).toEqual([]);
    });
  });
});
