// Renders the world's overview picture: a 6×6 grid of every default shape × colour, backgrounds and styles
// mixed so each row and column shows all of them. Usage: npx tsx nodes/world/docs-grid.ts [out.png] [seed]
import { writeFileAtomic } from '../sdk/files.ts';
import { gridPng } from '../sdk/image.ts';
import { DEFAULT_CONCEPTS, type SceneLabels } from './concepts.ts';
import { IMAGE_SIZE, renderBatch } from './render.ts';

export function overviewScenes(): SceneLabels[] {
  const { shape, colour, background, style } = DEFAULT_CONCEPTS;
  // Styles alternate so that every row, column and background shows both.
  return shape.flatMap((s, i) => colour.map((c, j) => ({
    shape: s, colour: c, background: background[(i + j) % background.length]!, style: style[(i + Math.floor(j / 2) + Math.floor((i + j) / 4)) % style.length]!,
  })));
}

export function overviewPng(seed: number): Uint8Array {
  const labels = overviewScenes();
  const { pixels } = renderBatch(labels.length, seed, { labels });
  return gridPng({ pixels, n: labels.length, height: IMAGE_SIZE, width: IMAGE_SIZE }, { columns: DEFAULT_CONCEPTS.colour.length, scale: 4 });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? 'docs/world.png';
  await writeFileAtomic(out, overviewPng(Number(process.argv[3] ?? 2026)));
  console.log(`wrote ${out}`);
}
