import { createHash, timingSafeEqual } from 'node:crypto';
import type { KnownBlock } from '@slack/types';
import { parseHostAddress } from '../services/grants/address';
import { describeAccess, type GrantDeps } from '../services/grants/grants';
import type { IpLinkItem } from '../services/grants/items';
import { consumeLink, inspectLink, TOKEN_PATTERN } from '../services/grants/links';
import { formatDuration } from '../services/shared/duration';
import { describeError, SgWardenError } from '../services/shared/errors';
import { grantOutcomeMessage, plainTime } from './blocks/grant';
import { textMessage } from './blocks/kit';
import type { SlackDeps } from './deps';
import { SlackGrantNotifier } from './grant-notifier';
import { escapeHtml } from './html';
import { escapeMrkdwn } from './mrkdwn';
import type { HttpResult } from './request-guard';

/** One request to the `me` link endpoint, as the handler decoded it. */
export interface IpCaptureRequest {
  method: string;
  /** The token from the path (/ip/{token}). */
  token: string;
  /** The token from the form (POST only). */
  formToken: string | null;
  /** The address API Gateway saw. */
  sourceIp: string;
}

const STYLE =
  'body{font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1c1d;line-height:1.5}' +
  'h1{font-size:1.4rem}.ip{font-family:ui-monospace,monospace;font-size:1.6rem;background:#f4f4f4;padding:.2rem .5rem;border-radius:4px}' +
  'button{font-size:1rem;padding:.6rem 1.4rem;background:#007a5a;color:#fff;border:0;border-radius:4px;cursor:pointer}' +
  '.note{color:#616061;font-size:.9rem}dt{font-weight:600}dd{margin:0 0 .5rem 0}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** No scripts, no external anything; the form may only post back here; never framed. */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

const HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function page(
  statusCode: number,
  title: string,
  body: string,
  extraHeaders: Record<string, string> = {},
): HttpResult {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex,nofollow"><title>${escapeHtml(title)} · sg-warden</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return { statusCode, headers: { ...HEADERS, ...extraHeaders }, body: html };
}

function message(statusCode: number, title: string, sentence: string): HttpResult {
  return page(statusCode, title, `<p>${escapeHtml(sentence)}</p>`);
}

const NOT_VALID = () =>
  message(
    404,
    'This link is not valid',
    'sg-warden does not know this link. Ask for a new one in Slack with /sg-whitelist <target> me.',
  );
const USED = () =>
  message(
    410,
    'This link has already been used',
    'Each link works once. Ask for a new one in Slack with /sg-whitelist <target> me.',
  );
const EXPIRED = () =>
  message(
    410,
    'This link has expired',
    'Links work for 5 minutes. Ask for a new one in Slack with /sg-whitelist <target> me.',
  );

function describeLink(link: IpLinkItem, deps: Pick<GrantDeps, 'config'>): string {
  const target = deps.config.whitelist.targets[link.alias];
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
 * in the form, uses the link up (once) and asks for the grant; the result is also told in Slack.
 */
export async function handleIpCapture(deps: SlackDeps, request: IpCaptureRequest): Promise<HttpResult> {
  const now = deps.clock();
  if (!TOKEN_PATTERN.test(request.token)) return NOT_VALID();
  const address = parseHostAddress(request.sourceIp);

  if (request.method === 'GET') {
    const found = await inspectLink(deps, request.token, now);
    if (found.state === 'unknown') return NOT_VALID();
    if (found.state === 'used') return USED();
    if (found.state === 'expired') return EXPIRED();
    if (!address.ok) {
      return message(422, 'This address cannot be granted', `${address.reason} Nothing was granted.`);
    }
    const body =
      `<p>sg-warden sees you connecting from</p><p class="ip">${escapeHtml(address.host.address)}</p>` +
      describeLink(found.link, deps) +
      `<form method="post"><input type="hidden" name="token" value="${escapeHtml(request.token)}"><button type="submit">Confirm: allow ${escapeHtml(address.host.address)}</button></form>` +
      `<p class="note">Nothing changes until you press Confirm. The link works once and expires at ${escapeHtml(plainTime(found.link.expiresAt))}. If this is not the address you expected (a VPN or proxy), do not confirm.</p>`;
    return page(200, 'Confirm your address', body);
  }

  if (request.method !== 'POST') {
    return {
      ...message(405, 'Method not allowed', 'Open the link from Slack.'),
      headers: { ...HEADERS, allow: 'GET, POST' },
    };
  }
  if (request.formToken === null || !sameToken(request.formToken, request.token)) {
    return message(400, 'The form was incomplete', 'Open the link from Slack again and press Confirm.');
  }
  if (!address.ok) {
    return message(422, 'This address cannot be granted', `${address.reason} Nothing was granted.`);
  }
  const result = await consumeLink(deps, request.token, address.host.address, now);
  if (result.state === 'unknown') return NOT_VALID();
  if (result.state === 'used') return USED();
  if (result.state === 'expired') return EXPIRED();
  const { link } = result;
  const notifier = new SlackGrantNotifier({
    client: deps.slack,
    config: deps.config,
    clock: deps.clock,
    logger: deps.logger,
  });
  const tell = async (text: string, blocks: KnownBlock[] = textMessage(text).blocks) => {
    try {
      await notifier.privately(link.userId, link.channel, { text, blocks });
    } catch (error) {
      deps.logger.warn({ grantId: link.grantId, err: describeError(error) }, 'link result not told in Slack');
    }
  };
  if (result.state === 'refused') {
    const sentence = `${result.error.message} (${result.error.code})`;
    await tell(`:warning: ${escapeMrkdwn(sentence)}`);
    const status =
      result.error instanceof SgWardenError && result.error.code === 'NOT_AUTHORISED' ? 403 : 422;
    return message(status, 'Nothing was granted', sentence);
  }
  const slackMessage = grantOutcomeMessage(result.outcome);
  await tell(slackMessage.text, slackMessage.blocks);
  const { grant } = result.outcome;
  const title = result.outcome.kind === 'granted' ? 'Access granted' : 'You already had this access';
  return message(
    200,
    title,
    `${describeAccess(grant.protocol, grant.port)} from ${grant.cidr} to ${grant.alias} is allowed until ${plainTime(grant.expiresAt)} (grant ${grant.grantId}). It is removed automatically then. You can close this page.`,
  );
}
