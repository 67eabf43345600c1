// The stop check of iterated erasure: how much of the concept an edited model still draws, seen by the judge on
// fresh samples of the attribution's own prompts. Different concepts need different numbers of rounds.
import type { ModelHandle } from '../diffusion/handle.ts';
import { sampleImages } from '../diffusion/api.ts';
import { judgeImages, type Judge } from '../evaluation/judge.ts';
import { attributeOf } from '../world/concepts.ts';
import { planPrompts, type FitPlan } from './plan.ts';

/** Offsets the check's prompt draw and noise from the fit's and the refits' (seed + r − 1) seeds. */
const CHECK_SEED = 0x51ed;

/** The attribute of the plan's concept, or why the judge cannot check it. */
export function checkedAttribute(plan: FitPlan, judge: Judge): string {
  const attribute = attributeOf(plan.concept);
  if (!attribute) throw new Error(`"${plan.concept}" is not a world concept: the judge cannot tell whether it is erased`);
  if (!judge.config.attributes[attribute]?.includes(plan.concept)) throw new Error(`the judge has no class "${plan.concept}" for ${attribute}`);
  return attribute;
}

/**
 * The share of `count` samples of the plan's prompts (a draw of its own, the same every call: rounds are compared on
 * the same prompts and noise) that the judge labels with the plan's concept.
 */
export async function judgedConceptShare(model: ModelHandle, plan: FitPlan, judge: Judge, count: number, signal?: AbortSignal): Promise<number> {
  const attribute = checkedAttribute(plan, judge);
  const { prompts, seeds } = planPrompts({ ...plan, samples: count, seed: plan.seed + CHECK_SEED });
  const images = await sampleImages(model, prompts, seeds, { steps: plan.steps, cfg: plan.cfg, eta: plan.eta }, { signal });
  try {
    const { labels } = await judgeImages(judge, images);
    return labels.filter((l) => l[attribute] === plan.concept).length / count;
  } finally {
    images.dispose();
  }
}
