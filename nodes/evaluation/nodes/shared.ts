// Pieces the evaluation nodes share: the judge / CLIP loaders, and the world labels an IMAGES value carries.
import type { ImagesValue, PromptsValue } from '../../sdk/index.ts';
import { parsePrompt } from '../../world/captions.ts';

// The judge and CLIP loaders live in the library (judge.ts, clip.ts) so other packs can use them too.
export { judgeFor } from '../judge.ts';
export { clipFor } from '../clip.ts';

/**
 * The world labels of each image: the IMAGES value's own, else the PROMPTS input's, else what its prompts name
 * (parsePrompt). An image without any named attribute gets undefined.
 */
export function worldLabels(images: ImagesValue, prompts?: PromptsValue): (Record<string, string> | undefined)[] {
  const n = images.images.shape[0];
  return Array.from({ length: n }, (_, i) => {
    const l = images.labels?.[i] ?? prompts?.labels?.[i];
    if (l && Object.keys(l).length) return l;
    const text = images.prompts?.[i] ?? prompts?.prompts[i];
    const parsed = text ? (parsePrompt(text) as Record<string, string>) : {};
    return Object.keys(parsed).length ? parsed : undefined;
  });
}
