import { createHash, randomBytes } from 'node:crypto';
import { keys, tryTransition } from '../kernel/state';
import { SgWardenError } from '../shared/errors';
import {
  checkRequest,
  type GrantDeps,
  type GrantOutcome,
  newGrantId,
  type Requester,
  refusalAudited,
  requestGrant,
} from './grants';
import type { IpLinkItem } from './items';

/** A `me` link works for five minutes. */
export const LINK_LIFETIME_SECONDS = 300;
/** The table forgets a link (DynamoDB TTL) this long after it expires; the audit trail keeps its story. */
const LINK_RETENTION_SECONDS = 86_400;

/** The one-time token in a link: 32 random bytes, base64url (43 characters). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Only the SHA-256 of a token is stored, so a table read never yields a working link. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface LinkRequest {
  alias: string;
  port?: number | null;
  durationSeconds?: number | null;
  requester: Requester;
  channel?: string;
}

export interface IssuedLink {
  url: string;
  expiresAt: string;
  grantId: string;
}

/**
 * Issues a one-time link bound to the Slack user who asked: checks the request (target, permission, port,
 * duration) now, stores the token's hash with a five-minute expiry, and returns the URL to open.
 */
export async function issueLink(
  deps: GrantDeps,
  publicUrl: string,
  request: LinkRequest,
): Promise<IssuedLink> {
  const checked = await refusalAudited(deps, `target:${request.alias}`, request.requester, () =>
    checkRequest(deps, request),
  );
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock();
  const expiresAt = new Date(now.getTime() + LINK_LIFETIME_SECONDS * 1000).toISOString();
  const grantId = newGrantId();
  const link: IpLinkItem = {
    ...keys.ipLink(tokenHash(token)),
    type: 'iplink',
    status: 'OPEN',
    version: 1,
    grantId,
    userId: request.requester.userId,
    userName: request.requester.userName,
    alias: checked.alias,
    port: checked.port,
    durationSeconds: checked.durationSeconds,
    ...(request.channel ? { channel: request.channel } : {}),
    createdAt: now.toISOString(),
    expiresAt,
    expiresAtEpoch: Math.floor(now.getTime() / 1000) + LINK_LIFETIME_SECONDS + LINK_RETENTION_SECONDS,
  };
  await deps.store.createAll(
    [link as unknown as Record<string, unknown>],
    [
      {
        subjectId: grantId,
        subjectType: 'grant',
        action: 'link-issued',
        fromState: null,
        toState: null,
        actorType: 'slack-user',
        actorId: link.userId,
        actorName: link.userName,
        result: 'ok',
        details: { alias: link.alias, port: link.port, durationSeconds: link.durationSeconds, expiresAt },
        at: link.createdAt,
      },
    ],
  );
  return { url: `${publicUrl.replace(/\/+$/, '')}/ip/${token}`, expiresAt, grantId };
}

export type LinkState =
  | { state: 'open'; link: IpLinkItem }
  | { state: 'used'; link: IpLinkItem }
  | { state: 'expired'; link: IpLinkItem }
  | { state: 'unknown' };

/** What a token refers to now. Reads only: opening the link changes nothing. */
export async function inspectLink(
  deps: Pick<GrantDeps, 'store'>,
  token: string,
  now: Date,
): Promise<LinkState> {
  if (!TOKEN_PATTERN.test(token)) return { state: 'unknown' };
  const link = await deps.store.get<IpLinkItem>(keys.ipLink(tokenHash(token)));
  if (!link) return { state: 'unknown' };
  if (link.status === 'USED') return { state: 'used', link };
  if (link.expiresAt <= now.toISOString()) return { state: 'expired', link };
  return { state: 'open', link };
}

export type ConsumeResult =
  | { state: 'granted'; link: IpLinkItem; outcome: GrantOutcome }
  /** The link was used up, but the grant was refused (one sentence in `error`). */
  | { state: 'refused'; link: IpLinkItem; error: SgWardenError }
  | { state: 'used' }
  | { state: 'expired' }
  | { state: 'unknown' };

/**
 * Uses a link once: a conditional write moves it OPEN → USED (so two presses of Confirm cannot both
 * win), recording the source address; then the grant is requested for the user the link is bound to
 * (their permission is checked again). A refusal is returned with the used-up link.
 */
export async function consumeLink(
  deps: GrantDeps,
  token: string,
  sourceIp: string,
  now: Date,
): Promise<ConsumeResult> {
  const found = await inspectLink(deps, token, now);
  if (found.state === 'unknown') return { state: 'unknown' };
  if (found.state === 'used') return { state: 'used' };
  if (found.state === 'expired') return { state: 'expired' };
  const { link } = found;
  const used = await tryTransition(deps.store, {
    key: keys.ipLink(tokenHash(token)),
    from: ['OPEN'],
    expectVersion: link.version,
    to: 'USED',
    set: { usedAt: now.toISOString(), sourceIp },
    due: null,
    audit: {
      subjectId: link.grantId,
      subjectType: 'grant',
      action: 'link-used',
      fromState: null,
      toState: null,
      actorType: 'slack-user',
      actorId: link.userId,
      actorName: link.userName,
      result: 'ok',
      details: { sourceIp },
      at: now.toISOString(),
    },
  });
  if (!used) return { state: 'used' };
  const requester: Requester = { userId: link.userId, userName: link.userName };
  try {
    const outcome = await requestGrant(deps, {
      alias: link.alias,
      address: sourceIp,
      port: link.port,
      durationSeconds: link.durationSeconds,
      requester,
      via: 'link',
      grantId: link.grantId,
      ...(link.channel ? { channel: link.channel } : {}),
    });
    return { state: 'granted', link, outcome };
  } catch (error) {
    if (error instanceof SgWardenError) return { state: 'refused', link, error };
    throw error;
  }
}
