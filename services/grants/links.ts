import { createHash, randomBytes } from 'node:crypto';
import { auditEntry } from '../kernel/audit';
import { type Refusal, RefusedError, recordRefusal } from '../kernel/refusal';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import { SgWardenError } from '../shared/errors';
import type { Person } from '../shared/people';
import { type GrantDeps, type GrantNotifier, tell } from './deps';
import type { LinkItem } from './items';
import { type GrantOutcome, newGrantId, ownerOf, personActor } from './plan';
import { checkRequest, requestGrant } from './request';
import { LINK_MOVES } from './states';
import { mayConfirmFrom } from './who-may';

/** A `me` link works for five minutes: long enough to open it on the right machine, too short to linger. */
export const LINK_LIFETIME_SECONDS = 300;
/** The table forgets a link (DynamoDB TTL) this long after it expires; the audit trail keeps its story. */
const LINK_RETENTION_SECONDS = 86_400;

/** "5 minutes": how long a link works, as the page and the messages say it. */
export const LINK_LIFETIME_WORDS = `${LINK_LIFETIME_SECONDS / 60} minutes`;

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
  person: Person;
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
  const checked = await checkRequest(deps, `target:${request.alias}`, request);
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock();
  const expiresAt = plusSeconds(now, LINK_LIFETIME_SECONDS);
  const grantId = newGrantId();
  const link: LinkItem = {
    ...keys.ipLink(tokenHash(token)),
    type: 'iplink',
    status: 'OPEN',
    version: 1,
    grantId,
    userId: request.person.id,
    userName: request.person.name,
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
      auditEntry({ id: grantId, type: 'grant' }, personActor(request.person), {
        action: 'link-issued',
        fromState: null,
        toState: null,
        result: 'ok',
        details: { alias: link.alias, port: link.port, durationSeconds: link.durationSeconds, expiresAt },
        at: link.createdAt,
      }),
    ],
  );
  return { url: `${publicUrl.replace(/\/+$/, '')}/ip/${token}`, expiresAt, grantId };
}

export type LinkState =
  | { state: 'open'; link: LinkItem }
  | { state: 'used'; link: LinkItem }
  | { state: 'expired'; link: LinkItem }
  | { state: 'unknown' };

/** What a token refers to now. Reads only: opening the link changes nothing. */
export async function inspectLink(
  deps: Pick<GrantDeps, 'store'>,
  token: string,
  now: Date,
): Promise<LinkState> {
  if (!TOKEN_PATTERN.test(token)) return { state: 'unknown' };
  const link = await deps.store.get<LinkItem>(keys.ipLink(tokenHash(token)));
  if (!link) return { state: 'unknown' };
  if (link.status === 'USED') return { state: 'used', link };
  if (link.expiresAt <= now.toISOString()) return { state: 'expired', link };
  return { state: 'open', link };
}

export type ConsumeResult =
  | { state: 'granted'; link: LinkItem; outcome: GrantOutcome }
  /** The link was used up, but the grant was refused (its sentence and code). */
  | { state: 'refused'; link: LinkItem; refusal: Refusal }
  /** The confirmation came from another address than the page showed: refused; the link still works. */
  | { state: 'elsewhere'; link: LinkItem; refusal: Refusal }
  | { state: 'used' }
  | { state: 'expired' }
  | { state: 'unknown' };

/** What a confirmation carries: the address the page showed, and the address it came from. */
export interface Confirmation {
  /** The address the confirmation page showed (carried back by its form), or null when missing. */
  shownAddress: string | null;
  /** The address the POST came from, as API Gateway saw it (canonical form). */
  sourceAddress: string;
}

/**
 * Uses a link once: the POST must come from the address the page showed (else it is refused, audited,
 * and the link stays usable); then a conditional write moves it OPEN → USED (so two presses of Confirm
 * cannot both win), recording the address; then the grant is requested for the user the link is bound
 * to (their permission is checked again). The owner is told in Slack either way.
 */
export async function consumeLink(
  deps: GrantDeps,
  notifier: GrantNotifier,
  token: string,
  confirmation: Confirmation,
  now: Date,
): Promise<ConsumeResult> {
  const found = await inspectLink(deps, token, now);
  if (found.state === 'unknown') return { state: 'unknown' };
  if (found.state === 'used') return { state: 'used' };
  if (found.state === 'expired') return { state: 'expired' };
  const { link } = found;
  const owner = ownerOf(link);
  const { sourceAddress } = confirmation;
  const ruling = mayConfirmFrom(confirmation.shownAddress, sourceAddress);
  if (!ruling.ok) {
    await recordRefusal(deps, {
      subject: { id: link.grantId, type: 'grant' },
      action: 'link-confirm',
      by: personActor(owner),
      refusal: ruling.refusal,
      details: { sourceIp: sourceAddress, shown: (confirmation.shownAddress ?? '').slice(0, 45) },
    });
    return { state: 'elsewhere', link, refusal: ruling.refusal };
  }
  // The link's audit subject is the grant it creates: its story is read with the grant's.
  const used = await tryTransition(
    deps.store,
    step(
      { ...link, type: 'grant' as const },
      {
        from: LINK_MOVES.use.from,
        to: 'USED',
        action: 'link-used',
        by: personActor(owner),
        at: now.toISOString(),
        set: { usedAt: now.toISOString(), sourceIp: sourceAddress },
        due: null,
        details: { sourceIp: sourceAddress },
      },
    ),
  );
  if (!used) return { state: 'used' };
  let result: { outcome: GrantOutcome } | { refusal: Refusal };
  try {
    result = {
      outcome: await requestGrant(deps, {
        alias: link.alias,
        address: sourceAddress,
        port: link.port,
        durationSeconds: link.durationSeconds,
        person: owner,
        via: 'link',
        grantId: link.grantId,
        ...(link.channel ? { channel: link.channel } : {}),
      }),
    };
  } catch (error) {
    if (!(error instanceof SgWardenError)) throw error;
    result = {
      refusal: error instanceof RefusedError ? error.refusal : { code: error.code, message: error.message },
    };
  }
  await tell(deps, link.grantId, 'link-used', () => notifier.linkUsed(link, result));
  return 'outcome' in result
    ? { state: 'granted', link, outcome: result.outcome }
    : { state: 'refused', link, refusal: result.refusal };
}
