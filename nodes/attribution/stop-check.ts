// The stop check of iterated erasure: how much of the concept an edited model still draws, seen by the judge on
// fresh samples of the attribution's own prompts. Different concepts need different numbers of rounds.
import type { ModelHandle } from '../diffusion/handle.ts';
import { sampleImages } from '../diffusion/api.ts';
import { judgeImages, type Judge } from '../evaluation/judge.ts';
import { attributeOf } from '../world/concepts.ts';
import { CAPTIONS_TEMPLATE, keepPrompts, planPrompts, type FitPlan } from './plan.ts';
import type { RoundCheck } from './rounds.ts';
import type { SceneLabels } from '../world/concepts.ts';

/** Offsets the check's prompt draw and noise from the fit's and the refits' (seed + r − 1) seeds. */
const CHECK_SEED = 0x51ed;

/** The attribute of the plan's concept, or why the judge cannot check it. */
export function checkedAttribute(plan: FitPlan, judge: Judge): string {
  const attribute = attributeOf(plan.concept);
  if (!attribute) throw new Error(`"${plan.concept}" is not a world concept: the judge cannot tell whether it is erased`);
  if (!judge.config.attributes[attribute]?.includes(plan.concept)) throw new Error(`the judge has no class "${plan.concept}" for ${attribute}`);
  return attribute;
}

/** The check's draws of the plan's concept prompts and keep prompts (fixed: rounds are compared on the same prompts and noise). */
function checkDraws(plan: FitPlan, concept: number, keep: number) {
  const seed = plan.seed + CHECK_SEED;
  return {
    concept: concept ? planPrompts({ ...plan, samples: concept, seed }) : { prompts: [], seeds: [] },
    keep: keep ? keepPrompts({ ...plan, samples: keep, seed }) : { prompts: [], seeds: [], labels: [] },
  };
}

/**
 * One batch of check samples, sampled in one call (the plan's DDIM steps, CFG and eta) and judged once: the share of
 * `concept` samples of the plan's prompts the judge labels with the concept, and the share of `keep` samples of its
 * keep prompts (its template with the attribute's other values: "a blue square …" when erasing circle) read as the
 * value the prompt names.
 */
export async function judgedShares(
  model: ModelHandle, plan: FitPlan, judge: Judge, counts: { concept: number; keep: number }, signal?: AbortSignal,
): Promise<{ concept: number; keep: number }> {
  const attribute = checkedAttribute(plan, judge);
  const d = checkDraws(plan, counts.concept, counts.keep);
  const prompts = [...d.concept.prompts, ...d.keep.prompts];
  const images = await sampleImages(model, prompts, [...d.concept.seeds, ...d.keep.seeds], { steps: plan.steps, cfg: plan.cfg, eta: plan.eta }, { signal });
  try {
    const { labels } = await judgeImages(judge, images);
    const n = counts.concept;
    const concept = labels.slice(0, n).filter((l) => l[attribute] === plan.concept).length / Math.max(1, n);
    const keep = labels.slice(n).filter((l, i) => l[attribute] === d.keep.labels[i]?.[attribute as keyof SceneLabels]).length / Math.max(1, counts.keep);
    return { concept, keep };
  } finally {
    images.dispose();
  }
}

/** The share of `count` check samples of the plan's prompts that the judge labels with the plan's concept. */
export async function judgedConceptShare(model: ModelHandle, plan: FitPlan, judge: Judge, count: number, signal?: AbortSignal): Promise<number> {
  return (await judgedShares(model, plan, judge, { concept: count, keep: 0 }, signal)).concept;
}

/** What the edit must not cost: the share of `count` check samples of the plan's keep prompts drawn as the value they name. */
export async function judgedKeepShare(model: ModelHandle, plan: FitPlan, judge: Judge, count: number, signal?: AbortSignal): Promise<number> {
  return (await judgedShares(model, plan, judge, { concept: 0, keep: count }, signal)).keep;
}

export interface CheckOptions {
  /** Erase: stop once at most this share of concept samples shows it (0 = run every round). */
  stopAt: number;
  /** Amplify: stop once at least this share shows it (0 = run every round). */
  recallAt: number;
  stopSamples: number;
  /** Undo a round taking the other values below keepAt × the unedited model's share drawn right (0 = off). */
  keepAt: number;
  keepSamples: number;
  /** DDIM steps of the check samples (the judge reads 10-step samples as it reads 25-step ones: docs/lab-notebook). */
  steps: number;
  /** The checks' prompts: the world's caption templates around the concept, or the fit's own. */
  prompts: 'fit' | 'captions';
}

/**
 * The rounds' check for an erase (stopAt) or amplify (recallAt) plan, with the keep check when keepAt > 0;
 * undefined (logged) where it is off or cannot apply. Its value is what is left to do: the share still showing the
 * concept when erasing, the share not yet showing it when amplifying (so the round with the lowest is kept).
 */
export async function roundCheck(
  model: ModelHandle, fitPlan: FitPlan, o: CheckOptions & { judge: Judge }, hooks: { log(m: string): void; signal?: AbortSignal },
): Promise<RoundCheck | undefined> {
  const plan: FitPlan = { ...fitPlan, steps: o.steps, ...(o.prompts === 'captions' ? { prompts: [], template: CAPTIONS_TEMPLATE } : {}) };
  const amplify = plan.objective === 'amplify';
  if ((amplify ? o.recallAt : o.stopAt) === 0) return undefined;
  try {
    checkedAttribute(plan, o.judge);
  } catch (err) {
    hooks.log(`${amplify ? 'recall' : 'stop'} check off: ${(err as Error).message} (every round runs)`);
    return undefined;
  }
  let keepFloor = 0;
  if (o.keepAt > 0) {
    const t0 = performance.now();
    const unedited = await judgedKeepShare(model, plan, o.judge, o.keepSamples, hooks.signal);
    keepFloor = o.keepAt * unedited;
    hooks.log(`keep check: the unedited model draws ${(100 * unedited).toFixed(1)} % of ${o.keepSamples} other-value samples right; a round that takes it below ${(100 * keepFloor).toFixed(1)} % is undone (${seconds(t0)} s)`);
  }
  // The stop and keep samples of a round: one batch, judged once.
  return async (edited) => {
    const shares = await judgedShares(edited, plan, o.judge, { concept: o.stopSamples, keep: o.keepAt > 0 ? o.keepSamples : 0 }, hooks.signal);
    const shown = shares.concept;
    const check = amplify ? { value: 1 - shown, share: shown, stop: shown >= o.recallAt } : { value: shown, share: shown, stop: shown <= o.stopAt };
    if (o.keepAt === 0) return check;
    return { ...check, keep: shares.keep, spoiled: shares.keep < keepFloor };
  };
}

/** Seconds since `t0` (a performance.now() reading), to one decimal: the phase times the log and report show. */
export const seconds = (t0: number) => +((performance.now() - t0) / 1000).toFixed(1);
