/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The AWS panel: the account's security groups and rules, and the bot's clock.
import { $, api, el } from './dom';
import { renderMessages } from './messages';
import { renderPlain } from './mrkdwn';
import { page } from './state';

interface Group {
  groupId: string;
  name: string;
  description: string;
  rules: { ruleId: string; protocol: string; ports: string; source: string; description: string }[];
}

export async function refreshAws(): Promise<void> {
  const { groups } = await api<{ groups: Group[] }>('/api/aws');
  const select = $<HTMLSelectElement>('change-group');
  const chosen = select.value;
  select.replaceChildren(
    ...groups.map((g) => el('option', { value: g.groupId }, renderPlain(`${g.name} (${g.groupId})`, false))),
  );
  if (chosen && groups.some((g) => g.groupId === chosen)) select.value = chosen;
  const list = $('groups');
  list.replaceChildren(
    ...groups.map((g) => {
      const box = el('div', { class: 'group', 'data-group-id': g.groupId });
      box.append(el('div', { class: 'group-name' }, renderPlain(`${g.name}`, false)));
      box.append(el('div', { class: 'muted small' }, renderPlain(`${g.groupId} · ${g.description}`, false)));
      const table = el('table');
      if (g.rules.length === 0) table.append(el('tr', {}, '<td class="muted">no inbound rules</td>'));
      for (const r of g.rules) {
        const open = r.source === '0.0.0.0/0' || r.source === '::/0';
        const row = el('tr', {
          class: open && !(r.protocol === 'tcp' && (r.ports === '443' || r.ports === '80')) ? 'open' : '',
          'data-rule-id': r.ruleId,
        });
        row.append(
          el('td', {}, renderPlain(`${r.protocol}/${r.ports}`, false)),
          el('td', {}, renderPlain(r.source, false)),
          el('td', { class: 'muted' }, renderPlain(r.description, false)),
          el('td', { class: 'rule-id' }, renderPlain(r.ruleId, false)),
        );
        table.append(row);
      }
      box.append(table);
      return box;
    }),
  );
}

export function showClock(aheadSeconds: number): void {
  if (aheadSeconds * 1000 !== page.clockAheadMs) {
    page.clockAheadMs = aheadSeconds * 1000;
    renderMessages(true);
  }
  const h = Math.floor(aheadSeconds / 3600);
  const m = Math.round((aheadSeconds % 3600) / 60);
  $('clock-line').textContent =
    aheadSeconds > 0
      ? `The bot's clock runs ${h > 0 ? `${h} h ` : ''}${m} min ahead (the sweeper has run at that time).`
      : "The bot's clock is the real time.";
}
