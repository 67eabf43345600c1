// Pixel-space UNet2DConditionModel (diffusers names). Images [N,32,32,3] are pixel-unshuffled to [N,16,16,12];
// levels follow block_out_channels (e.g. 16×16 / 8×8 / 4×4); Transformer2D blocks (self-attn, cross-attn,
// GEGLU FF) sit in the CrossAttn blocks and the mid block; the output is shuffled back to [N,32,32,3].
import { tf } from '../../sdk/runtime.ts';
import type { Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { addPerSampleChannels, pixelShuffle2, pixelUnshuffle2, silu, upsampleNearest2 } from '../ops/index.ts';
import type { ModelConfig } from './config.ts';
import { attention, conv, feedForward, gnorm, linear, lnorm } from './layers.ts';
import { emit } from './observers.ts';
import type { ParamSource } from './params.ts';

/** diffusers Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0): [cos(t·f), sin(t·f)], f = 10000^(−i/half). */
export function timestepFeatures(ts: ArrayLike<number>, dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(ts.length * dim);
  for (let n = 0; n < ts.length; n++) {
    for (let i = 0; i < half; i++) {
      const arg = ts[n] * Math.exp((-Math.log(10000) * i) / half);
      out[n * dim + i] = Math.cos(arg);
      out[n * dim + half + i] = Math.sin(arg);
    }
  }
  return out;
}

interface Ctx {
  p: ParamSource;
  cfg: ModelConfig;
  temb: Tensor2D;
  tembDim: number;
  cond: Tensor3D;
}

// Each block runs in its own tidy: a forward pass then holds one block's intermediates at a time, not the whole
// UNet's (a 32-row forward on shapes-tiny peaked at 149 MB of wasm heap). Under a gradient tape nothing changes:
// the tape keeps what backprop needs.
function resnet(c: Ctx, name: string, x: Tensor4D, inCh: number, outCh: number): Tensor4D {
  return tf.tidy(() => emit(name, 'output', resnetBlock(c, name, x, inCh, outCh)));
}

function resnetBlock(c: Ctx, name: string, x: Tensor4D, inCh: number, outCh: number): Tensor4D {
  const { groups, eps } = { groups: c.cfg.norm_num_groups, eps: c.cfg.norm_eps };
  let h = conv(c.p, `${name}.conv1`, silu(gnorm(c.p, `${name}.norm1`, x, groups, eps)) as Tensor4D, inCh, outCh, 3);
  const t = linear(c.p, `${name}.time_emb_proj`, silu(c.temb), c.tembDim, outCh);
  h = addPerSampleChannels(h, t as Tensor2D);
  h = conv(c.p, `${name}.conv2`, silu(gnorm(c.p, `${name}.norm2`, h, groups, eps)) as Tensor4D, outCh, outCh, 3);
  const skip = inCh === outCh ? x : conv(c.p, `${name}.conv_shortcut`, x, inCh, outCh, 1);
  return tf.add(skip, h);
}

/** Transformer2DModel with use_linear_projection (norm → proj_in → blocks → proj_out, residual). */
function transformer2d(c: Ctx, name: string, x: Tensor4D, ch: number): Tensor4D {
  return tf.tidy(() => emit(name, 'output', transformerBlock(c, name, x, ch)));
}

function transformerBlock(c: Ctx, name: string, x: Tensor4D, ch: number): Tensor4D {
  const [n, hgt, wid] = x.shape;
  const heads = c.cfg.num_attention_heads;
  const ctxDim = c.cfg.cross_attention_dim;
  let h = tf.reshape(gnorm(c.p, `${name}.norm`, x, c.cfg.norm_num_groups, 1e-6), [n, hgt * wid, ch]) as Tensor3D;
  h = linear(c.p, `${name}.proj_in`, h, ch, ch) as Tensor3D;
  for (let k = 0; k < c.cfg.transformer_layers_per_block; k++) {
    const b = `${name}.transformer_blocks.${k}`;
    h = tf.add(h, attention(c.p, `${b}.attn1`, lnorm(c.p, `${b}.norm1`, h, 1e-5) as Tensor3D, null, ch, ctxDim, heads, [hgt, wid]));
    h = tf.add(h, attention(c.p, `${b}.attn2`, lnorm(c.p, `${b}.norm2`, h, 1e-5) as Tensor3D, c.cond, ch, ctxDim, heads, [hgt, wid]));
    h = tf.add(h, feedForward(c.p, `${b}.ff`, lnorm(c.p, `${b}.norm3`, h, 1e-5), ch));
  }
  h = linear(c.p, `${name}.proj_out`, h, ch, ch) as Tensor3D;
  return tf.add(tf.reshape(h, [n, hgt, wid, ch]), x);
}

/**
 * The UNet's raw output (ε or v per scheduler.prediction_type) for x_t [N,32,32,3] in model range, timesteps
 * ts (length N) and text states cond [N, L, cross_attention_dim].
 */
export function unetForward(p: ParamSource, cfg: ModelConfig, xt: Tensor4D, ts: ArrayLike<number>, cond: Tensor3D): Tensor4D {
  return tf.tidy(() => {
    const chans = cfg.block_out_channels;
    const n = xt.shape[0];
    if (ts.length !== n) throw new Error(`unet: ${ts.length} timesteps for a batch of ${n}`);
    if (cond.shape[0] !== n) throw new Error(`unet: text states for ${cond.shape[0]} prompts but a batch of ${n}`);
    const tDim = chans[0];
    const tembDim = 4 * tDim;
    let temb = linear(p, 'time_embedding.linear_1', tf.tensor2d(timestepFeatures(ts, tDim), [n, tDim]), tDim, tembDim);
    temb = linear(p, 'time_embedding.linear_2', silu(temb), tembDim, tembDim);
    const c: Ctx = { p, cfg, temb: temb as Tensor2D, tembDim, cond };
    const crossAttn = (type: string) => type.startsWith('CrossAttn');

    let h = conv(p, 'conv_in', pixelUnshuffle2(xt), cfg.in_channels, chans[0], 3);
    const skips: Tensor4D[] = [h];
    chans.forEach((ch, i) => {
      const inCh = i === 0 ? chans[0] : chans[i - 1];
      const b = `down_blocks.${i}`;
      h = resnet(c, `${b}.resnets.0`, h, inCh, ch);
      if (crossAttn(cfg.down_block_types[i])) h = transformer2d(c, `${b}.attentions.0`, h, ch);
      skips.push(h);
      if (i < chans.length - 1) {
        h = conv(p, `${b}.downsamplers.0.conv`, h, ch, ch, 3, 2);
        skips.push(h);
      }
    });

    const top = chans[chans.length - 1];
    h = resnet(c, 'mid_block.resnets.0', h, top, top);
    h = transformer2d(c, 'mid_block.attentions.0', h, top);
    h = resnet(c, 'mid_block.resnets.1', h, top, top);

    const rev = [...chans].reverse();
    rev.forEach((ch, i) => {
      const b = `up_blocks.${i}`;
      const prevOut = i === 0 ? rev[0] : rev[i - 1];
      for (let j = 0; j < 2; j++) {
        const skip = skips.pop()!;
        const inCh = (j === 0 ? prevOut : ch) + skip.shape[3];
        h = resnet(c, `${b}.resnets.${j}`, tf.concat([h, skip], 3), inCh, ch);
        if (crossAttn(cfg.up_block_types[i])) h = transformer2d(c, `${b}.attentions.${j}`, h, ch);
      }
      if (i < rev.length - 1) h = conv(p, `${b}.upsamplers.0.conv`, upsampleNearest2(h), ch, ch, 3);
    });
    if (skips.length !== 0) throw new Error('unet: skip connections left over (config mismatch)');

    h = silu(gnorm(p, 'conv_norm_out', h, cfg.norm_num_groups, cfg.norm_eps)) as Tensor4D;
    return pixelShuffle2(conv(p, 'conv_out', h, chans[0], cfg.out_channels, 3));
  });
}

