import type { AccountScope } from '../shared/ports';
import type { Config } from './config';

/** How the bot's own account is named in targets that give no account (whitelist targets without one). */
const SELF = 'self';

/**
 * Which accounts sg-warden watches and may act in: its own (SG_WARDEN_ACCOUNT_ID, passed as
 * `ownAccount`) and the member accounts of `accounts.watched`; acting in a member account takes the
 * role `accounts.roleName`. Never the bot's own credentials for another account.
 */
export function accountScope(config: Pick<Config, 'accounts'>, ownAccount: string | null): AccountScope {
  const own = ownAccount && /^\d{12}$/.test(ownAccount) ? ownAccount : null;
  const isOwn = (account: string) => account === SELF || (own !== null && account === own);
  return {
    ownAccount: own,
    isOwn,
    isWatched: (account) => isOwn(account) || config.accounts.watched.includes(account),
    cannotAct: (account) => {
      if (isOwn(account)) return null;
      if (config.accounts.roleName) return null;
      return own === null
        ? 'accounts.roleName is not set, and the bot’s own account is not known (SG_WARDEN_ACCOUNT_ID)'
        : 'accounts.roleName is not set';
    },
  };
}
