// Pieces the evaluation nodes share: loading the bundled judge / CLIP with clear param errors, recording their
// hashes, and the world labels an IMAGES value carries.
import { NodeParamError, type ImagesValue, type NodeContext, type PromptsValue } from '../../sdk/index.ts';
import { parsePrompt } from '../../world/captions.ts';
import { loadClip, type Clip } from '../clip.ts';
import { loadJudge, type Judge } from '../judge.ts';

export async function judgeFor(ctx: NodeContext, param: string, nameOrDir: string): Promise<Judge> {
  try {
    const judge = await loadJudge(nameOrDir, ctx.dirs.models);
    ctx.record({ hashes: { [`judge:${nameOrDir}`]: judge.sha256 } });
    return judge;
  } catch (err) {
    throw new NodeParamError(param, `cannot load judge "${nameOrDir}": ${(err as Error).message}`);
  }
}

export async function clipFor(ctx: NodeContext, param: string, nameOrDir: string): Promise<Clip> {
  try {
    const clip = await loadClip(nameOrDir, ctx.dirs.models);
    ctx.record({ hashes: { [`clip:${nameOrDir}`]: clip.sha256 } });
    return clip;
  } catch (err) {
    throw new NodeParamError(param, `cannot load shapes-CLIP "${nameOrDir}": ${(err as Error).message}`);
  }
}

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
