import type { GrantDeps } from './deps';
import type { GrantItem } from './items';
import { LIVE_GRANT_STATUSES } from './states';

/** The grants whose rule may exist, newest first (status index; no scan). */
export async function liveGrants(deps: Pick<GrantDeps, 'store'>, limit = 500): Promise<GrantItem[]> {
  const lists = await Promise.all(
    LIVE_GRANT_STATUSES.map((s) => deps.store.queryByStatus<GrantItem>('grant', s, limit)),
  );
  return lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** One person's grants whose rule may exist. */
export async function grantsOf(deps: Pick<GrantDeps, 'store'>, userId: string): Promise<GrantItem[]> {
  return (await liveGrants(deps)).filter((g) => g.userId === userId);
}
