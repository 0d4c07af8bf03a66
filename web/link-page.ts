import { createHash, timingSafeEqual } from 'node:crypto';
import { parseHostAddress } from '../services/grants/address';
import type { GrantDeps, GrantNotifier } from '../services/grants/deps';
import type { LinkItem } from '../services/grants/items';
import { consumeLink, inspectLink, LINK_LIFETIME_WORDS, TOKEN_PATTERN } from '../services/grants/links';
import { describeAccess, targetNamed } from '../services/grants/plan';
import type { Refusal } from '../services/kernel/refusal';
import { refusalText } from '../services/kernel/refusal';
import { formatDuration, plainTime } from '../services/shared/duration';
import { escapeHtml } from './html';

// The `me` link's confirmation page: plain HTML served by the ip-capture Lambda (and, the same code, by
// the sandbox). Not Slack: the result is told in Slack through the grant notifier.

/** What the page needs: the grant service's parts and the notifier that tells the owner in Slack. */
export interface LinkPageDeps extends GrantDeps {
  grantNotifier: GrantNotifier;
}

/** One request to the `me` link endpoint, as the handler decoded it. */
export interface LinkPageRequest {
  method: string;
  /** The token from the path (/ip/{token}). */
  token: string;
  /** The confirmation form's fields (POST only; null when the body was not a form we know). */
  form: { token: string | null; address: string | null } | null;
  /** The address API Gateway saw. */
  sourceIp: string;
}

/** An HTTP answer (API Gateway's structured result). */
export interface WebResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const STYLE =
  'body{font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1c1d;line-height:1.5}' +
  'h1{font-size:1.4rem}.ip{font-family:ui-monospace,monospace;font-size:1.6rem;background:#f4f4f4;padding:.2rem .5rem;border-radius:4px}' +
  'button{font-size:1rem;padding:.6rem 1.4rem;background:#007a5a;color:#fff;border:0;border-radius:4px;cursor:pointer}' +
  '.note{color:#616061;font-size:.9rem}dt{font-weight:600}dd{margin:0 0 .5rem 0}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** No scripts, no external anything; the form may only post back here; never framed. */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/**
 * `no-referrer` keeps the token out of any Referer; it also makes browsers send `Origin: null` with the
 * form, so the confirmation is protected by what it carries (the one-time token in the path and the
 * form, and the address the page showed), never by its Origin.
 */
const HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function page(statusCode: number, title: string, body: string): WebResult {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex,nofollow"><title>${escapeHtml(title)} · sg-warden</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return { statusCode, headers: { ...HEADERS }, body: html };
}

function message(statusCode: number, title: string, sentence: string): WebResult {
  return page(statusCode, title, `<p>${escapeHtml(sentence)}</p>`);
}

/** A page that refuses: its sentence ends with the stable code, like every refusal in Slack. */
function refusalPage(statusCode: number, title: string, refusal: Refusal): WebResult {
  return message(statusCode, title, refusalText(refusal));
}

const NOT_VALID = () =>
  refusalPage(404, 'This link is not valid', {
    code: 'LINK_NOT_VALID',
    message: 'sg-warden does not know this link. Ask for a new one in Slack with /sg-whitelist <target> me.',
  });
const USED = () =>
  refusalPage(410, 'This link has already been used', {
    code: 'LINK_USED',
    message: 'Each link works once. Ask for a new one in Slack with /sg-whitelist <target> me.',
  });
const EXPIRED = () =>
  refusalPage(410, 'This link has expired', {
    code: 'LINK_EXPIRED',
    message: `Links work for ${LINK_LIFETIME_WORDS}. Ask for a new one in Slack with /sg-whitelist <target> me.`,
  });
const INCOMPLETE = () =>
  refusalPage(400, 'The form was incomplete', {
    code: 'FORM_INCOMPLETE',
    message: 'Open the link from Slack again and press Confirm.',
  });

function describeLink(link: LinkItem, deps: Pick<GrantDeps, 'config'>): string {
  const target = targetNamed(deps.config, link.alias);
  const where = target ? ` (${target.groupId}, ${target.region})` : '';
  const access = target ? describeAccess(target.protocol, link.port) : String(link.port ?? '');
  return `<dl><dt>Target</dt><dd>${escapeHtml(link.alias + where)}</dd><dt>Access</dt><dd>${escapeHtml(access)} for ${escapeHtml(formatDuration(link.durationSeconds))}</dd><dt>For</dt><dd>${escapeHtml(link.userName)} (Slack)</dd></dl>`;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The `me` link endpoint. GET shows the address API Gateway sees and a Confirm form, and changes nothing
 * (link previews and mail scanners open links). Only POST, carrying the one-time token in the path and
 * in the form and the address the page showed, uses the link up (once) and asks for the grant — and
 * only from that address; the owner is told in Slack which address was granted.
 */
export async function handleLinkPage(deps: LinkPageDeps, request: LinkPageRequest): Promise<WebResult> {
  const now = deps.clock();
  if (!TOKEN_PATTERN.test(request.token)) return NOT_VALID();
  const address = parseHostAddress(request.sourceIp);

  if (request.method === 'GET') {
    const found = await inspectLink(deps, request.token, now);
    if (found.state === 'unknown') return NOT_VALID();
    if (found.state === 'used') return USED();
    if (found.state === 'expired') return EXPIRED();
    if (!address.ok) {
      return refusalPage(422, 'This address cannot be granted', {
        code: 'BAD_ADDRESS',
        message: `${address.reason} Nothing was granted.`,
      });
    }
    const shown = escapeHtml(address.host.address);
    const body =
      `<p>sg-warden sees you connecting from</p><p class="ip">${shown}</p>` +
      describeLink(found.link, deps) +
      `<form method="post"><input type="hidden" name="token" value="${escapeHtml(request.token)}"><input type="hidden" name="address" value="${shown}"><button type="submit">Confirm: allow ${shown}</button></form>` +
      `<p class="note">Nothing changes until you press Confirm, and only ${shown} can confirm. The link works once, for ${escapeHtml(LINK_LIFETIME_WORDS)}: until ${escapeHtml(plainTime(found.link.expiresAt))}. ${escapeHtml(found.link.userName)} is told in Slack which address was granted. If this is not the address you expected (a VPN or proxy), or you are not ${escapeHtml(found.link.userName)}, do not confirm.</p>`;
    return page(200, 'Confirm your address', body);
  }

  if (request.method !== 'POST') {
    const refused = refusalPage(405, 'Method not allowed', {
      code: 'METHOD_NOT_ALLOWED',
      message: 'Open the link from Slack.',
    });
    return { ...refused, headers: { ...refused.headers, allow: 'GET, POST' } };
  }
  const form = request.form;
  if (!form?.token || !sameToken(form.token, request.token) || !form.address) return INCOMPLETE();
  if (!address.ok) {
    return refusalPage(422, 'This address cannot be granted', {
      code: 'BAD_ADDRESS',
      message: `${address.reason} Nothing was granted.`,
    });
  }
  const result = await consumeLink(
    deps,
    deps.grantNotifier,
    request.token,
    { shownAddress: form.address, sourceAddress: address.host.address },
    now,
  );
  if (result.state === 'unknown') return NOT_VALID();
  if (result.state === 'used') return USED();
  if (result.state === 'expired') return EXPIRED();
  if (result.state === 'elsewhere') return refusalPage(409, 'Your address changed', result.refusal);
  if (result.state === 'refused') {
    const status = result.refusal.code === 'NOT_AUTHORISED' ? 403 : 422;
    return refusalPage(status, 'Nothing was granted', result.refusal);
  }
  const { grant } = result.outcome;
  const title = result.outcome.kind === 'granted' ? 'Access granted' : 'You already had this access';
  return message(
    200,
    title,
    `${describeAccess(grant.protocol, grant.port)} from ${grant.cidr} to ${grant.alias} is allowed until ${plainTime(grant.expiresAt)} (grant ${grant.grantId}). It is removed automatically then. You can close this page.`,
  );
}
