import { validateConfig } from '../../../../services/config/config';
import { firstReminderAt } from '../../../../services/violations/reminders';

const config = (decisions: Record<string, unknown> = {}) =>
  validateConfig({ slack: { alertChannel: 'C0ALERTS' }, decisions }, 'test');
const T0 = '2026-11-23T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);
const raised = (timeoutSeconds: number | null) => ({
  createdAt: T0,
  deadline: timeoutSeconds === null ? null : at(timeoutSeconds).toISOString(),
});

describe('firstReminderAt', () => {
  describe('a rule with a deadline', () => {
    it('is reminded half its timeout before the deadline by default', () => {
      expect(firstReminderAt(raised(600), config(), at(0))).toBe(at(300).toISOString());
    });

    it('is reminded at least a minute before the deadline', () => {
      expect(firstReminderAt(raised(100), config(), at(0))).toBe(at(40).toISOString());
    });

    it('is reminded decisions.remindBefore before the deadline when set', () => {
      expect(firstReminderAt(raised(600), config({ remindBefore: '4m' }), at(0))).toBe(at(360).toISOString());
    });

    it('gets no reminder when it would come with the alert, or when reminders are off', () => {
      expect(firstReminderAt(raised(60), config(), at(0))).toBeNull();
      expect(firstReminderAt(raised(600), config({ remindBefore: '2m' }), at(500))).toBeNull();
      expect(firstReminderAt(raised(600), config({ remindBefore: null }), at(0))).toBeNull();
    });
  });

  describe('a notify-only rule', () => {
    it('is reminded decisions.remindUndecided after it was raised (default a day)', () => {
      expect(firstReminderAt(raised(null), config(), at(0))).toBe(at(86400).toISOString());
      expect(firstReminderAt(raised(null), config({ remindUndecided: '2h' }), at(0))).toBe(
        at(7200).toISOString(),
      );
    });

    it('is reminded at once when the reminder is already owed, and never when turned off', () => {
      expect(firstReminderAt(raised(null), config(), at(90000))).toBe(at(90000).toISOString());
      expect(firstReminderAt(raised(null), config({ remindUndecided: null }), at(0))).toBeNull();
    });
  });
});
