// Iterated CAD: the first-order score s = w ⊙ ∇J predicts the effect of small edits only (under a one-shot edit of
// ~9 % of the FF weights the held-out J of shapes-tiny rises instead of falling), so erase in rounds: zero a
// little, refit the attribution on the model edited so far, zero a little more.
import type { ModelHandle } from '../diffusion/handle.ts';
import { fitAttribution, type AttributionValue, type GradientHooks } from './attribution.ts';
import { expandToWeights } from './components.ts';
import { weightMaskOverlay } from './masks.ts';
import { buildObjective, type FitPlan } from './plan.ts';
import { selectForErase, type EraseRule, type EraseSelection } from './selection.ts';

export interface RoundResult {
  round: number;
  /** J of the attribution this round selected from (round 1: the given one, fitted on the unedited model). */
  value: number;
  selection: EraseSelection;
}

/**
 * The union of `rounds` selections: round 1 is `first` (the rule applied to `attr`); round r > 1 refits `attr`'s plan
 * (seed + r − 1) on the model edited so far and applies the rule among the components not yet selected.
 */
export async function iteratedSelection(
  model: ModelHandle, attr: AttributionValue, first: EraseSelection, rule: EraseRule, rounds: number,
  hooks: GradientHooks & { onRound?(round: number, result: RoundResult): void } = {},
): Promise<{ selected: Map<string, Uint8Array>; rounds: RoundResult[] }> {
  const plan = attr.provenance.plan as FitPlan | undefined;
  if (rounds > 1 && !plan) throw new Error('iterated erase needs the attribution\'s FitAttribution plan to refit it');
  const shapes = new Map(attr.set.matrices.map((m) => [m.name, m.shape]));
  const union = new Map(attr.set.matrices.map((m) => [m.name, new Uint8Array(m.components)]));
  const results: RoundResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    let current = attr;
    if (round > 1) {
      hooks.throwIfAborted?.();
      const edited = model.withOverlay(weightMaskOverlay(expandToWeights(attr.set, union), shapes, { mode: 'zero' }, `iterated erase, ${round - 1} rounds`));
      try {
        const roundPlan = { ...plan!, seed: plan!.seed + round - 1 };
        const objective = await buildObjective(edited, roundPlan, hooks);
        try {
          current = await fitAttribution(attr.set, objective, edited.weights(), hooks, { plan: roundPlan });
        } finally {
          objective.dispose();
        }
      } finally {
        edited.dispose();
      }
    }
    const selection = round === 1 ? first : selectForErase(attr.set, current.scores, rule, union);
    for (const [name, sel] of selection.selected) {
      const u = union.get(name)!;
      for (let i = 0; i < sel.length; i++) u[i] |= sel[i]!;
    }
    const result = { round, value: current.value, selection };
    results.push(result);
    hooks.onRound?.(round, result);
  }
  return { selected: union, rounds: results };
}
