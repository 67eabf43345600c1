// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { createApp, nextTick } from 'vue';
import DataTable from './DataTable.vue';

const table = {
  columns: ['layer', 'weights_zeroed'],
  rows: [
    { layer: 'mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight', weights_zeroed: 64 },
    { layer: 'up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight', weights_zeroed: 0 },
    { layer: 'down_blocks.1.attentions.0.transformer_blocks.0.ff.net.2.weight', weights_zeroed: 24 },
  ],
};

function mount() {
  const el = document.createElement('div');
  document.body.append(el);
  createApp(DataTable, { table }).mount(el);
  const cells = () => [...el.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
  const header = (i: number) => el.querySelectorAll('th')[i] as HTMLElement;
  return { cells, header };
}

describe('DataTable', () => {
  it('sorts by a clicked header: numbers largest first, again smallest first, a third click restores the order', async () => {
    const { cells, header } = mount();
    expect(cells().map((r) => r[1])).toEqual(['64', '0', '24']);
    header(1).click();
    await nextTick();
    expect(cells().map((r) => r[1])).toEqual(['64', '24', '0']);
    expect(header(1).getAttribute('aria-sort')).toBe('descending');
    header(1).click();
    await nextTick();
    expect(cells().map((r) => r[1])).toEqual(['0', '24', '64']);
    header(1).click();
    await nextTick();
    expect(cells().map((r) => r[1])).toEqual(['64', '0', '24']);
    expect(header(1).getAttribute('aria-sort')).toBe('none');
  });

  it('shows layer names short, text sorted A→Z first', async () => {
    const { cells, header } = mount();
    header(0).click();
    await nextTick();
    expect(cells().map((r) => r[0])).toEqual(['down1.a0.ff.out', 'mid.a0.ff.out', 'up1.a1.ff.in']);
  });
});
