import { readAhead } from '../../../../services/kernel/read-ahead';
import type { ItemKey, StoredItem } from '../../../../services/kernel/state';
import { MemoryStateStore } from '../../../support/memory-store';

class CountingStore extends MemoryStateStore {
  gets: string[] = [];
  batches = 0;
  override async get<T extends StoredItem>(key: ItemKey): Promise<T | null> {
    this.gets.push(key.pk);
    return super.get<T>(key);
  }
  override async getMany<T extends StoredItem>(keys: readonly ItemKey[]): Promise<Map<string, T>> {
    this.batches += 1;
    return super.getMany<T>(keys);
  }
}

const item = (pk: string) => ({ pk, sk: 'X', type: 'x', status: 'A', version: 1, createdAt: 'x' });

describe('readAhead', () => {
  it('answers the keys it read in one batch without a call, found or not, and reads any other key', async () => {
    const store = new CountingStore();
    await store.createAll([item('A#1'), item('A#3')], []);
    const view = await readAhead(store, [
      { pk: 'A#1', sk: 'X' },
      { pk: 'A#2', sk: 'X' },
    ]);
    store.gets = [];
    expect(await view.get({ pk: 'A#1', sk: 'X' })).toMatchObject({ pk: 'A#1' });
    expect(await view.get({ pk: 'A#2', sk: 'X' })).toBeNull();
    expect(await view.get({ pk: 'A#3', sk: 'X' })).toMatchObject({ pk: 'A#3' });
    expect(store.gets).toEqual(['A#3']);
    expect(store.batches).toBe(1);
  });

  it('forgets what it read of an item written through it, so the next read is the item as written', async () => {
    const store = new CountingStore();
    const view = await readAhead(store, [{ pk: 'A#9', sk: 'X' }]);
    expect(await view.get({ pk: 'A#9', sk: 'X' })).toBeNull();
    expect(await view.createAll([item('A#9')], [])).toBe(true);
    expect(await view.get({ pk: 'A#9', sk: 'X' })).toMatchObject({ pk: 'A#9', status: 'A' });
    await view.move({ key: { pk: 'A#9', sk: 'X' }, from: ['A'], to: 'B', due: null, audit: null });
    expect(await view.get({ pk: 'A#9', sk: 'X' })).toMatchObject({ status: 'B', version: 2 });
  });
});
