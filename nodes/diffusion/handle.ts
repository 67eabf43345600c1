// The MODEL socket value: a handle on shared, never-edited base weights plus an ordered list of overlays
// (edits such as Erase masks). Handles are cheap: withOverlay returns a new handle over the same base.
import type * as tfType from '@tensorflow/tfjs';

/** An edit over some weights: masks, scalings. Removable and composable (applied in list order). */
export interface WeightOverlay {
  /** Content hash of what the overlay does; part of every cache signature downstream. */
  readonly id: string;
  /** Human-readable, e.g. "CAD erase 'circle' (per-row, ρ=0.05): 1,234 weights zeroed". */
  readonly label: string;
  /** Parameter names this overlay changes. */
  readonly params: readonly string[];
  /** The edited weight from the current one. Runs inside tf.tidy; must not dispose `w`. */
  apply(name: string, w: tfType.Tensor): tfType.Tensor;
  /** Frees tensors the overlay owns (masks). */
  dispose?(): void;
}

export interface ModelHandle {
  /** Bundled name (e.g. 'shapes-tiny') or the folder it was loaded from. */
  readonly name: string;
  /** Parsed config.json (diffusers-style UNet config + text encoder + scheduler + cadflow fields). */
  readonly config: Record<string, unknown>;
  /** sha256 of model.safetensors. */
  readonly weightsHash: string;
  readonly overlays: readonly WeightOverlay[];
  /** weightsHash plus the overlay ids, in order: what a cache signature of anything computed from it needs. */
  readonly key: string;
  paramNames(): string[];
  paramShape(name: string): number[];
  /** A base (unedited) weight. Owned by the shared store: never dispose it. */
  base(name: string): tfType.Tensor;
  /** Effective weights (overlays applied), memoised per handle and owned by it. */
  weights(): ReadonlyMap<string, tfType.Tensor>;
  withOverlay(overlay: WeightOverlay): ModelHandle;
  withoutOverlay(id: string): ModelHandle;
  /** Frees this handle's memoised effective weights; never the shared base weights. */
  dispose(): void;
}
