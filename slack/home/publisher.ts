import type { WebClient } from '@slack/web-api';
import type { HomeContent } from '../../services/home/build';
import type { HomePublisher } from '../../services/home/refresh';
import { homeView } from '../blocks/home';

/** Publishes a person's Home tab with views.publish (no scope beyond the bot's own; the Home tab enabled). */
export class SlackHomePublisher implements HomePublisher {
  private readonly client: () => Promise<WebClient>;

  constructor(options: { client: () => Promise<WebClient> }) {
    this.client = options.client;
  }

  async publish(userId: string, content: HomeContent): Promise<{ viewId: string }> {
    const client = await this.client();
    const out = await client.views.publish({ user_id: userId, view: homeView(content) });
    const viewId = out.view?.id;
    if (!viewId) throw new Error('Slack answered views.publish without a view ID');
    return { viewId };
  }
}
