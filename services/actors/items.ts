import type { StoredItem } from '../kernel/state';

/**
 * Asking one alert's author by direct message (key `keys.ask(alertId)`): made once per alert, so a
 * re-delivered event never asks twice. SENDING → ASKED (the DM is out) → NEEDED ("I need it") or REVOKED
 * ("Revoke it now"); FAILED when they could not be asked (no such user, DMs closed, Slack failed).
 */
export interface AskItem extends StoredItem {
  type: 'ask';
  status: 'SENDING' | 'ASKED' | 'FAILED' | 'NEEDED' | 'REVOKED';
  alertId: string;
  /** The Slack user asked (empty when the lookup found nobody). */
  user: string;
  /** How they were found: the principal map, or the principal's e-mail. */
  via: 'map' | 'email';
  /** The direct message, once sent: every answer must come from it. */
  channel?: string;
  ts?: string;
  justification?: string;
  answeredAt?: string;
  error?: string;
  createdAt: string;
}
