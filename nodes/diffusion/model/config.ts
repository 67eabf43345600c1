// The model's config.json: a diffusers-style UNet2DConditionModel config at the top level, plus the text
// encoder, tokenizer vocabulary, scheduler and cadflow-specific fields, so a model folder is self-contained.
import type { SchedulerConfig } from '../scheduler.ts';

export interface TextEncoderConfig {
  _class_name: 'CLIPTextModel';
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  hidden_act: 'gelu_tanh';
  layer_norm_eps: number;
}

export interface TokenizerConfig {
  /** Token strings by id; ids 0–3 are <pad>, <bos>, <eos>, <unk>. */
  vocab: string[];
  model_max_length: number;
}

export interface ModelConfig {
  _class_name: 'UNet2DConditionModel';
  sample_size: number;
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  mid_block_type: 'UNetMidBlock2DCrossAttn';
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  transformer_layers_per_block: number;
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number;
  num_attention_heads: number;
  use_linear_projection: true;
  act_fn: 'silu';
  flip_sin_to_cos: true;
  freq_shift: 0;
  text_encoder: TextEncoderConfig;
  tokenizer: TokenizerConfig;
  scheduler: SchedulerConfig;
  cadflow: {
    format_version: 1;
    /** RGB images of this size; the UNet runs on their 2×2 pixel-unshuffle (space-to-depth). */
    image_size: number;
    image_channels: number;
    pixel_unshuffle: 2;
    /** Images in [0,1] enter the model as 2·x − 1. */
    model_range: [-1, 1];
    /** GEGLU/MLP activation: GELU with the tanh approximation. */
    gelu: 'tanh';
    /** Stride-2 convs pad like TF "SAME" (0 before, 1 after), not PyTorch's padding=1. */
    downsample_padding: 'same_tf';
    /** Parameter-name prefix of the text encoder inside model.safetensors (UNet names are unprefixed). */
    text_encoder_prefix: 'text_encoder.';
  };
}

export interface ArchitectureOptions {
  blockOutChannels: number[];
  /** Which levels (0 = finest) carry cross-attention transformer blocks. */
  attentionLevels: boolean[];
  normGroups: number;
  heads: number;
  textWidth: number;
  textLayers: number;
  maxLength: number;
  vocab: string[];
  scheduler: SchedulerConfig;
}

/** Builds a config.json; down/up block types follow from where attention is. */
export function makeConfig(o: ArchitectureOptions): ModelConfig {
  const n = o.blockOutChannels.length;
  if (o.attentionLevels.length !== n) throw new Error('makeConfig: attentionLevels must match blockOutChannels');
  return {
    _class_name: 'UNet2DConditionModel',
    sample_size: 16,
    in_channels: 12,
    out_channels: 12,
    down_block_types: o.attentionLevels.map((a) => (a ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    up_block_types: [...o.attentionLevels].reverse().map((a) => (a ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    block_out_channels: o.blockOutChannels,
    layers_per_block: 1,
    transformer_layers_per_block: 1,
    norm_num_groups: o.normGroups,
    norm_eps: 1e-5,
    cross_attention_dim: o.textWidth,
    num_attention_heads: o.heads,
    use_linear_projection: true,
    act_fn: 'silu',
    flip_sin_to_cos: true,
    freq_shift: 0,
    text_encoder: {
      _class_name: 'CLIPTextModel',
      hidden_size: o.textWidth,
      num_hidden_layers: o.textLayers,
      num_attention_heads: 1,
      intermediate_size: 4 * o.textWidth,
      max_position_embeddings: o.maxLength,
      hidden_act: 'gelu_tanh',
      layer_norm_eps: 1e-5,
    },
    tokenizer: { vocab: o.vocab, model_max_length: o.maxLength },
    scheduler: o.scheduler,
    cadflow: {
      format_version: 1,
      image_size: 32,
      image_channels: 3,
      pixel_unshuffle: 2,
      model_range: [-1, 1],
      gelu: 'tanh',
      downsample_padding: 'same_tf',
      text_encoder_prefix: 'text_encoder.',
    },
  };
}

/** Checks a parsed config.json for the fields this implementation needs; throws naming the first bad one. */
export function validateConfig(raw: unknown): ModelConfig {
  const c = raw as Partial<ModelConfig>;
  const need = (ok: boolean, field: string) => {
    if (!ok) throw new Error(`config.json: missing or invalid "${field}"`);
  };
  need(typeof c === 'object' && c !== null, '(root)');
  need(c._class_name === 'UNet2DConditionModel', '_class_name');
  need(Array.isArray(c.block_out_channels) && c.block_out_channels.length >= 2, 'block_out_channels');
  need(Array.isArray(c.down_block_types) && c.down_block_types.length === c.block_out_channels!.length, 'down_block_types');
  need(Array.isArray(c.up_block_types) && c.up_block_types.length === c.block_out_channels!.length, 'up_block_types');
  need(c.layers_per_block === 1, 'layers_per_block');
  need(typeof c.norm_num_groups === 'number', 'norm_num_groups');
  need(typeof c.cross_attention_dim === 'number', 'cross_attention_dim');
  need(typeof c.text_encoder?.hidden_size === 'number', 'text_encoder.hidden_size');
  need(Array.isArray(c.tokenizer?.vocab) && c.tokenizer!.vocab.length > 4, 'tokenizer.vocab');
  need(typeof c.scheduler?.num_train_timesteps === 'number', 'scheduler.num_train_timesteps');
  need(c.scheduler?.prediction_type === 'epsilon' || c.scheduler?.prediction_type === 'v_prediction', 'scheduler.prediction_type');
  need(c.cadflow?.format_version === 1, 'cadflow.format_version');
  return c as ModelConfig;
}
