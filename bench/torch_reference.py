#!/usr/bin/python3
"""PyTorch CPU reference of cadflow's shapes UNet + text encoder, loading the same model.safetensors.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_reference.py MODEL_DIR [CHECK.safetensors]
CHECK holds cadflow's inputs (x NHWC, t, ids) and its eps; the max abs difference is reported (must be <= 1e-3).
Prints one JSON line of figures (median ms) last. Benchmark only: never a runtime dependency of cadflow.
"""
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, v in header.items():
        if name == '__metadata__':
            continue
        assert v['dtype'] == 'F32', name
        s, e = v['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[base + s:base + e], dtype=np.float32).reshape(v['shape']).copy())
    return out


class Net:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        sc = cfg['scheduler']
        betas = np.linspace(sc['beta_start'], sc['beta_end'], sc['num_train_timesteps'], dtype=np.float64)
        self.alphas_cumprod = np.cumprod(1 - betas)

    def p(self, name):
        return self.w[name]

    def linear(self, name, x, bias=True):
        return F.linear(x, self.p(name + '.weight'), self.p(name + '.bias') if bias else None)

    def conv(self, name, x, stride=1):
        wt = self.p(name + '.weight')
        if wt.shape[-1] == 1:
            return F.conv2d(x, wt, self.p(name + '.bias'))
        if stride == 2:  # TF "SAME": pad 0 before, 1 after
            return F.conv2d(F.pad(x, (0, 1, 0, 1)), wt, self.p(name + '.bias'), stride=2)
        return F.conv2d(x, wt, self.p(name + '.bias'), padding=1)

    def gn(self, name, x, eps):
        return F.group_norm(x, self.cfg['norm_num_groups'], self.p(name + '.weight'), self.p(name + '.bias'), eps)

    def ln(self, name, x, eps=1e-5):
        return F.layer_norm(x, (x.shape[-1],), self.p(name + '.weight'), self.p(name + '.bias'), eps)

    @staticmethod
    def attend(q, k, v, heads):
        n, s, d = q.shape
        dh = d // heads
        split = lambda t: t.reshape(n, t.shape[1], heads, dh).transpose(1, 2)
        a = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(dh), dim=-1) @ split(v)
        return a.transpose(1, 2).reshape(n, s, d)

    def attention(self, name, x, ctx):
        c = x if ctx is None else ctx
        q, k, v = self.linear(name + '.to_q', x, False), self.linear(name + '.to_k', c, False), self.linear(name + '.to_v', c, False)
        return self.linear(name + '.to_out.0', self.attend(q, k, v, self.cfg['num_attention_heads']))

    def ff(self, name, x):
        h, g = self.linear(name + '.net.0.proj', x).chunk(2, dim=-1)
        return self.linear(name + '.net.2', h * F.gelu(g, approximate='tanh'))

    def resnet(self, name, x, temb):
        eps = self.cfg['norm_eps']
        h = self.conv(name + '.conv1', F.silu(self.gn(name + '.norm1', x, eps)))
        h = h + self.linear(name + '.time_emb_proj', F.silu(temb))[:, :, None, None]
        h = self.conv(name + '.conv2', F.silu(self.gn(name + '.norm2', h, eps)))
        skip = self.conv(name + '.conv_shortcut', x) if (name + '.conv_shortcut.weight') in self.w else x
        return skip + h

    def transformer(self, name, x, cond):
        n, c, hh, ww = x.shape
        h = self.gn(name + '.norm', x, 1e-6).permute(0, 2, 3, 1).reshape(n, hh * ww, c)
        h = self.linear(name + '.proj_in', h)
        for k in range(self.cfg['transformer_layers_per_block']):
            b = f'{name}.transformer_blocks.{k}'
            h = h + self.attention(b + '.attn1', self.ln(b + '.norm1', h), None)
            h = h + self.attention(b + '.attn2', self.ln(b + '.norm2', h), cond)
            h = h + self.ff(b + '.ff', self.ln(b + '.norm3', h))
        h = self.linear(name + '.proj_out', h)
        return h.reshape(n, hh, ww, c).permute(0, 3, 1, 2) + x

    def text(self, ids):
        te, pre = self.cfg['text_encoder'], 'text_encoder.text_model'
        h = self.p(pre + '.embeddings.token_embedding.weight')[ids] + self.p(pre + '.embeddings.position_embedding.weight')
        for i in range(te['num_hidden_layers']):
            l = f'{pre}.encoder.layers.{i}'
            x = self.ln(l + '.layer_norm1', h)
            q, k, v = (self.linear(f'{l}.self_attn.{p}_proj', x) for p in 'qkv')
            h = h + self.linear(l + '.self_attn.out_proj', self.attend(q, k, v, te['num_attention_heads']))
            h = h + self.linear(l + '.mlp.fc2', F.gelu(self.linear(l + '.mlp.fc1', self.ln(l + '.layer_norm2', h)), approximate='tanh'))
        return self.ln(pre + '.final_layer_norm', h)

    def unet(self, x_nchw, t, cond):
        cfg, ch = self.cfg, self.cfg['block_out_channels']
        n = x_nchw.shape[0]
        half = ch[0] // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        arg = t[:, None].float() * freqs[None]
        temb = torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)
        temb = self.linear('time_embedding.linear_2', F.silu(self.linear('time_embedding.linear_1', temb)))
        x = x_nchw.reshape(n, 3, 16, 2, 16, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 12, 16, 16)  # (dy, dx, c)
        h = self.conv('conv_in', x)
        skips = [h]
        for i, c in enumerate(ch):
            b = f'down_blocks.{i}'
            h = self.resnet(b + '.resnets.0', h, temb)
            if cfg['down_block_types'][i].startswith('CrossAttn'):
                h = self.transformer(b + '.attentions.0', h, cond)
            skips.append(h)
            if i < len(ch) - 1:
                h = self.conv(b + '.downsamplers.0.conv', h, 2)
                skips.append(h)
        h = self.resnet('mid_block.resnets.0', h, temb)
        h = self.transformer('mid_block.attentions.0', h, cond)
        h = self.resnet('mid_block.resnets.1', h, temb)
        for i in range(len(ch)):
            b = f'up_blocks.{i}'
            for j in range(2):
                h = self.resnet(f'{b}.resnets.{j}', torch.cat([h, skips.pop()], dim=1), temb)
                if cfg['up_block_types'][i].startswith('CrossAttn'):
                    h = self.transformer(f'{b}.attentions.{j}', h, cond)
            if i < len(ch) - 1:
                h = self.conv(b + '.upsamplers.0.conv', F.interpolate(h, scale_factor=2, mode='nearest'))
        h = self.conv('conv_out', F.silu(self.gn('conv_norm_out', h, cfg['norm_eps'])))
        return h.reshape(n, 2, 2, 3, 16, 16).permute(0, 3, 4, 1, 5, 2).reshape(n, 3, 32, 32)

    def eps(self, x_nchw, t, ids):
        out = self.unet(x_nchw, t, self.text(ids))
        if self.cfg['scheduler']['prediction_type'] == 'epsilon':
            return out
        ab = torch.tensor(self.alphas_cumprod[t.numpy()], dtype=torch.float32)[:, None, None, None]
        return ab.sqrt() * out + (1 - ab).sqrt() * x_nchw


def median_ms(f, reps=5):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1000)
    return sorted(ts)[len(ts) // 2]


def main():
    model_dir = sys.argv[1]
    cfg = json.load(open(f'{model_dir}/config.json'))
    w = read_safetensors(f'{model_dir}/model.safetensors')
    net = Net(cfg, w)
    figures = {}
    if len(sys.argv) > 2:
        chk = read_safetensors(sys.argv[2])
        x = chk['x'].permute(0, 3, 1, 2).contiguous()
        t = chk['t'].long()
        ids = chk['ids'].long().reshape(x.shape[0], -1)
        with torch.no_grad():
            eps = net.eps(x, t, ids).permute(0, 2, 3, 1)
        figures['eps_max_abs_diff'] = float((eps - chk['eps']).abs().max())
    L = cfg['tokenizer']['model_max_length']
    for threads in (1, 2):
        torch.set_num_threads(threads)
        x64 = torch.randn(64, 3, 32, 32)
        ids64 = torch.randint(4, len(cfg['tokenizer']['vocab']), (64, L))
        t64 = torch.full((64,), 500)
        with torch.no_grad():
            figures[f'forward_cfg32_ms_{threads}t'] = median_ms(lambda: net.eps(x64, t64, ids64))
        params = [p.requires_grad_() for p in w.values()]

        def fwd_bwd(n):
            x, ids, t = torch.randn(n, 3, 32, 32), torch.randint(4, 20, (n, L)), torch.randint(0, 1000, (n,))
            loss = net.eps(x, t, ids).square().sum()
            for p in params:
                p.grad = None
            loss.backward()
        figures[f'fwd_bwd_b2_ms_{threads}t'] = median_ms(lambda: fwd_bwd(2))
        opt = torch.optim.Adam(params, lr=1e-4)
        figures[f'train_step_b32_ms_{threads}t'] = median_ms(lambda: (fwd_bwd(32), opt.step()))
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    figures['forward_cfg32_ms'] = figures['forward_cfg32_ms_2t']
    figures['fwd_bwd_b2_ms'] = figures['fwd_bwd_b2_ms_2t']
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
